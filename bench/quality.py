"""Retrieval quality side by side on the dev set, and the answer metrics of ``byline eval``.

Every dev article (news and wikipedia) is indexed once with Byline (cached in
``bench/.cache/dev-index-*``); all systems get the same chunks (the stored chunk texts)
and the same all-MiniLM-L6-v2 vectors (the stored ones):

- ``byline hybrid``: :class:`retrieval.retriever.HybridRetriever` (dense + FTS5 BM25, RRF).
- ``byline fts5``: the same retriever, lexical only (SQLite FTS5 BM25).
- ``byline dense``: the same retriever, dense only (FAISS).
- ``langchain faiss``: ``langchain_community.vectorstores.FAISS.from_embeddings`` over the
  precomputed vectors, queries embedded by an ``Embeddings`` wrapper of the same
  SentenceTransformer (the usual tutorial setup: IndexFlatL2, no reranking).
- ``bm25s``: bm25s over the chunk texts with its English stop words and the Snowball
  English stemmer (PyStemmer).

Per corpus: recall@1/5/10 and MRR@10 over answerable questions (a hit = a retrieved
chunk of the gold article containing a gold answer span, as ``byline eval``), and
per-query latency p50/p95 (query embedding included where a system embeds). Then the
answer metrics of ``byline eval`` (QAEvaluator) with the default reader.

Usage: ``python bench/quality.py [--wiki-answer-limit 300] [--quick]``
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

import numpy as np

from config.settings import load_settings
from corpus.loaders import ArticleFactory, load_inputs
from index.archive import Archive
from retrieval.evaluation import RANK_DEPTH, QAEvaluator, _relevant, read_questions
from retrieval.metrics import first_hit_rank, mrr_at, recall_at
from retrieval.pipeline import QAPipeline


def dev_archive(settings_overrides: dict | None = None) -> Archive:
    """An archive of every dev article, built once per (articles, chunking, model)."""
    from index.embedder import Embedder

    settings = load_settings(**(settings_overrides or {}))
    embedder = Embedder(settings.embedding.model_path or None, batch_size=settings.embedding.batch_size)
    key = hashlib.sha256(common.ARTICLES.read_bytes()).hexdigest()[:10] + "-" + hashlib.sha256(
        f"{settings.chunking.chunk_tokens}/{settings.chunking.overlap_tokens}/{embedder.fingerprint}".encode()
    ).hexdigest()[:8]
    path = common.CACHE / f"dev-index-{key}"
    done = path / "bench-complete"
    if path.exists() and not done.exists():
        shutil.rmtree(path)
    settings = load_settings(**{**(settings_overrides or {}), "data_dir": str(path)})
    archive = Archive.open(settings, embedder=embedder)
    if not done.exists():
        t0 = time.perf_counter()
        factory = ArticleFactory(max_bytes=settings.ingest.max_file_bytes)
        results = archive.add(load_inputs([str(common.ARTICLES)], factory))
        assert not [r for r in results if r.status == "rejected"], "dev articles rejected"
        done.write_text(f"{time.perf_counter() - t0:.1f}\n")
    return archive


def stored_chunks(archive: Archive) -> tuple[list[int], list[str], list[str], list[tuple[int, int]], np.ndarray]:
    """Chunk ids, article ids, texts, spans and vectors as stored (one row per chunk)."""
    rows = archive.store.connect().execute(
        "SELECT c.id, c.article_id, c.start, c.end, substr(a.text, c.start + 1, c.end - c.start), c.vector "
        "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.id").fetchall()
    vectors = np.frombuffer(b"".join(r[5] for r in rows), dtype=np.float32).reshape(len(rows), -1)
    return [r[0] for r in rows], [r[1] for r in rows], [r[4] for r in rows], [(r[2], r[3]) for r in rows], vectors


class LangChainFaiss:
    """The tutorial vector store: LangChain FAISS over the same chunks and vectors."""

    name = "langchain faiss"

    def __init__(self, archive: Archive, ids, article_ids, texts, spans, vectors) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_core.embeddings import Embeddings

        model = archive.embedder.model
        by_text = {t: v for t, v in zip(texts, vectors)}

        class Precomputed(Embeddings):
            """Documents: the stored vectors; queries: the same SentenceTransformer."""

            def embed_documents(self, docs: list[str]) -> list[list[float]]:
                return [by_text[d].tolist() for d in docs]

            def embed_query(self, text: str) -> list[float]:
                return model.encode(text).tolist()

        metadatas = [{"article_id": a, "start": s, "end": e} for a, (s, e) in zip(article_ids, spans)]
        self.store = FAISS.from_embeddings(list(zip(texts, vectors.tolist())), Precomputed(), metadatas=metadatas)

    def search(self, query: str, k: int) -> list[tuple[str, int, int]]:
        docs = self.store.similarity_search(query, k=k)
        return [(d.metadata["article_id"], d.metadata["start"], d.metadata["end"]) for d in docs]


class Bm25s:
    """bm25s over the same chunk texts (English stop words, Snowball English stemmer)."""

    name = "bm25s"

    def __init__(self, article_ids, texts, spans) -> None:
        import bm25s
        import Stemmer

        self.bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.meta = [(a, s, e) for a, (s, e) in zip(article_ids, spans)]
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False),
                         show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[str, int, int]]:
        tokens = self.bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        docs, _ = self.index.retrieve(tokens, k=min(k, len(self.meta)), show_progress=False, n_threads=1)
        return [self.meta[int(i)] for i in docs[0]]


class BylineMode:
    """Byline's retriever in one mode."""

    def __init__(self, pipeline: QAPipeline, mode: str, name: str) -> None:
        self.pipeline, self.mode, self.name = pipeline, mode, name

    def search(self, query: str, k: int) -> list[tuple[str, int, int]]:
        return [(p.article_id, p.start, p.end) for p in self.pipeline.retriever.retrieve(query, k=k, mode=self.mode)]


