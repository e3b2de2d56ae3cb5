"""How long ``byline add one.txt``, ``byline ask --json`` and ``byline claims --json`` take
as a script sees them:
in process (each call loads its models) and through a running ``byline serve`` of the
same archive, in the same run.

Usage: ``python bench/cli_latency.py [--repeat 3] [--port 7997]``

Builds a temporary archive of the sample corpus, times ``byline --help``, then each
command ``--repeat`` times with ``--no-server``, then starts ``byline serve`` on the
archive, waits until it is warm, and times the same commands through it (a new article
each time, so every add embeds), plus ``list`` and a question the server answers without
reading (one not in English): the command's own work. Prints the median wall time of
each and the ratio, and
stops the server with Ctrl-C (SIGINT), checking that its advertisement is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpus" / "sample" / "articles.jsonl"
QUESTION = "Who is the finance director of Northfield?"
CLAIMS_QUERY = "cost of the port strike"


def byline() -> list[str]:
    """The ``byline`` console script beside this Python, else ``python -m cli``."""
    script = Path(sys.executable).with_name("byline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one command, and its result (exits the benchmark if it failed)."""
    t0 = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, done


def story(folder: Path, n: int) -> Path:
    """A new one-article .txt file (another article each time)."""
    path = folder / f"story-{n}.txt"
    path.write_text(f"Harbour Ferry Adds Evening Crossing {n}\n\nThe harbour ferry will add an evening crossing "
                    f"from route {n} next month, said operations manager Dana Whitlock, after a survey of "
                    "commuters found that most of them leave work after six.\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=7997)
    parser.add_argument("--startup-timeout", type=float, default=600)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    tmp = Path(tempfile.mkdtemp(prefix="byline-cli-bench-"))
    data_dir = tmp / "data"
    base = [*byline(), "--data-dir", str(data_dir)]
    figures: dict[str, list[float]] = {}
    server = None
    try:
        timed([*base, "add", str(SAMPLE)], env)
        figures["help"] = [timed([*byline(), "--help"], env)[0] for _ in range(args.repeat)]
        n = 0
        for _ in range(args.repeat):
            n += 1
            figures.setdefault("add in process", []).append(timed([*base, "--no-server", "add", str(story(tmp, n))], env)[0])
            figures.setdefault("ask in process", []).append(
                timed([*base, "--no-server", "ask", "--json", QUESTION], env)[0])
            figures.setdefault("claims in process", []).append(
                timed([*base, "--no-server", "claims", "--json", CLAIMS_QUERY], env)[0])
        log = (tmp / "serve.log").open("w")
        server = subprocess.Popen([*base, "serve", "--port", str(args.port), "--no-sample"], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        advert = data_dir / "server.json"
        deadline = time.monotonic() + args.startup_timeout
        import httpx

        while True:
            if server.poll() is not None:
                sys.exit(f"byline serve exited ({server.returncode}):\n{(tmp / 'serve.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                sys.exit("byline serve did not become ready in time")
            if advert.exists():
                try:
                    if httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=2).json().get("ready"):
                        break
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        for _ in range(args.repeat):
            n += 1
            seconds, done = timed([*base, "add", str(story(tmp, n))], env)
            if "through the server" not in done.stderr:
                sys.exit(f"add did not go through the server: {done.stderr}")
            figures.setdefault("add through server", []).append(seconds)
            seconds, done = timed([*base, "ask", "--json", QUESTION], env)
            figures.setdefault("ask through server", []).append(seconds)
            figures.setdefault("claims through server", []).append(
                timed([*base, "claims", "--json", CLAIMS_QUERY], env)[0])
            # the command's own work: a reply the server gives without reading
            figures.setdefault("list through server", []).append(timed([*base, "list"], env)[0])
            figures.setdefault("ask, no reading", []).append(
                timed([*base, "ask", "--json", "Wer ist der Finanzdirektor?"], env)[0])
        answer = json.loads(done.stdout)
        server.send_signal(signal.SIGINT)
        server.wait(60)
        if advert.exists():
            sys.exit("the server's advertisement was not removed at shutdown")
        server = None
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"byline CLI wall times, median of {args.repeat} (s), {os.cpu_count()} CPUs:")
    for name, value in medians.items():
        print(f"  {name:<20} {value:6.2f}   ({', '.join(f'{v:.2f}' for v in figures[name])})")
    for command in ("add", "ask", "claims"):
        ratio = medians[f"{command} in process"] / medians[f"{command} through server"]
        print(f"  {command}: through the server {ratio:.1f}x faster")
    print(f"  (answer through the server: {answer['status']}, {answer['answer']!r})")


if __name__ == "__main__":
    main()
