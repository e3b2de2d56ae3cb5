"""Question analysis: wh-word, head noun, expected answer types and keywords (loads spaCy)."""

from __future__ import annotations

import pytest

from retrieval.question import analyze_question, content_words

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("question", "wh", "types"),
    [
        ("Who estimated that as many as 5,000 Chinese had gone to Syria?", "who", {"PERSON", "ORG", "NORP"}),
        ("When did Comey warn lawmakers about a terrorist diaspora?", "when", {"DATE", "TIME", "EVENT"}),
        ("How many hot dogs did Joey Chestnut eat?", "how many", {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
        ("Where is Mar-a-Lago located?", "where", {"GPE", "LOC", "FAC", "ORG"}),
        ("Which country was shaken by an earthquake?", "which", {"GPE", "NORP"}),
        ("What year did the war end?", "what", {"DATE"}),
        ("Which popular singer will launch a Las Vegas residency?", "which", {"PERSON"}),
        ("What percentage of adults disapprove?", "what", {"PERCENT"}),
    ],
)
def test_expected_types(question: str, wh: str, types: set[str]) -> None:
    qa = analyze_question(question)
    assert qa.wh == wh
    assert set(qa.expected_types) == types


def test_head_noun_skips_verbs_and_keeps_possessor() -> None:
    assert analyze_question("Which team won the 2022 Stanley Cup?").head == "team"
    assert analyze_question("Primary voters in which state struck down the amendment?").head == "state"
    assert analyze_question("Which company’s stock became cheaper?").head == "company"


def test_quiz_style_focus_and_relative_pronoun() -> None:
    qa = analyze_question("A processed cheese product is booming. Which product is it?")
    assert qa.focus == "Which product is it?"
    assert "cheese" in qa.keywords
    qa = analyze_question("A strike killed the world’s most wanted terrorist, who was associated with which group?")
    assert qa.wh == "which" and qa.head == "group"


def test_clause_and_np_kinds() -> None:
    assert analyze_question("Why were some SUVs recalled?").answer_kind == "clause"
    assert analyze_question("What did the images show?").answer_kind == "clause"
    assert analyze_question("Which animal was caught in Florida?").answer_kind == "np"
    assert analyze_question("How old is he?").answer_kind == "number"


def test_keywords_and_names() -> None:
    qa = analyze_question("Who estimated that as many as 5,000 Chinese had gone to Syria?")
    assert qa.keywords == ("estimated", "5,000", "chinese", "gone", "syria")
    assert qa.names == ("Chinese", "Syria")
    assert content_words("The US and the U.S.’s allies") == ["us", "u.s", "allies"]


def test_empty_question() -> None:
    qa = analyze_question("")
    assert qa.wh == "other" and qa.keywords == ()


def test_focus_survives_abbreviations_and_plural_heads() -> None:
    qa = analyze_question("According to a recent survey, what percentage of US adults disapprove of the "
                          "Supreme Court’s decision to overturn Roe v. Wade?")
    assert qa.wh == "what" and qa.expected_types == {"PERCENT"}
    assert analyze_question("Which two countries did NATO invite to join?").plural
    assert not analyze_question("Which team won the 2022 Stanley Cup?").plural
    assert "TIME" in analyze_question("How many minutes did the hearing last?").expected_types
