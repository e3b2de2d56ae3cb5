"""Training-data builders and the calibration fit (no training runs here)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from training.calibrate_reader import choose_thresholds, fit_logistic, fit_ranker
from training.splits import split_of

ARTICLE = (
    "The Northfield City Council approved a $412 million operating budget on Tuesday. "
    "Maria Okafor, the city's finance director, said the plan would close a gap of $18 million. "
    "“We cut where it hurt least,” she said. Police arrested 31 protesters in Idaho in March 2023. "
    "Mayor Daniel Reyes told reporters that the stadium would open in 2026."
)


def test_split_is_stable_and_covers_all_parts() -> None:
    assert split_of("rtqa-0000") == split_of("rtqa-0000")
    parts = {split_of(f"article-{i}") for i in range(200)}
    assert parts == {"train", "calib", "heldout"}
    share = sum(split_of(f"article-{i}") == "train" for i in range(2000)) / 2000
    assert 0.55 < share < 0.65


@pytest.mark.slow
def test_synthetic_questions_have_exact_spans_and_decoys_have_none() -> None:
    from retrieval.question import get_nlp
    from training.synthetic import questions_for_article

    qs = questions_for_article(ARTICLE, get_nlp(), random.Random(1), decoy_rate=1.0)
    answerable = [q for q in qs if q.answer_start is not None]
    assert len(answerable) >= 4
    for q in answerable:
        assert ARTICLE[q.answer_start:q.answer_start + len(q.answer_text)] == q.answer_text
        assert q.question.endswith("?") and q.answer_text.lower() not in q.question.lower()
    assert any(q.kind.startswith("decoy") and q.answer_start is None for q in qs)
    kinds = {q.kind.split("-")[0] for q in answerable}
    assert {"attribution", "inverted"} <= kinds or {"attribution", "subject"} <= kinds


def test_logistic_fit_separates_and_thresholds_maximise_the_expected_score() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(float)
    coef, bias = fit_logistic(x, y, np.ones(400))
    assert coef[0] > 2 and abs(coef[1]) < 1
    conf = list(1 / (1 + np.exp(-(x @ coef + bias))))
    f1 = [float(v) for v in y]
    answerable = [bool(v) for v in y]  # the wrong ones are the unanswerable questions
    answer_t, uncertain_t = choose_thresholds(conf, f1, answerable)
    assert uncertain_t <= answer_t

    def recall(t: float) -> float:
        return sum(c < t for c, a in zip(conf, answerable) if not a) / answerable.count(False)

    def gain(t: float) -> float:
        return sum(f - 0.5 * (f < 0.5) for c, f in zip(conf, f1) if c >= t)

    assert recall(answer_t) >= 0.7
    assert all(gain(answer_t) >= gain(t) - 1e-9 for t in set(round(c, 3) for c in conf) if recall(t) >= 0.7)
    picked = [f for c, f in zip(conf, f1) if c >= answer_t]
    assert picked and sum(picked) / len(picked) >= 1 / 3
    # A higher cost of a wrong answer never answers more.
    strict_t, _ = choose_thresholds(conf, f1, answerable, wrong_cost=2.0)
    assert strict_t >= answer_t


def test_ranker_puts_the_right_span_first() -> None:
    rng = np.random.default_rng(1)
    groups = []
    for _ in range(100):
        x = rng.normal(size=(5, 2))
        k = int(rng.integers(5))
        x[k, 0] += 3.0
        y = np.zeros(5)
        y[k] = 1.0
        groups.append((x, y, 1.0))
    beta = fit_ranker(groups)
    assert beta[0] > 1 and abs(beta[1]) < 0.5
    assert np.mean([np.argmax(x @ beta) == np.argmax(y) for x, y, _ in groups]) >= 0.8
