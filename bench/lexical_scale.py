"""Lexical retrieval at scale: tantivy (the default) against SQLite FTS5, in one run.

Builds once (cached in ``bench/.cache/lexical-<N>/``) an embedded archive of ``N``
synthetic chunks: 10-chunk articles whose chunks are 3-5 random dev sentences (the
1M-chunk store bench's recipe, :mod:`common`), with random unit vectors (the dense side
only has to cost what it costs; quality is measured on the dev set by ``bench/quality.py``).
The FTS5 rows are written with the chunks; the build then times

- **fts5** ``build_s``: re-inserting every FTS5 row (``DELETE`` + ``INSERT ... SELECT``);
- **tantivy** ``build_s``: :meth:`LexicalKeeper.rebuild` (analysis in Python, indexing in
  tantivy's 2 threads);
- the FAISS snapshot of the type ``choose_type("auto", N)`` picks (flat up to 70,000
  chunks, HNSW above).

Then, over the dev questions (news first; their words are real questions' words), for
each lexical index with the same archive:

- ``lexical_p50_ms`` / ``lexical_p95_ms``: one ``Archive.lexical_search(question, 50)``
  (the retriever's depth), wall time, 1 thread;
- ``overlap_at_10_vs_exhaustive``: share of the top 10 that is in the top 10 of exhaustive
  BM25 with every query term and the same scoring (tantivy: the same query counted, so no
  pruning; FTS5: every term, no postings budget);
- ``hybrid_p50_ms`` / ``hybrid_p95_ms``: ``Retriever.retrieve`` (query embedding, FAISS,
  lexical, fusion, chunk fetch);
- ``add_one_article_s``: ``Archive.add`` of one dev article under a new id (embedding,
  SQLite, the lexical commit and the snapshot policy), median of 3; removed afterwards.

Prints one JSON object ``{"default": "tantivy", "tantivy": {...}, "fts5": {...}}``
(with ``--json`` nothing else on stdout). Usage:
``python bench/lexical_scale.py [--chunks 200000] [--questions 200] [--json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

import numpy as np

from config.settings import load_settings
from corpus.article import Article
from index.archive import Archive
from index.store import ArticleStore

PER_ARTICLE = 10
DIMENSION = 384
DEPTH = 50  # retrieval.candidates: what the retriever asks each side for


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(path: Path, lexical: str):
    return load_settings(data_dir=str(path), index={"lexical": lexical})


def build(n: int, path: Path, embedder) -> dict:
    """The cached archive of ``n`` synthetic chunks (see the module docstring)."""
    marker = path / "bench-complete.json"
    if marker.exists():
        return json.loads(marker.read_text())
    if path.exists():
        shutil.rmtree(path)
    archive = Archive.open(settings_for(path, "tantivy"), embedder=embedder)
    sentences = common.dev_sentences()
    rng = np.random.default_rng(0)
    picks = common.synthetic_picks(n, len(sentences), seed=0)
    t0 = time.perf_counter()
    per_tx = 5000
    for first in range(0, n // PER_ARTICLE, per_tx):
        with archive.store.transaction() as conn:
            archive._stamp_embedder(conn)  # noqa: SLF001 - the bench builds a synthetic store
            for number in range(first, min(first + per_tx, n // PER_ARTICLE)):
                texts = [" ".join(sentences[i] for i in picks[number * PER_ARTICLE + j]) for j in range(PER_ARTICLE)]
                spans, pos = [], 0
                for j, text in enumerate(texts):
                    spans.append((j, pos, pos + len(text)))
                    pos += len(text) + 2
                vectors = rng.standard_normal((PER_ARTICLE, DIMENSION), dtype=np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                article = Article(id=f"synthetic-{number}", title=f"Synthetic {number}", text="\n\n".join(texts),
                                  source="Synthetic")
                ArticleStore.insert_article(conn, article, spans, vectors, 1)
            ArticleStore.set_meta(conn, "generation", 1)
        log(f"  {min(first + per_tx, n // PER_ARTICLE) * PER_ARTICLE} chunks stored, {time.perf_counter() - t0:.0f} s")
    info: dict = {"chunks": n, "store_insert_s": round(time.perf_counter() - t0, 1)}
    conn = archive.store.connect()
    with archive.write_lock():
        t0 = time.perf_counter()
        with archive.store.transaction() as tx:
            tx.execute("DELETE FROM chunks_fts")
            tx.execute("INSERT INTO chunks_fts (rowid, text) SELECT c.id, substr(a.text, c.start + 1, c.end - c.start) "
                       "FROM chunks c JOIN articles a ON a.id = c.article_id")
        info["fts5_build_s"] = round(time.perf_counter() - t0, 1)
        log(f"  FTS5 rows rebuilt in {info['fts5_build_s']} s")
        t0 = time.perf_counter()
        archive.lexical.rebuild()
        info["tantivy_build_s"] = round(time.perf_counter() - t0, 1)
        log(f"  tantivy index built in {info['tantivy_build_s']} s")
        t0 = time.perf_counter()
        archive.write_snapshot()
        info["dense_build_s"] = round(time.perf_counter() - t0, 1)
        info["faiss_type"] = archive.dense().faiss_type
        log(f"  FAISS {info['faiss_type']} snapshot in {info['dense_build_s']} s")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    info["disk_mb"] = {"sqlite": round((path / "byline.sqlite").stat().st_size / 1e6),
                       "tantivy": round(sum(p.stat().st_size for p in (path / "lexical-tantivy").iterdir()) / 1e6)}
    marker.write_text(json.dumps(info))
    return info


def overlap(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> float | None:
    """|top10(a) & top10(b)| / |top10(b)|, None when the reference is empty."""
    ref = {c for c, _ in b[:10]}
    return len({c for c, _ in a[:10]} & ref) / len(ref) if ref else None


def measure(archive: Archive, questions: list[str], exhaustive) -> dict:
    """Latencies and overlap for ``archive``'s configured lexical index."""
    from retrieval.retriever import HybridRetriever

    retriever = HybridRetriever(archive, archive.embedder, archive.settings.retrieval)
    retriever.retrieve("warm-up question about the archive")
    archive.lexical_search("warm-up question", DEPTH)
    lexical_ms, hybrid_ms, overlaps = [], [], []
    for question in questions:
        hits, seconds = common.timed(lambda: archive.lexical_search(question, DEPTH))
        lexical_ms.append(seconds * 1000)
        reference = exhaustive(question)
        value = overlap(hits, reference)
        if value is not None:
            overlaps.append(value)
        _, seconds = common.timed(lambda: retriever.retrieve(question))
        hybrid_ms.append(seconds * 1000)
    return {"lexical_p50_ms": round(common.pct(lexical_ms, 50), 2), "lexical_p95_ms": round(common.pct(lexical_ms, 95), 2),
            "overlap_at_10_vs_exhaustive": round(float(np.mean(overlaps)), 4) if overlaps else None,
            "hybrid_p50_ms": round(common.pct(hybrid_ms, 50), 2), "hybrid_p95_ms": round(common.pct(hybrid_ms, 95), 2),
            "questions": len(questions)}


