"""The Milvus backend (Milvus Lite) beside the default embedded backend on the dev set.

The embedded dev index of ``bench/quality.py`` (cached in ``bench/.cache/dev-index-*``)
is copied into Milvus Lite with ``MilvusArchive.import_embedded`` (the same chunks and
vectors, no re-embedding; cached in ``bench/.cache/dev-milvus-*``). Then, for both
backends, with the same :class:`retrieval.retriever.HybridRetriever`:

- retrieval per corpus in hybrid, lexical and dense mode: recall@1/5/10, MRR@10 over
  answerable questions and per-query latency p50/p95 (query embedding included);
- top-5 agreement: the share of questions whose top passage is the same, and the mean
  overlap of the top-5 passages (by article and offsets);
- with ``--answers``: the answer metrics of ``byline eval`` on the news questions.

Usage: ``python bench/milvus_quality.py [--wiki-limit 300] [--answers]``
(writes ``bench/.cache/results/milvus_quality.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import quality

from config.settings import load_settings
from index.milvus import MilvusArchive
from retrieval.evaluation import RANK_DEPTH, QAEvaluator, _relevant, read_questions
from retrieval.metrics import first_hit_rank, mrr_at, recall_at
from retrieval.pipeline import QAPipeline


def milvus_copy(embedded) -> MilvusArchive:  # index.archive.Archive
    """The embedded dev index copied into Milvus Lite (once per embedded index)."""
    path = common.CACHE / embedded.data_dir.name.replace("dev-index-", "dev-milvus-")
    done = path / "bench-complete"
    if path.exists() and not done.exists():
        shutil.rmtree(path)
    settings = load_settings(data_dir=str(path), index={"backend": "milvus"})
    archive = MilvusArchive.open(settings, embedder=embedded.embedder)
    if not done.exists():
        t0 = time.perf_counter()
        archive.import_embedded(embedded)
        done.write_text(f"{time.perf_counter() - t0:.1f}\n")
    return archive


def run(pipeline: QAPipeline, mode: str, questions) -> tuple[dict, list[list[tuple[str, int, int]]]]:
    ranks, lat, tops = [], [], []
    for q in questions:
        t0 = time.perf_counter()
        hits = [(p.article_id, p.start, p.end) for p in pipeline.retriever.retrieve(q.question, k=RANK_DEPTH, mode=mode)]
        lat.append((time.perf_counter() - t0) * 1000)
        ranks.append(first_hit_rank([_relevant(q, a, s, e) for a, s, e in hits]))
        tops.append(hits[:5])
    metrics = {**{f"recall@{k}": round(recall_at(ranks, k), 4) for k in (1, 5, 10)},
               "mrr@10": round(mrr_at(ranks, 10), 4),
               "p50_ms": round(common.pct(lat, 50), 2), "p95_ms": round(common.pct(lat, 95), 2), "n": len(ranks)}
    return metrics, tops


def main() -> None:
    """Run and save ``milvus_quality.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wiki-limit", type=int, default=300, help="answerable wikipedia questions (0 = none)")
    parser.add_argument("--answers", action="store_true", help="also the answer metrics on the news questions")
    args = parser.parse_args()
    common.set_threads(1)
    t_start = time.perf_counter()
    embedded = quality.dev_archive()
    t0 = time.perf_counter()
    milvus = milvus_copy(embedded)
    copy_s = round(time.perf_counter() - t0, 1)
    problems = milvus.verify()
    pipelines = {"embedded": QAPipeline(embedded, embedded.settings), "milvus lite": QAPipeline(milvus, milvus.settings)}
    for p in pipelines.values():
        p.retriever.retrieve("warm up the dense and lexical indexes")
    corpora = {"news": [q for q in read_questions(common.QUESTIONS, "news") if q.answerable]}
    if args.wiki_limit:
        corpora["wikipedia"] = [q for q in read_questions(common.QUESTIONS, "wikipedia") if q.answerable][:args.wiki_limit]
    retrieval: dict[str, dict] = {}
    for corpus, qs in corpora.items():
        retrieval[corpus] = {}
        for mode in ("hybrid", "lexical", "dense"):
            tops = {}
            for name, pipeline in pipelines.items():
                metrics, tops[name] = run(pipeline, mode, qs)
                retrieval[corpus][f"{name} {mode}"] = metrics
                print(corpus, name, mode, metrics, flush=True)
            a, b = tops["embedded"], tops["milvus lite"]
            agreement = {"top1_same": round(sum(x[:1] == y[:1] for x, y in zip(a, b)) / len(a), 4),
                         "top5_overlap": round(sum(len(set(x) & set(y)) / max(len(x), 1) for x, y in zip(a, b)) / len(a), 4)}
            retrieval[corpus][f"agreement {mode}"] = agreement
            print(corpus, "agreement", mode, agreement, flush=True)
    answers = {}
    if args.answers:
        gold = read_questions(common.QUESTIONS, "news")
        for name, pipeline in pipelines.items():
            t0 = time.perf_counter()
            metrics = QAEvaluator(gold, baselines=False).run(pipeline)
            metrics["seconds"] = round(time.perf_counter() - t0, 1)
            answers[name] = metrics
            print("news answers", name, json.dumps(metrics), flush=True)
    stats = milvus.stats()
    common.save_result("milvus_quality", {
        "articles": stats.articles, "chunks": stats.chunks, "milvus": stats.faiss_type, "copy_s": copy_s,
        "verify_problems": problems, "retrieval": retrieval, "answers": answers,
        "seconds": round(time.perf_counter() - t_start, 1)})
    print(f"milvus quality done in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
