"""Evaluation metrics for retrieval and extractive QA.

- EM and F1 follow the official SQuAD 2.0 evaluation script (Rajpurkar et al. 2018):
  lower-case, strip punctuation and the articles a/an/the, collapse white space; token
  F1; the maximum over the gold answers. We also strip Unicode punctuation (curly quotes,
  dashes), which the SQuAD script's ASCII ``string.punctuation`` misses on news text.
- recall@k and MRR@k follow sentence-transformers' ``InformationRetrievalEvaluator``: a
  question is a hit at rank r when the r-th retrieved passage is relevant; here relevant =
  a chunk of the gold article that contains a gold answer span.
"""

from __future__ import annotations

import collections
import re
import string
import unicodedata
from typing import Iterable, Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation plus removal of Unicode punctuation."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation
                   and not unicodedata.category(ch).startswith("P"))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-level F1 of the normalised strings (SQuAD)."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_golds(metric, prediction: str | None, golds: Sequence[str]) -> float:
    """``metric`` of ``prediction`` against the best gold; 0.0 for no prediction (abstained)."""
    if prediction is None or not golds:
        return 0.0
    return max(metric(prediction, g) for g in golds)


def first_hit_rank(relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant item, or None."""
    for rank, hit in enumerate(relevant, start=1):
        if hit:
            return rank
    return None


def recall_at(ranks: Iterable[int | None], k: int) -> float:
    """Share of questions whose first hit is within the top ``k`` (0.0 for none)."""
    ranks = list(ranks)
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: Iterable[int | None], k: int) -> float:
    """Mean reciprocal rank of the first hit, counting only hits within the top ``k``."""
    ranks = list(ranks)
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation (``numpy.percentile``);
    0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0.0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0
