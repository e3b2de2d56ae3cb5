"""What claim extraction adds to ``byline add``: per-article time of
:meth:`index.archive.Archive.add` over the dev news articles with ``index.claims`` on
and off (models loaded and warmed first; each run into a fresh data dir; medians of
``--repeats`` runs), and the one-time cost of loading spaCy in a process.

Run: ``.venv/bin/python bench/claims_ingest.py [--articles 64] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ARTICLES  # noqa: E402  (sets HF_HUB_OFFLINE)


def main(argv: list[str] | None = None) -> int:
    """Print seconds per article with and without claims, the overhead, and spaCy's load time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from config.settings import Settings
    from corpus.article import Article
    from index.archive import Archive
    from index.embedder import Embedder

    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    rows = [r for r in rows if r.get("corpus") == "news"][:args.articles]
    articles = [Article(id=r["id"], title=r["title"], text=r["text"]) for r in rows]
    started = time.perf_counter()
    from corpus.nlp import get_nlp

    get_nlp()("Warm up.")
    spacy_load = time.perf_counter() - started
    embedder = Embedder()
    embedder.embed(["warm up"])
    timings: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for claims in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(data_dir=Path(tmp), index={"claims": claims, "lexical": "fts5"})
                archive = Archive.open(settings, embedder=embedder)
                t = time.perf_counter()
                archive.add(articles)
                timings[claims].append((time.perf_counter() - t) / len(articles))
                archive.close()
    off, on = statistics.median(timings[False]), statistics.median(timings[True])
    print(f"articles {len(articles)} (dev news), repeats {args.repeats}")
    print(f"add without claims  {1000 * off:8.1f} ms/article")
    print(f"add with claims     {1000 * on:8.1f} ms/article")
    print(f"overhead            {100 * (on - off) / off:8.1f} %")
    print(f"spaCy load (once per process) {spacy_load:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
