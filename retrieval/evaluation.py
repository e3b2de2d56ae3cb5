"""``byline eval``: retrieval and answer quality on questions with gold answer spans.

Shaped like sentence-transformers' ``InformationRetrievalEvaluator``: construct with the
questions and an archive holding every article (the others act as distractors, as in a
user's archive), call :meth:`QAEvaluator.run`, get a dict of metrics. Question format:
``{"id", "article_id", "question", "answers": [{"text", "start"}], "answerable", "corpus"}``
with ``start`` a Python ``str`` offset into that article's text (the format of
``shared/data/dev/questions.jsonl``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from retrieval.metrics import (exact_match, f1_score, first_hit_rank, max_over_golds, mrr_at,
                               percentile, ratio, recall_at)
from retrieval.pipeline import QAPipeline
from retrieval.types import Span

RANK_DEPTH = 10


@dataclass(frozen=True)
class GoldQuestion:
    """One evaluation question; ``answers`` are ``(text, Span)`` in ``article_id``'s text."""

    id: str
    question: str
    article_id: str | None
    answers: tuple[tuple[str, Span], ...]
    answerable: bool
    corpus: str = ""


def read_questions(path: Path, corpus: str | None = None, limit: int | None = None) -> list[GoldQuestion]:
    """Read a questions JSONL file; raises ``ValueError`` naming the line of a bad record."""
    questions: list[GoldQuestion] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                answers = tuple((a["text"], Span(int(a["start"]), int(a["start"]) + len(a["text"])))
                                for a in record.get("answers", []))
                q = GoldQuestion(id=str(record.get("id", number)), question=record["question"],
                                 article_id=record.get("article_id"), answers=answers,
                                 answerable=bool(record.get("answerable", bool(answers))),
                                 corpus=record.get("corpus", ""))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: bad question record ({type(exc).__name__}: {exc})") from None
            if corpus and q.corpus != corpus:
                continue
            questions.append(q)
            if limit and len(questions) >= limit:
                break
    return questions


def _relevant(question: GoldQuestion, article_id: str, start: int, end: int) -> bool:
    if question.article_id is None or article_id != question.article_id:
        return False
    chunk = Span(start, end)
    return any(chunk.contains(span) for _, span in question.answers)


@dataclass
class QAEvaluator:
    """Evaluates a :class:`QAPipeline` on gold questions.

    Reports (see :mod:`retrieval.metrics`): ``recall@1/5/10, mrr@10`` over answerable
    questions; ``em, f1`` (abstention scores 0), ``evidence_accuracy`` (first citation
    overlaps a gold span), ``answered_rate`` on answerable questions;
    ``abstain_precision, abstain_recall`` on unanswerable ones; ``latency_ms`` p50/p95 of
    whole answers (models already loaded). With ``baselines`` it also reports retrieval
    metrics of BM25 alone and dense alone on the same chunks.
    """

    questions: Sequence[GoldQuestion]
    baselines: bool = True
    progress: Callable[[int, int], None] | None = None
    dump: list[dict[str, Any]] = field(default_factory=list)

    def run(self, pipeline: QAPipeline) -> dict[str, Any]:
        """Ask every question; returns the metrics dict."""
        pipeline.ask("warm-up question about the archive")  # load models outside the timings
        ranks: list[int | None] = []
        em, f1, evidence, latencies = [], [], [], []
        answered = 0
        abstained_unanswerable = abstained_total = unanswerable = 0
        self.dump.clear()
        for i, q in enumerate(self.questions):
            t0 = time.perf_counter()
            answer = pipeline.ask(q.question, k=RANK_DEPTH)
            latencies.append((time.perf_counter() - t0) * 1000)
            golds = [text for text, _ in q.answers]
            rank = None
            if q.answerable:
                rank = first_hit_rank([_relevant(q, p.article_id, p.start, p.end) for p in answer.passages])
                ranks.append(rank)
                em.append(max_over_golds(exact_match, answer.answer, golds))
                f1.append(max_over_golds(f1_score, answer.answer, golds))
                hit = False
                if answer.citations:
                    c = answer.citations[0]
                    hit = c.article_id == q.article_id and any(Span(c.start, c.end).overlaps(s) for _, s in q.answers)
                evidence.append(float(hit))
                answered += int(not answer.abstained)
            else:
                unanswerable += 1
                abstained_unanswerable += int(answer.abstained)
            abstained_total += int(answer.abstained)
            self.dump.append({"id": q.id, "question": q.question, "gold": golds, "answer": answer.answer,
                              "abstained": answer.abstained, "confidence": round(answer.confidence, 4),
                              "answerable": q.answerable, "rank": rank,
                              "citation": answer.citations[0].quote if answer.citations else None,
                              "latency_ms": round(latencies[-1], 1)})
            if self.progress:
                self.progress(i + 1, len(self.questions))
        n_answerable = len(ranks)
        result: dict[str, Any] = {
            "n": len(self.questions), "n_answerable": n_answerable, "n_unanswerable": unanswerable,
            **{f"recall@{k}": round(recall_at(ranks, k), 4) for k in (1, 5, 10)},
            "mrr@10": round(mrr_at(ranks, 10), 4),
            "em": round(ratio(sum(em), n_answerable), 4), "f1": round(ratio(sum(f1), n_answerable), 4),
            "evidence_accuracy": round(ratio(sum(evidence), n_answerable), 4),
            "answered_rate": round(ratio(answered, n_answerable), 4),
            "abstain_precision": round(ratio(abstained_unanswerable, abstained_total), 4),
            "abstain_recall": round(ratio(abstained_unanswerable, unanswerable), 4),
            "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1)},
        }
        if self.baselines:
            result["baselines"] = self.retrieval_baselines(pipeline)
        return result

    def retrieval_baselines(self, pipeline: QAPipeline) -> dict[str, dict[str, float]]:
        """recall@1/5/10 and MRR@10 of hybrid, BM25-only (FTS5) and dense-only
        (a plain FAISS retriever, as LangChain's FAISS store with the same embedder) retrieval."""
        out: dict[str, dict[str, float]] = {}
        answerable = [q for q in self.questions if q.answerable]
        for mode in ("hybrid", "lexical", "dense"):
            ranks, latencies = [], []
            for q in answerable:
                t0 = time.perf_counter()
                passages = pipeline.retriever.retrieve(q.question, k=RANK_DEPTH, mode=mode)
                latencies.append((time.perf_counter() - t0) * 1000)
                ranks.append(first_hit_rank([_relevant(q, p.article_id, p.start, p.end) for p in passages]))
            name = {"lexical": "bm25", "dense": "dense", "hybrid": "hybrid"}[mode]
            out[name] = {**{f"recall@{k}": round(recall_at(ranks, k), 4) for k in (1, 5, 10)},
                         "mrr@10": round(mrr_at(ranks, 10), 4),
                         "latency_ms_p50": round(percentile(latencies, 50), 1)}
        return out
