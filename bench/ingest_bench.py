"""Ingest throughput as a ratio of raw ``SentenceTransformer.encode``, and peak RSS.

Runs :func:`bench.ingest.throughput` (every dev article, or 40 with ``--quick``) in its own
process, so that the peak RSS is the ingest's, and saves ``ingest.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from ingest import throughput


def main() -> None:
    """Run and save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 articles")
    args = parser.parse_args()
    common.set_threads(2)
    t = throughput(common.ARTICLES, 40 if args.quick else None)
    t = {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()}
    t["peak_rss_mb"] = round(common.peak_rss_mb())
    common.save_result("ingest_quick" if args.quick else "ingest", t)
    print(t)


if __name__ == "__main__":
    main()
