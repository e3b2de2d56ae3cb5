"""``make bench``: every benchmark, each in its own process, then ``docs/benchmarks.md``.

Usage: ``python bench/run_all.py [--quick] [--skip ingest,quality,scale,store]``

Full run: ingest throughput, quality on the whole dev set, FAISS scale at 10k/100k/1M,
and the 1M-chunk store (built once and cached in ``bench/.cache/``; the first full run
takes about an hour on 2 cores, later ones reuse the 1M store). ``--quick`` (under 5
minutes once the dev index is cached): 40 articles, 200 wikipedia questions, 10k/50k
chunks, a 20k-chunk store; its figures go to ``bench/.cache/results/*_quick.json`` and the
report prefers full results when both exist.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEPS = {
    "ingest": ["ingest_bench.py"],
    "quality": ["quality.py"],
    "scale": ["scale.py"],
    "store": ["scale_store.py"],
}


def main() -> None:
    """Run the steps, then the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: " + ",".join(STEPS))
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    t0 = time.perf_counter()
    for name, cmd in STEPS.items():
        if name in skip:
            continue
        argv = [sys.executable, str(HERE / cmd[0]), *cmd[1:]] + (["--quick"] if args.quick else [])
        print(f"== {name}: {' '.join(argv[1:])}", flush=True)
        t = time.perf_counter()
        subprocess.run(argv, check=True)
        print(f"== {name} done in {time.perf_counter() - t:.0f} s", flush=True)
    report = [sys.executable, str(HERE / "report.py")] + (["--quick"] if args.quick else [])
    subprocess.run(report, check=True)
    print(f"bench done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
