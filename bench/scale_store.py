"""One machine, a million chunks: add-one-article time and query latency on a full store.

Builds once (cached in ``bench/.cache/store-<N>/``) an archive holding ``N`` synthetic
chunks (10 per article; texts of 3-5 dev sentences, vectors as in :mod:`bench.common`;
inserted directly through ``ArticleStore.insert_article``: chunk rows, vectors and FTS5
rows) plus every dev article (chunks and vectors copied from the dev index of
``bench/quality.py``), with the FAISS snapshot of the type ``choose_type("auto", N)``
picks (the HNSW index of ``bench/scale.py`` when it exists: same vectors, same ids).

Then measures, with the real embedder:
- opening: FAISS snapshot load + replay;
- adding one article through ``Archive.add`` (median and max of a few; embedding vs the
  SQLite transaction with its FTS5 rows; the snapshot policy's cost) and removing it;
- per dev question: dense search, FTS5 BM25 search (all terms, and within several
  postings budgets, rarest terms first, as Byline does), hybrid retrieval, and the whole answer (``QAPipeline.ask``);
  recall@10 of HNSW against exact search on the same store vectors, overlap of the
  term-limited BM25 top 10 with the all-terms one, and gold recall@10 with a million
  distractor chunks.

Usage: ``python bench/scale_store.py [--chunks 1000000] [--questions 300] [--quick]``
"""

from __future__ import annotations

import argparse
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
from index.dense import DenseIndex, choose_type
from index.lexical import query_terms
from index.store import ArticleStore
from retrieval.evaluation import _relevant, read_questions
from retrieval.metrics import first_hit_rank, recall_at
from retrieval.pipeline import QAPipeline

PER_ARTICLE = 10


def settings_for(path: Path, faiss_type: str = "auto"):
    """Default settings with ``faiss_type`` (default auto: the size rule) in ``path``."""
    return load_settings(data_dir=str(path), index={"faiss_type": faiss_type})


