"""Follow-up rewriting: pronoun-led and elliptical follow-ups become standalone queries."""

from __future__ import annotations

import pytest

from retrieval.conversation import rewrite_followup

pytestmark = pytest.mark.slow

HISTORY = [("Who estimated the number of Chinese fighters in Syria?", "Imad Moustapha")]


def test_pronoun_is_resolved_to_previous_answer_and_topic_is_carried() -> None:
    out = rewrite_followup("Which country is he ambassador of?", HISTORY)
    assert out.startswith("Which country is Imad Moustapha ambassador of?")
    for word in ("Chinese", "fighters", "Syria"):
        assert word in out


def test_what_else_did_he_say() -> None:
    out = rewrite_followup("What else did he say?", HISTORY)
    assert "Imad Moustapha" in out and "Syria" in out and " he " not in f" {out} "


def test_possessive_pronoun() -> None:
    out = rewrite_followup("What is his job?", HISTORY)
    assert "Imad Moustapha's job" in out


def test_elliptical_follow_up_gets_context() -> None:
    out = rewrite_followup("And Xinjiang?", HISTORY)
    assert out.startswith("And Xinjiang?") and "Syria" in out


def test_self_contained_questions_are_unchanged() -> None:
    q = "Who is the president of France?"
    assert rewrite_followup(q, HISTORY) == q
    assert rewrite_followup("Which country is he ambassador of?", []) == "Which country is he ambassador of?"


def test_it_refers_to_a_thing() -> None:
    history = [("Which show was green lit for a second season?", "Squid Game")]
    out = rewrite_followup("Who directs it?", history)
    assert "Squid Game" in out


def test_it_is_the_thing_asked_about_not_the_organisation_beside_it() -> None:
    history = [("How large is the operating budget the Northfield City Council approved for 2024-25?",
                "$412 million")]
    out = rewrite_followup("When does it take effect?", history)
    assert out.startswith("When does the operating budget take effect?"), out
