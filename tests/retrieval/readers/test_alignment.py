"""Quote alignment: spans always index the original text, whatever the model changed."""

from __future__ import annotations

import unicodedata

import pytest

from retrieval.readers.alignment import align, grapheme_safe, normalise_with_map

TEXT = ("“We’ll rebuild — whatever it costs,” said Zoe\u0308 Marti\u0301nez 👩‍🔧 on Monday. "
        "The café\u00a0reopened in 2019 after  a   long closure. 東京 officials agreed.")


@pytest.mark.parametrize("quote, expected", [
    ('"We\'ll rebuild - whatever it costs,"', "We’ll rebuild — whatever it costs,”"),
    ("Zoë Martínez", "Zoe\u0308 Marti\u0301nez"),
    ("the cafe reopened in 2019 after a long closure", "The café\u00a0reopened in 2019 after  a   long closure"),
    ("東京 officials", "東京 officials"),
    ("martínez 👩‍🔧 on monday", "Marti\u0301nez 👩‍🔧 on Monday"),
])
def test_normalised_exact_match_maps_back(quote: str, expected: str) -> None:
    found = align(quote, TEXT)
    assert found is not None and found.exact and found.score == 100.0
    got = TEXT[found.span.start:found.span.end]
    assert got.strip('"“”') == expected.strip('"“”')


def test_fuzzy_match_snaps_to_whole_words() -> None:
    found = align("the cafe reopend in 2019 after a long closur", TEXT, threshold=85)
    assert found is not None and not found.exact and found.score >= 85
    got = TEXT[found.span.start:found.span.end]
    assert got.startswith("The café") and got.endswith("closure")


def test_unrelated_or_short_text_is_not_found() -> None:
    assert align("the mayor resigned after the scandal broke", TEXT, threshold=85) is None
    assert align("xq", TEXT) is None  # short: exact only
    assert align("", TEXT) is None


def test_search_is_limited_to_the_region() -> None:
    at = TEXT.index("The café")
    assert align("Zoë Martínez", TEXT, at, len(TEXT)) is None
    found = align("officials agreed", TEXT, at, len(TEXT))
    assert found is not None and found.span.start > at


def test_normalised_positions_point_into_the_original() -> None:
    norm, pos = normalise_with_map(TEXT)
    assert len(norm) == len(pos) and all(0 <= p < len(TEXT) for p in pos)
    assert pos == tuple(sorted(pos))
    assert "zoe martinez" in norm and "  " not in norm


def test_grapheme_safe_keeps_marks_and_joiners() -> None:
    start = TEXT.index("Zoe")
    s, e = grapheme_safe(TEXT, start, start + 3)  # "Zoe" without its diaeresis
    assert TEXT[s:e] == "Zoe\u0308"
    emoji = TEXT.index("👩")
    s, e = grapheme_safe(TEXT, emoji, emoji + 1)
    assert TEXT[s:e] == "👩‍🔧"
    assert not unicodedata.combining(TEXT[s])