def build_store(n: int, path: Path, embedder) -> dict:
    """Build the synthetic store of ``n`` chunks in ``path`` (see :func:`finish_store`)."""
    if path.exists():
        shutil.rmtree(path)
    settings = settings_for(path)
    archive = Archive.open(settings, embedder=embedder)
    sentences, base = common.sentence_vectors(embedder)
    t0 = time.perf_counter()
    generation = 1
    articles_per_tx = 5000
    batches = common.synthetic_batches(base, n, seed=0, batch=articles_per_tx * PER_ARTICLE)
    for start, picks, vecs in batches:
        with archive.store.transaction() as conn:
            archive._stamp_embedder(conn)  # noqa: SLF001 - the bench builds a synthetic store
            for a in range(len(picks) // PER_ARTICLE):
                texts = [" ".join(sentences[i] for i in picks[a * PER_ARTICLE + j]) for j in range(PER_ARTICLE)]
                spans, pos = [], 0
                for j, t in enumerate(texts):
                    spans.append((j, pos, pos + len(t)))
                    pos += len(t) + 2
                number = start // PER_ARTICLE + a
                article = Article(id=f"synthetic-{number}", title=f"Synthetic {number}", text="\n\n".join(texts),
                                  source="Synthetic")
                ArticleStore.insert_article(conn, article, spans, vecs[a * PER_ARTICLE:(a + 1) * PER_ARTICLE],
                                            generation)
            ArticleStore.set_meta(conn, "generation", generation)
        print(f"  {start + len(picks)} chunks, {time.perf_counter() - t0:.0f} s", flush=True)
    synthetic_s = time.perf_counter() - t0
    conn = archive.store.connect()
    lo, hi = conn.execute("SELECT min(id), max(id) FROM chunks").fetchone()
    assert (lo, hi) == (1, n), (lo, hi)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    info = {"chunks": n, "synthetic_insert_s": round(synthetic_s, 1)}
    (path / "bench-complete").write_text(str(info))
    return info


def finish_store(archive: Archive, n: int, faiss_type: str = "auto") -> dict:
    """Add the dev articles (chunks and vectors as the pipeline stored them in the dev
    index) and the FAISS snapshot, unless already there."""
    from quality import dev_archive

    info: dict = {}
    conn = archive.store.connect()
    if not conn.execute("SELECT 1 FROM articles WHERE source != 'Synthetic' LIMIT 1").fetchone():
        dev = dev_archive()
        dev_conn = dev.store.connect()
        with archive.store.transaction() as tx:
            generation = int(tx.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]) + 1
            for article in dev.store.iter_articles():
                rows = dev_conn.execute("SELECT idx, start, end, vector FROM chunks WHERE article_id=? ORDER BY idx",
                                        (article.id,)).fetchall()
                vecs = np.frombuffer(b"".join(r[3] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                ArticleStore.insert_article(tx, article, [(r[0], r[1], r[2]) for r in rows], vecs, generation)
            ArticleStore.set_meta(tx, "generation", generation)
    kind = choose_type(faiss_type, n)
    if not archive.store.meta().get("dense_snapshot", "").endswith(f"-{kind}.faiss"):
        # bench/scale.py's index of the same synthetic vectors (ids 1..n), when there is one.
        cached = common.CACHE / f"{kind}-synthetic-{n}.faiss"
        t0 = time.perf_counter()
        if cached.exists():
            name = f"dense-1-{kind}.faiss"
            shutil.copyfile(cached, archive.data_dir / name)
            with archive.store.transaction() as tx:
                ArticleStore.set_meta(tx, "dense_snapshot", name)
                ArticleStore.set_meta(tx, "dense_snapshot_generation", 1)
            info["snapshot_source"] = f"bench/.cache/{cached.name} (same vectors and ids)"
        else:
            archive.write_snapshot()
            info["snapshot_source"] = "built from the stored vectors"
        info["snapshot_s"] = round(time.perf_counter() - t0, 1)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return info


def add_one(archive: Archive, articles: list[dict], repeats: int) -> dict:
    """Add (and then remove) a few dev articles under new ids; time each step."""
    embedder = archive.embedder
    embedder.embed(["warm up"])
    spent = {"embed": 0.0}
    embed = embedder.embed

    def timed_embed(texts, **kwargs):  # time the embedding inside add
        out, seconds = common.timed(lambda: embed(texts, **kwargs))
        spent["embed"] += seconds
        return out

    rows = []
    added = []
    conn = archive.store.connect()
    embedder.embed = timed_embed
    try:
        for i in range(repeats):
            record = articles[i % len(articles)]
            article = Article(id=f"bench-add-{time.time_ns()}", title=record["title"], text=record["text"])
            snapshot_before = archive.store.meta().get("dense_snapshot_generation")
            spent["embed"] = 0.0
            result, add_s, add_cpu = common.timed_cpu(lambda: archive.add([article]))
            embed_s = spent["embed"]
            assert result[0].status == "added", result
            # The snapshot policy ran inside add; time it alone (no snapshot is due).
            _, policy_s = common.timed(lambda: archive._maybe_snapshot())  # noqa: SLF001
            # A reader (the web app) catching up: replay the new chunks into its FAISS.
            _, refresh_s = common.timed(archive.refresh)
            new_ids = np.array([r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id=?", (article.id,))])
            found = bool(np.isin(new_ids, archive.dense().ids()).all())
            rows.append({"add_s": round(add_s, 3), "add_cpu_s": round(add_cpu, 3), "chunks": result[0].chunks,
                         "embed_s": round(embed_s, 3), "rest_s": round(add_s - embed_s, 3),
                         "snapshot_policy_s": round(policy_s, 4), "reader_refresh_s": round(refresh_s, 4),
                         "found": found,
                         "snapshot_written": archive.store.meta().get("dense_snapshot_generation") != snapshot_before})
            added.append(article.id)
            print("  add", rows[-1], flush=True)
    finally:
        embedder.embed = embed
    _, remove_s = common.timed(lambda: archive.remove(added))
    adds = [r["add_s"] for r in rows]
    return {"runs": rows, "add_s_median": round(float(np.median(adds)), 3), "add_s_max": round(max(adds), 3),
            "remove_s": round(remove_s, 3), "removed": len(added)}


def queries(archive: Archive, questions, budgets: tuple[int, ...]) -> dict:
    """Latency and recall of every retrieval stage over ``questions``."""
    pipeline = QAPipeline(archive, archive.settings)
    pipeline.ask("warm-up question about the archive")
    store = archive.store
    dense = archive.dense()
    # Exact search over the same stored vectors (ids included), for HNSW's recall@10.
    if dense.faiss_type == "flat":
        exact = dense
    else:
        exact = DenseIndex(dense.dimension, "flat")
        exact.build(store.vectors(dense.dimension))
    stages = ("embed", "dense", "exact", "hybrid", "answer")
    lat: dict[str, list[float]] = {k: [] for k in stages}
    cpu: dict[str, list[float]] = {k: [] for k in stages}
    lex_lat: dict[int, list[float]] = {m: [] for m in budgets}
    lex_cpu: dict[int, list[float]] = {m: [] for m in budgets}
    lex_terms: dict[int, list[int]] = {m: [] for m in budgets}
    dense_overlap, lex_overlap = [], {m: [] for m in budgets if m}
    ranks = []
    depth = archive.settings.retrieval.candidates
    configured = store.max_postings
    try:
        for q in questions:
            vector, s, c = common.timed_cpu(lambda: archive.embedder.embed([q.question])[0])
            lat["embed"].append(s * 1000)
            cpu["embed"].append(c * 1000)
            hits, s, c = common.timed_cpu(lambda: archive.dense_search(vector, depth))
            lat["dense"].append(s * 1000)
            cpu["dense"].append(c * 1000)
            truth, s, c = common.timed_cpu(lambda: exact.search(vector, 10))
            lat["exact"].append(s * 1000)
            cpu["exact"].append(c * 1000)
            dense_overlap.append(len({h[0] for h in hits[:10]} & {t[0] for t in truth}) / max(1, len(truth)))
            full = None
            terms = query_terms(q.question)
            for m in budgets:  # 0 = every term
                store.max_postings = m
                lex, s, c = common.timed_cpu(lambda: archive.lexical_search(q.question, depth))
                lex_lat[m].append(s * 1000)
                lex_cpu[m].append(c * 1000)
                if m and len(terms) > store.min_terms:
                    kept = store._affordable_terms(terms, m, store.min_terms)  # noqa: SLF001
                else:
                    kept = terms
                lex_terms[m].append(len(terms) - len(kept))
                if m == 0:
                    full = {h[0] for h in lex[:10]}
                elif full:
                    lex_overlap[m].append(len({h[0] for h in lex[:10]} & full) / len(full))
            store.max_postings = configured
            passages, s, c = common.timed_cpu(lambda: pipeline.retriever.retrieve(q.question, k=10))
            lat["hybrid"].append(s * 1000)
            cpu["hybrid"].append(c * 1000)
            if q.answerable:
                ranks.append(first_hit_rank([_relevant(q, p.article_id, p.start, p.end) for p in passages]))
            _, s, c = common.timed_cpu(lambda: pipeline.ask(q.question))
            lat["answer"].append(s * 1000)
            cpu["answer"].append(c * 1000)
    finally:
        store.max_postings = configured
    out = {k: {"p50_ms": round(common.pct(v, 50), 1), "p95_ms": round(common.pct(v, 95), 1),
               "cpu_p50_ms": round(common.pct(cpu[k], 50), 1), "cpu_p95_ms": round(common.pct(cpu[k], 95), 1)}
           for k, v in lat.items()}
    out["lexical"] = {str(m): {"p50_ms": round(common.pct(v, 50), 1), "p95_ms": round(common.pct(v, 95), 1),
                               "cpu_p50_ms": round(common.pct(lex_cpu[m], 50), 1),
                               "cpu_p95_ms": round(common.pct(lex_cpu[m], 95), 1),
                               "overlap@10_with_all_terms": round(float(np.mean(lex_overlap[m])), 4) if m else 1.0,
                               "terms_dropped_mean": round(float(np.mean(lex_terms[m])), 2),
                               "queries_with_dropped_terms": round(float(np.mean([d > 0 for d in lex_terms[m]])), 3)}
                      for m, v in lex_lat.items()}
    out["lexical_max_postings"] = configured
    out["query_terms_mean"] = round(float(np.mean([len(query_terms(q.question)) for q in questions])), 2)
    out["dense_type"] = dense.faiss_type
    out["dense_recall@10_vs_exact"] = round(float(np.mean(dense_overlap)), 4)
    out["hybrid_gold_recall@10"] = round(recall_at(ranks, 10), 4)
    out["n_questions"] = len(questions)
    return out


def main() -> None:
    """Build the store if needed, measure, save ``scale_store.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=300, help="dev questions (news first, then wikipedia)")
    parser.add_argument("--adds", type=int, default=5)
    parser.add_argument("--budgets", default="0,25000,50000,100000,200000",
                        help="FTS5 postings budgets to compare (0 = every term)")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--faiss-type", default="auto", help="dense index type (default: the size rule)")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--adds-only", action="store_true",
                        help="re-measure only the adds (kept queries from the saved result)")
    parser.add_argument("--quick", action="store_true", help="20k chunks, 60 questions, 3 adds")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.chunks
    nq = 60 if args.quick else args.questions
    common.set_threads(2)
    from index.embedder import Embedder

    embedder = Embedder()
    path = common.CACHE / f"store-{n}"
    build = None
    if args.rebuild or not (path / "bench-complete").exists():
        print(f"building the {n}-chunk store in {path} ...", flush=True)
        build = build_store(n, path, embedder)
        print(build, flush=True)
    if args.build_only:
        return
    settings = settings_for(path, args.faiss_type)
    archive = Archive.open(settings, embedder=embedder)
    finished = finish_store(archive, n, args.faiss_type)
    if build is not None or finished:
        build = {**(build or (common.load_result("scale_store_quick" if args.quick else "scale_store") or {})
                    .get("build") or {}), **finished}
    archive = Archive.open(settings, embedder=embedder)
    _, open_s = common.timed(archive.dense)
    rss_after_open = common.rss_mb()
    counts = archive.store.counts()
    print(f"opened {counts['chunks']} chunks, FAISS {archive.dense().faiss_type} in {open_s:.1f} s", flush=True)
    common.set_threads(1)  # single-query latency: see bench/quality.py
    adds = add_one(archive, common.load_articles()[:args.adds], args.adds)
    name = ("scale_store_quick" if args.quick else "scale_store") + ("" if args.faiss_type == "auto" else f"_{args.faiss_type}")
    if args.adds_only:
        saved = common.load_result(name) or {}
        saved.pop("commit", None)
        saved.pop("measured_at", None)
        saved["add_one"] = adds
        common.save_result(name, saved)
        return
    news = read_questions(common.QUESTIONS, "news")
    wiki = read_questions(common.QUESTIONS, "wikipedia")
    questions = (news + wiki[:max(0, nq - len(news))])[:nq]
    result = queries(archive, questions, tuple(int(m) for m in args.budgets.split(",")))
    previous = common.load_result(name) or {}
    common.save_result(name, {
        "chunks": counts["chunks"], "articles": counts["articles"], "open_dense_s": round(open_s, 2),
        "rss_after_open_mb": round(rss_after_open), "build": build or previous.get("build"),
        "disk_mb": round(sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 2**20),
        "add_one": adds, "queries": result, "peak_rss_mb": round(common.peak_rss_mb())})
    print(result, flush=True)
    print(f"peak RSS {common.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
