"""retrieval.metrics: SQuAD normalisation, EM/F1, recall@k/MRR@k and percentiles, by hand."""

from __future__ import annotations

import pytest

from retrieval.metrics import (exact_match, f1_score, first_hit_rank, max_over_golds, mrr_at,
                               normalize_answer, percentile, ratio, recall_at)


@pytest.mark.parametrize("text, expected", [
    ("The Tony Awards", "tony awards"),
    ("  a   cat,  an apple!  ", "cat apple"),
    ("“Harbor at Dusk”", "harbor at dusk"),          # curly double quotes
    ("the city’s budget", "citys budget"),            # curly apostrophe, dropped like ASCII '
    ("brown—fox – lazy", "brownfox lazy"),            # em dash joins, spaced en dash vanishes
    ("«Bonjour» ¿qué?", "bonjour qué"),               # guillemets, inverted question mark
    ("$412 million.", "412 million"),                 # '$' is in string.punctuation
    ("Theatre anthem", "theatre anthem"),             # 'the' only as a whole word
    ("", ""),
])
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_exact_match() -> None:
    assert exact_match("The Tony Awards.", "tony awards") == 1.0
    assert exact_match("“Maria Okafor”", "Maria Okafor") == 1.0
    assert exact_match("Maria", "Maria Okafor") == 0.0
    assert exact_match("a", "the") == 1.0  # both normalise to ""


def test_f1_hand_computed() -> None:
    # pred {tony, awards, show}, gold {tony, awards}: P = 2/3, R = 1 -> 0.8
    assert f1_score("the Tony Awards show", "Tony Awards") == pytest.approx(0.8)
    # pred {okafor}, gold {maria, okafor}: P = 1, R = 1/2 -> 2/3
    assert f1_score("Okafor", "Maria Okafor") == pytest.approx(2 / 3)
    # repeated tokens count once per occurrence: pred [x x y], gold [x y y] -> overlap 2, P=R=2/3
    assert f1_score("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1_score("budget", "Maria Okafor") == 0.0
    assert f1_score("Maria Okafor", "maria okafor") == 1.0
    # empty after normalisation: 1 only when both are empty
    assert f1_score("the", "a") == 1.0
    assert f1_score("the", "Okafor") == 0.0
    assert f1_score("Okafor", "—") == 0.0


def test_max_over_golds_and_abstention() -> None:
    golds = ["Tony Awards", "the Tony Awards show"]
    assert max_over_golds(f1_score, "the Tony Awards show", golds) == 1.0
    assert max_over_golds(f1_score, "Tony", golds) == pytest.approx(2 * (1 * 0.5) / 1.5)
    assert max_over_golds(exact_match, "tony awards", golds) == 1.0
    # an abstention (None) scores 0, as does a question without golds
    assert max_over_golds(exact_match, None, golds) == 0.0
    assert max_over_golds(f1_score, None, golds) == 0.0
    assert max_over_golds(f1_score, "Tony Awards", []) == 0.0


def test_first_hit_rank() -> None:
    assert first_hit_rank([False, False, True, True]) == 3
    assert first_hit_rank([True]) == 1
    assert first_hit_rank([False, False]) is None
    assert first_hit_rank([]) is None


def test_recall_and_mrr_hand_made_ranks() -> None:
    ranks = [1, 3, None, 7, 12]
    assert recall_at(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at(ranks, 5) == pytest.approx(2 / 5)
    assert recall_at(ranks, 10) == pytest.approx(3 / 5)
    assert recall_at(ranks, 20) == pytest.approx(4 / 5)
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3 + 1 / 7) / 5)
    assert mrr_at(ranks, 5) == pytest.approx((1 + 1 / 3) / 5)
    assert mrr_at(ranks, 20) == pytest.approx((1 + 1 / 3 + 1 / 7 + 1 / 12) / 5)
    # generators are accepted; empty input gives 0
    assert recall_at((r for r in ranks), 10) == pytest.approx(3 / 5)
    assert recall_at([], 10) == 0.0 and mrr_at([], 10) == 0.0
    assert recall_at([None, None], 10) == 0.0 and mrr_at([None], 10) == 0.0


@pytest.mark.parametrize("values, q, expected", [
    ([5.0], 0, 5.0), ([5.0], 95, 5.0),
    ([3.0, 1.0], 25, 1.5),                                  # sorted, then interpolated
    ([10.0, 2.0, 7.5, 4.0, 4.0, 100.0], 0, 2.0),
    ([10.0, 2.0, 7.5, 4.0, 4.0, 100.0], 50, 5.75),          # halfway between 4.0 and 7.5
    ([10.0, 2.0, 7.5, 4.0, 4.0, 100.0], 90, 55.0),          # halfway between 10.0 and 100.0
    ([10.0, 2.0, 7.5, 4.0, 4.0, 100.0], 100, 100.0),
])
def test_percentile_hand_computed(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)
    assert isinstance(percentile(values, q), float)  # JSON-ready, not a numpy scalar


def test_percentile_empty_and_ratio() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert ratio(1, 4) == 0.25
    assert ratio(3, 0) == 0.0
