"""Load test of ``/api/ask`` on loopback only, bounded in time and requests.

Usage: ``python bench/load.py [--seconds 60] [--clients 8] [--max-requests 20000]
[--articles ../shared/data/dev/articles.jsonl] [--questions ../shared/data/dev/questions.jsonl]``

Builds an index of the dev articles once into ``bench/.cache/load-index`` (git-ignored;
reused while the articles file is unchanged), starts the real server (``app.serve``,
uvicorn) in a subprocess on a free 127.0.0.1 port, and runs ``--clients`` threads that
POST the dev questions to ``/api/ask`` for ``--seconds`` seconds (or until
``--max-requests``). Every answer's citations are checked against the article text.
Prints requests/s and p50/p95/max latency; exits 1 on any error or wrong citation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
SHARED = ROOT.parent / "shared" / "data" / "dev"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_index(articles: Path) -> Path:
    """The dev index in bench/.cache (rebuilt only when the articles file changed)."""
    digest = hashlib.sha256(articles.read_bytes()).hexdigest()[:16]
    data_dir = CACHE / "load-index"
    stamp = data_dir / ".source"
    if stamp.exists() and stamp.read_text() == digest:
        return data_dir
    print(f"building the index of {articles} in {data_dir} (once)...", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if data_dir.exists():
        for p in data_dir.iterdir():
            p.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "cli", "--data-dir", str(data_dir), "add", str(articles)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"building the index failed:\n{done.stderr[-3000:]}")
    stamp.write_text(digest)
    return data_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--articles", type=Path, default=SHARED / "articles.jsonl")
    parser.add_argument("--questions", type=Path, default=SHARED / "questions.jsonl")
    parser.add_argument("--timeout", type=float, default=120.0, help="Per request, seconds.")
    args = parser.parse_args()
    if not args.articles.exists():
        sys.exit(f"{args.articles} not found")
    import httpx

    data_dir = build_index(args.articles)
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()] if args.questions.exists() else ["Who is the mayor?"]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    code = ("import app, os\nfrom config.settings import load_settings\n"
            "app.serve(load_settings(data_dir=os.environ['LOAD_DATA_DIR']), host='127.0.0.1', "
            "port=int(os.environ['LOAD_PORT']), build_sample=False)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               LOAD_DATA_DIR=str(data_dir), LOAD_PORT=str(port))
    log_path = CACHE / "load-server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited ({server.returncode}); see {log_path}")
            try:
                if httpx.get(base + "/healthz", timeout=2).json().get("ready"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.time() > deadline:
                sys.exit(f"the server was not ready after 300 s; see {log_path}")
            time.sleep(0.5)
        texts: dict[str, str] = {}
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []
        bad_citations: list[str] = []
        issued = 0
        stop_at = time.monotonic() + args.seconds

        def text_of(http: httpx.Client, article_id: str) -> str:
            with lock:
                if article_id in texts:
                    return texts[article_id]
            text = http.get(f"/api/articles/{article_id}").json()["text"]
            with lock:
                texts[article_id] = text
            return text

        def client(seed: int) -> None:
            nonlocal issued
            rng = random.Random(seed)
            with httpx.Client(base_url=base, timeout=args.timeout) as http:
                while time.monotonic() < stop_at:
                    with lock:
                        if issued >= args.max_requests:
                            return
                        issued += 1
                    t0 = time.perf_counter()
                    try:
                        r = http.post("/api/ask", json={"question": rng.choice(questions)})
                        elapsed = time.perf_counter() - t0
                        if r.status_code != 200:
                            with lock:
                                errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                            continue
                        body = r.json()
                    except (httpx.HTTPError, ValueError) as exc:
                        with lock:
                            errors.append(repr(exc))
                        continue
                    with lock:
                        latencies.append(elapsed)
                    for c in body["citations"]:
                        if text_of(http, c["article_id"])[c["start"]:c["end"]] != c["quote"]:
                            with lock:
                                bad_citations.append(f"{c['article_id']} [{c['start']}, {c['end']})")

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    n = len(latencies)
    q = statistics.quantiles(latencies, n=100) if n >= 2 else latencies * 99 or [0.0] * 99
    print(f"load: {args.clients} clients, {wall:.1f} s, {n} answers, {len(errors)} errors, "
          f"{len(bad_citations)} wrong citations")
    print(f"throughput {n / wall:.2f} requests/s; latency p50 {q[49] * 1000:.0f} ms, "
          f"p95 {q[94] * 1000:.0f} ms, max {max(latencies, default=0) * 1000:.0f} ms")
    for e in (errors + bad_citations)[:5]:
        print("  ", e)
    return 1 if errors or bad_citations or not n else 0


if __name__ == "__main__":
    sys.exit(main())
