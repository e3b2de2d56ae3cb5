"""``byline eval``: retrieval and answer quality on questions with gold answer spans.

Shaped like sentence-transformers' ``InformationRetrievalEvaluator``: construct with the
questions and an archive holding every article (the others act as distractors, as in a
user's archive), call :meth:`QAEvaluator.run`, get a dict of metrics. Question format:
``{"id", "article_id", "question", "answers": [{"text", "start"}], "answerable", "corpus"}``
with ``start`` a Python ``str`` offset into that article's text (the format of
``shared/data/dev/questions.jsonl``).
"""

from __future__ import annotations

import hashlib
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
SPLITS = ("train", "calib", "heldout")


def dev_split(key: str) -> str:
    """``"train" | "calib" | "heldout"`` for an article id (or, for a question without an
    article, its own id): SHA-1 of the id mod 10, 0-5 train, 6-7 calib, 8-9 heldout.

    This is the split the trained reader was built with (``training/``): it trained on
    ``train`` articles only, its confidence was calibrated on ``calib``, and ``heldout`` is
    what it is judged on.
    """
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if bucket < 6 else "calib" if bucket < 8 else "heldout"


@dataclass(frozen=True)
class GoldQuestion:
    """One evaluation question; ``answers`` are ``(text, Span)`` in ``article_id``'s text."""

    id: str
    question: str
    article_id: str | None
    answers: tuple[tuple[str, Span], ...]
    answerable: bool
    corpus: str = ""


def read_questions(path: Path, corpus: str | None = None, limit: int | None = None,
                   split: str | None = None) -> list[GoldQuestion]:
    """Read a questions JSONL file; raises ``ValueError`` naming the line of a bad record.

    ``split`` keeps only the questions of one :func:`dev_split` part (by article)."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
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
            if split and dev_split(q.article_id or q.id) != split:
                continue
            questions.append(q)
            if limit and len(questions) >= limit:
                break
    return questions


def expected_calibration_error(pairs: Sequence[tuple[float, float]], n_bins: int = 10) -> tuple[float, list[list[float]]]:
    """ECE of ``(confidence, correct)`` pairs over ``n_bins`` equal-width bins (Guo et al.
    2017, "On Calibration of Modern Neural Networks"): the count-weighted mean of
    ``|accuracy - mean confidence|``. Returns ``(ece, bins)`` with each non-empty bin as
    ``[low, high, n, mean confidence, accuracy]``; ``(0.0, [])`` for no pairs."""
    if not pairs:
        return 0.0, []
    bins: list[list[float]] = []
    ece = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [(c, y) for c, y in pairs if lo <= c < hi or (b == n_bins - 1 and c == 1.0)]
        if not inside:
            continue
        conf = sum(c for c, _ in inside) / len(inside)
        acc = sum(y for _, y in inside) / len(inside)
        ece += len(inside) / len(pairs) * abs(acc - conf)
        bins.append([round(lo, 2), round(hi, 2), len(inside), round(conf, 4), round(acc, 4)])
    return ece, bins


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
        """Ask every question; returns the metrics dict.

        An answer counts as *answered* only when its ``status`` is ``"answered"``; EM/F1 score
        what was answered (uncertain and abstained score 0, as SQuAD 2.0 scores a withheld
        answer); ``f1_with_uncertain`` also credits the tentative span of uncertain answers.
        ``answered_right`` is the share of answered questions (answerable or not) whose
        answer is right (F1 >= 0.5). ``abstain_recall`` counts unanswerable questions not
        answered. ``ece`` is the expected calibration error of the confidence of answered
        and uncertain answers against their correctness (10 equal-width bins, Guo et al.
        2017), and ``reliability`` its bins ``[low, high, n, mean confidence, accuracy]``.
        ``fallback_rate`` is the share of answers given by a fallback reader.
        """
        pipeline.ask("warm-up question about the archive")  # load models outside the timings
        ranks: list[int | None] = []
        em, f1, f1_unc, evidence, latencies = [], [], [], [], []
        answered = uncertain = fallbacks = 0
        answered_right = answered_total = 0
        abstained_unanswerable = abstained_total = unanswerable = 0
        calibration: list[tuple[float, float]] = []
        self.dump.clear()
        for i, q in enumerate(self.questions):
            t0 = time.perf_counter()
            answer = pipeline.ask(q.question, k=RANK_DEPTH)
            latencies.append((time.perf_counter() - t0) * 1000)
            golds = [text for text, _ in q.answers]
            is_answer = answer.status == "answered"
            fallbacks += int(answer.fallback)
            uncertain += int(answer.status == "uncertain")
            span_f1 = max_over_golds(f1_score, answer.answer, golds) if q.answerable else 0.0
            right = bool(q.answerable and span_f1 >= 0.5)
            if answer.status in ("answered", "uncertain"):
                calibration.append((float(answer.confidence), float(right)))
            if is_answer:
                answered_total += 1
                answered_right += int(right)
            rank = None
            if q.answerable:
                rank = first_hit_rank([_relevant(q, p.article_id, p.start, p.end) for p in answer.passages])
                ranks.append(rank)
                em.append(max_over_golds(exact_match, answer.answer, golds) if is_answer else 0.0)
                f1.append(span_f1 if is_answer else 0.0)
                f1_unc.append(span_f1 if answer.status != "abstained" else 0.0)
                hit = False
                if answer.citations and is_answer:
                    c = answer.citations[0]
                    hit = c.article_id == q.article_id and any(Span(c.start, c.end).overlaps(s) for _, s in q.answers)
                evidence.append(float(hit))
                answered += int(is_answer)
            else:
                unanswerable += 1
                abstained_unanswerable += int(not is_answer)
            abstained_total += int(not is_answer)
            self.dump.append({"id": q.id, "question": q.question, "gold": golds, "answer": answer.answer,
                              "status": answer.status, "abstained": answer.abstained,
                              "confidence": round(answer.confidence, 4), "reader": answer.reader,
                              "answerable": q.answerable, "rank": rank,
                              "citation": answer.citations[0].quote if answer.citations else None,
                              "latency_ms": round(latencies[-1], 1)})
            if self.progress:
                self.progress(i + 1, len(self.questions))
        n_answerable = len(ranks)
        ece, bins = expected_calibration_error(calibration)
        result: dict[str, Any] = {
            "n": len(self.questions), "n_answerable": n_answerable, "n_unanswerable": unanswerable,
            **{f"recall@{k}": round(recall_at(ranks, k), 4) for k in (1, 5, 10)},
            "mrr@10": round(mrr_at(ranks, 10), 4),
            "em": round(ratio(sum(em), n_answerable), 4), "f1": round(ratio(sum(f1), n_answerable), 4),
            "f1_with_uncertain": round(ratio(sum(f1_unc), n_answerable), 4),
            "evidence_accuracy": round(ratio(sum(evidence), n_answerable), 4),
            "answered_rate": round(ratio(answered, n_answerable), 4),
            "answered_right": round(ratio(answered_right, answered_total), 4),
            "uncertain_rate": round(ratio(uncertain, len(self.questions)), 4),
            "abstain_precision": round(ratio(abstained_unanswerable, abstained_total), 4),
            "abstain_recall": round(ratio(abstained_unanswerable, unanswerable), 4),
            "fallback_rate": round(ratio(fallbacks, len(self.questions)), 4),
            "ece": round(ece, 4), "reliability": bins,
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
