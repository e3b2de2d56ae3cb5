"""What claim extraction adds to ``byline add``: per-article time of
:meth:`index.archive.Archive.add` over the dev news articles with ``index.claims`` off,
on with the extraction after the embedding, and on with the extraction alongside it
(``index.claims_alongside_embedding``, the default); models loaded and warmed first, each
run into a fresh data dir, the three ways interleaved in every repeat (the machine's
load swings the ratio), medians of ``--repeats`` runs; and the one-time cost of loading
spaCy in a process.

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
    modes = {"without claims": {"claims": False}, "claims after embedding": {"claims_alongside_embedding": False},
             "claims alongside (default)": {}}
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode, index_settings in modes.items():
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(data_dir=Path(tmp), index={"lexical": "fts5", **index_settings})
                archive = Archive.open(settings, embedder=embedder)
                t = time.perf_counter()
                archive.add(articles)
                timings[mode].append((time.perf_counter() - t) / len(articles))
                archive.close()
    base = statistics.median(timings["without claims"])
    print(f"articles {len(articles)} (dev news), repeats {args.repeats}")
    for mode, runs in timings.items():
        median = statistics.median(runs)
        overhead = "" if median is base else f"   overhead {100 * (median - base) / base:6.1f} %"
        print(f"add {mode:<28} {1000 * median:8.1f} ms/article{overhead}")
    print(f"spaCy load (once per process) {spacy_load:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
