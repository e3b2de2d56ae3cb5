"""Ingest benchmark: throughput against raw ``SentenceTransformer.encode`` in the same
process, peak memory, and the time to add one article to a large index.

Usage: ``python bench/ingest.py [--articles PATH] [--scale 100000] [--quick]``

Prints articles/s, chunks/s, embedded tokens/s and peak RSS of ingesting the dev
articles into a fresh data dir, and the ratio of the pipeline's chunk throughput to the
raw encoder's on the same chunk texts (goal >= 0.9). Then builds an index of ``--scale``
synthetic chunks (sentences of the dev articles, with their real embeddings reused and
jittered, inserted directly in the store) and times adding one real article (goal < 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from config.settings import load_settings  # noqa: E402
from corpus.article import Article  # noqa: E402
from corpus.loaders import ArticleFactory, load_inputs  # noqa: E402
from index.archive import Archive  # noqa: E402
from index.store import ArticleStore  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(articles_path: Path, limit: int | None) -> dict[str, float]:
    """Ingest the articles into a fresh index, and encode the same chunk texts raw."""
    with tempfile.TemporaryDirectory(prefix="byline-bench-") as tmp:
        settings = load_settings(data_dir=tmp)
        archive = Archive.open(settings)
        factory = ArticleFactory(max_bytes=settings.ingest.max_file_bytes)
        records = [r for r in load_inputs([str(articles_path)], factory) if r.article]
        if limit:
            records = records[:limit]
        texts = [c.text for r in records for c in archive.chunker.split(r.article.text)]
        tokens = sum(c.tokens for r in records for c in archive.chunker.split(r.article.text))
        model = archive.embedder.model
        model.encode(texts[:64], batch_size=settings.embedding.batch_size)  # warm-up
        t0 = time.perf_counter()
        model.encode(texts, batch_size=settings.embedding.batch_size, normalize_embeddings=True)
        raw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        results = archive.add(records)
        pipe_s = time.perf_counter() - t0
        chunks = sum(r.chunks for r in results)
        assert chunks == len(texts), (chunks, len(texts))
        assert not archive.verify()
        return {"articles": len(records), "chunks": chunks, "tokens": tokens,
                "raw_encode_s": raw_s, "pipeline_s": pipe_s,
                "articles_per_s": len(records) / pipe_s, "chunks_per_s": chunks / pipe_s,
                "tokens_per_s": tokens / pipe_s, "raw_chunks_per_s": len(texts) / raw_s,
                "ratio": (chunks / pipe_s) / (len(texts) / raw_s)}


def add_one_at_scale(articles_path: Path, scale: int) -> dict[str, float]:
    """Time adding one article to an index already holding ``scale`` chunks."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="byline-scale-") as tmp:
        settings = load_settings(data_dir=tmp)
        archive = Archive.open(settings)
        lines = [json.loads(line) for line in articles_path.open(encoding="utf-8")]
        sentences = [s.strip() for a in lines for s in a["text"].split(". ") if len(s.strip()) > 40]
        base = archive.embedder.embed(sentences[:2000])
        dim = base.shape[1]
        t0 = time.perf_counter()
        per_article = 10
        generation = 1
        with archive.store.transaction() as conn:
            archive._stamp_embedder(conn)  # noqa: SLF001 - bench builds a synthetic store
            for a in range(scale // per_article):
                picks = [rng.randrange(len(sentences)) for _ in range(per_article)]
                text = "\n\n".join(sentences[p] + "." for p in picks)
                spans, pos = [], 0
                for i, p in enumerate(picks):
                    piece = sentences[p] + "."
                    spans.append((i, pos, pos + len(piece)))
                    pos += len(piece) + 2
                vectors = base[[p % len(base) for p in picks]] + np.float32(0.01) * \
                    np.random.default_rng(a).standard_normal((per_article, dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                ArticleStore.insert_article(conn, Article(id=f"synthetic-{a}", title=f"Synthetic {a}", text=text),
                                            spans, vectors, generation)
            ArticleStore.set_meta(conn, "generation", generation)
        build_s = time.perf_counter() - t0
        archive.write_snapshot()
        reopened = Archive.open(settings, embedder=archive.embedder)
        t0 = time.perf_counter()
        reopened.dense()
        load_s = time.perf_counter() - t0
        article = Article(id="one-more", title=lines[0]["title"], text=lines[0]["text"])
        reopened.embedder.embed(["warm-up"])
        t0 = time.perf_counter()
        result = reopened.add([article])
        add_s = time.perf_counter() - t0
        new_chunk = reopened.chunker.split(article.text)[0].text
        query = reopened.embedder.embed([new_chunk])[0]
        t0 = time.perf_counter()
        hits = reopened.dense_search(query, 10)
        search_ms = (time.perf_counter() - t0) * 1000
        assert result[0].status == "added"
        assert reopened.count() == scale // per_article * per_article + result[0].chunks
        return {"chunks": reopened.count(), "build_s": build_s, "open_dense_s": load_s,
                "add_one_s": add_s, "add_one_chunks": result[0].chunks, "dense_search_ms": search_ms,
                "top_hit_is_new": float(bool(hits) and reopened.chunks([hits[0][0]])[hits[0][0]].article_id == "one-more")}


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=ROOT.parent / "shared/data/dev/articles.jsonl")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="40 articles and 20k chunks")
    args = parser.parse_args()
    if not args.articles.exists():
        sys.exit(f"articles not found: {args.articles} (put ../shared beside the repo)")
    limit = 40 if args.quick else None
    scale = 20_000 if args.quick else args.scale
    t = throughput(args.articles, limit)
    print(f"ingest: {t['articles']} articles, {t['chunks']} chunks, {t['tokens']} tokens in {t['pipeline_s']:.1f} s")
    print(f"  articles/s {t['articles_per_s']:.2f}   chunks/s {t['chunks_per_s']:.1f}   tokens/s {t['tokens_per_s']:.0f}")
    print(f"  raw SentenceTransformer.encode: {t['raw_chunks_per_s']:.1f} chunks/s ({t['raw_encode_s']:.1f} s)")
    print(f"  ratio pipeline / raw encode: {t['ratio']:.3f}   (goal >= 0.9)")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")
    s = add_one_at_scale(args.articles, scale)
    print(f"scale: {s['chunks']} chunks (synthetic build {s['build_s']:.1f} s, FAISS load {s['open_dense_s']:.2f} s)")
    print(f"  add one article ({s['add_one_chunks']} chunks) to it: {s['add_one_s']:.3f} s   (goal < 1 s)")
    print(f"  dense search (query embedded beforehand): {s['dense_search_ms']:.1f} ms; "
          f"the new article's first chunk is the top hit for its own text: {bool(s['top_hit_is_new'])}")
    print(f"  peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