def add_one(archive: Archive, records: list[dict], repeats: int = 3) -> float:
    """Median seconds of ``Archive.add`` for one dev article under a new id (removed after)."""
    times, ids = [], []
    for i in range(repeats):
        record = records[i % len(records)]
        article = Article(id=f"bench-add-{time.time_ns()}", title=record["title"], text=record["text"])
        result, seconds = common.timed(lambda: archive.add([article]))
        if result[0].status != "added":
            raise RuntimeError(f"bench add failed: {result[0]}")
        times.append(seconds)
        ids.append(article.id)
    archive.remove(ids)
    return round(float(np.median(times)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print only the JSON object on stdout")
    args = parser.parse_args()
    common.set_threads(1)
    from index.embedder import Embedder

    embedder = Embedder()
    embedder.embed(["load the model"])
    path = common.CACHE / f"lexical-{args.chunks}"
    info = build(args.chunks, path, embedder)
    records = common.load_question_records()
    records.sort(key=lambda q: q.get("corpus") != "news")
    questions = [q["question"] for q in records[: args.questions]]
    articles = [a for a in common.load_articles() if len(a["text"]) < 4000][:3]
    result: dict = {"default": "tantivy", "chunks": args.chunks, "commit": common.commit(),
                    "measured_at": time.strftime("%Y-%m-%d %H:%M"), "build": info}
    for name in ("tantivy", "fts5"):
        archive = Archive.open(settings_for(path, name), embedder=embedder)
        archive.dense()  # load FAISS before timing
        if name == "tantivy":
            keeper = archive.lexical
            exhaustive = lambda q: keeper.current().exhaustive_search(q, 10)  # noqa: E731
        else:
            def exhaustive(q: str) -> list[tuple[int, float]]:
                saved = archive.store.max_postings
                archive.store.max_postings = 0  # every term: FTS5's exhaustive BM25
                try:
                    return archive.store.lexical_search(q, 10)
                finally:
                    archive.store.max_postings = saved
        log(f"measuring {name} over {len(questions)} questions ...")
        entry = {"chunks": archive.count(), "build_s": info[f"{name}_build_s"], **measure(archive, questions, exhaustive)}
        entry["add_one_article_s"] = add_one(archive, articles)
        if name == "fts5":
            entry["lexical_max_postings"] = archive.store.max_postings
        result[name] = entry
        log(f"  {name}: {json.dumps(entry)}")
        with contextlib.suppress(Exception):
            archive.store.close()
    t, f = result["tantivy"], result["fts5"]
    result["ratios_fts5_over_tantivy"] = {
        key: round(f[key] / t[key], 2) for key in ("lexical_p50_ms", "lexical_p95_ms", "hybrid_p50_ms", "hybrid_p95_ms")
        if t.get(key)}
    common.save_result(f"lexical_scale_{args.chunks}", result)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