def evaluate(system, questions) -> dict:
    """recall@1/5/10, MRR@10 and latency of ``system`` over answerable ``questions``."""
    ranks, lat, cpu = [], [], []
    for q in questions:
        hits, wall, cpu_s = common.timed_cpu(lambda: system.search(q.question, RANK_DEPTH))
        lat.append(wall * 1000)
        cpu.append(cpu_s * 1000)
        ranks.append(first_hit_rank([_relevant(q, a, s, e) for a, s, e in hits]))
    return {**{f"recall@{k}": round(recall_at(ranks, k), 4) for k in (1, 5, 10)},
            "mrr@10": round(mrr_at(ranks, 10), 4),
            "p50_ms": round(common.pct(lat, 50), 2), "p95_ms": round(common.pct(lat, 95), 2),
            "cpu_p50_ms": round(common.pct(cpu, 50), 2), "n": len(ranks)}


def main() -> None:
    """Run and save ``quality.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wiki-answer-limit", type=int, default=300,
                        help="wikipedia questions (answerable and not) for the answer metrics")
    parser.add_argument("--wiki-retrieval-limit", type=int, default=0, help="0 = every answerable one")
    parser.add_argument("--quick", action="store_true", help="200 wikipedia retrieval questions, 60 news answers")
    args = parser.parse_args()
    # One thread for single queries: on this shared 2-core machine (load 8-12) a 2-thread
    # parallel region waits for a descheduled thread, which made a 1 ms search take 50+ ms
    # (bench/scale.py measures both).
    common.set_threads(1)
    t_start = time.perf_counter()
    archive = dev_archive()
    counts = archive.store.counts()
    ids, article_ids, texts, spans, vectors = stored_chunks(archive)
    pipeline = QAPipeline(archive, archive.settings)
    pipeline.retriever.retrieve("warm up the dense and lexical indexes")
    systems = [BylineMode(pipeline, "hybrid", "byline hybrid"), BylineMode(pipeline, "lexical", "byline fts5"),
               BylineMode(pipeline, "dense", "byline dense")]
    t0 = time.perf_counter()
    systems.append(LangChainFaiss(archive, ids, article_ids, texts, spans, vectors))
    build = {"langchain faiss": round(time.perf_counter() - t0, 2)}
    t0 = time.perf_counter()
    systems.append(Bm25s(article_ids, texts, spans))
    build["bm25s"] = round(time.perf_counter() - t0, 2)
    for s in systems[-2:]:
        s.search("warm up", 10)
    wiki_limit = 200 if args.quick else (args.wiki_retrieval_limit or None)
    corpora = {"news": [q for q in read_questions(common.QUESTIONS, "news") if q.answerable],
               "wikipedia": [q for q in read_questions(common.QUESTIONS, "wikipedia") if q.answerable][:wiki_limit]}
    retrieval: dict[str, dict[str, dict]] = {}
    for corpus, qs in corpora.items():
        retrieval[corpus] = {}
        for system in systems:
            retrieval[corpus][system.name] = evaluate(system, qs)
            print(corpus, system.name, retrieval[corpus][system.name], flush=True)
    answers = {}
    plan = [("news", 60)] if args.quick else [("news", None), ("wikipedia", args.wiki_answer_limit)]
    for corpus, limit in plan:
        gold = read_questions(common.QUESTIONS, corpus, limit)
        t0 = time.perf_counter()
        metrics = QAEvaluator(gold, baselines=False).run(pipeline)
        metrics["seconds"] = round(time.perf_counter() - t0, 1)
        metrics["limit"] = limit
        answers[corpus] = metrics
        print(corpus, "answers", metrics, flush=True)
    common.save_result("quality_quick" if args.quick else "quality", {
        "articles": counts["articles"], "chunks": counts["chunks"],
        "chunking": f"{archive.settings.chunking.chunk_tokens}/{archive.settings.chunking.overlap_tokens} word pieces",
        "reader": archive.settings.reader.name, "build_s": build, "retrieval": retrieval, "answers": answers,
        "seconds": round(time.perf_counter() - t_start, 1)})
    print(f"quality done in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
