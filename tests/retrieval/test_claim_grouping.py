"""retrieval.claims.group_claims: claims about one quantity share a group, and the group's
``figures_differ`` flag (shown by the chat and the widget) is set there, once."""

from __future__ import annotations

import datetime as dt

from corpus.claims import Claim, Figure, TextSpan
from retrieval.claims import ClaimHit, group_claims


def _hit(cid: int, speaker: str, content: str, figure: str | None, article: str) -> ClaimHit:
    span = TextSpan(content, 100, 100 + len(content))
    figures = ()
    if figure is not None:
        at = content.index(figure)
        figures = (Figure(figure, 100 + at, 100 + at + len(figure)),)
    claim = Claim(speaker=TextSpan(speaker, 0, len(speaker)), cue=TextSpan("estimated", 50, 59),
                  cue_lemma="estimate", content=span, sentence=TextSpan(content, 100, 100 + len(content)),
                  figures=figures)
    return ClaimHit(cid, article, "T", "", dt.date(2024, 3, 1), claim, 1.0 / cid)


def test_disagreeing_figures_about_one_quantity_are_flagged_once_per_group() -> None:
    hits = group_claims([
        _hit(1, "Priya Hallenbeck", "the port strike would cost the region $1.2 billion", "$1.2 billion", "a"),
        _hit(2, "Gus Amberly", "a sunny weekend is expected at the harbor", None, "b"),
        _hit(3, "Local 17", "the port strike would cost the region $310 million", "$310 million", "c"),
    ])
    by_speaker = {h.claim.speaker_name: h for h in hits}
    assert by_speaker["Priya Hallenbeck"].group == by_speaker["Local 17"].group != by_speaker["Gus Amberly"].group
    assert by_speaker["Priya Hallenbeck"].figures_differ and by_speaker["Local 17"].figures_differ
    assert not by_speaker["Gus Amberly"].figures_differ
    assert by_speaker["Local 17"].to_dict()["figures_differ"] is True


def test_the_same_figure_from_two_speakers_is_not_a_disagreement() -> None:
    hits = group_claims([
        _hit(1, "A", "the port strike would cost the region $310 million", "$310 million", "a"),
        _hit(2, "B", "the port strike would cost the region $310 million", "$310 million", "b"),
    ])
    assert hits[0].group == hits[1].group
    assert not any(h.figures_differ for h in hits)


def test_one_claim_with_several_figures_is_not_a_disagreement() -> None:
    hits = group_claims([_hit(1, "A", "six ships were diverted 240 miles at a cost of $900,000", "$900,000", "a")])
    assert not hits[0].figures_differ
