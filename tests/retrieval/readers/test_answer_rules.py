"""The answer rules: expected type per question, type check of a span, question constraints."""

from __future__ import annotations

import pytest

from retrieval.question import analyze_question
from retrieval.readers.answer_rules import (Constraint, constraint_support, expected_kind, number_unit,
                                            question_constraints, type_ok)

pytestmark = pytest.mark.slow  # analyze_question parses with spaCy


@pytest.mark.parametrize("question, kind", [
    ("Who estimated that as many as 5,000 Chinese went to Syria?", "person"),
    ("When did Comey warn lawmakers about a terrorist diaspora?", "date"),
    ("In what year did the strike end?", "date"),
    ("How many fighters went to Syria?", "number"),
    ("How much did the council approve for the budget?", "number"),
    ("What percentage of voters backed the measure?", "number"),
    ("Where did the probe land?", "place"),
    ("Which city hosted the summit?", "place"),
    ("What did the mayor say about the budget?", None),
    ("Who scored the winning goal in the final?", "individual"),
    ("Who painted 'Harbor at Dusk'?", "individual"),
    ("Covid-19 vaccinations began for which age group this week?", "thing"),
    ("What time does the market open?", None),
])
def test_expected_kind(question: str, kind: str | None) -> None:
    assert expected_kind(analyze_question(question)) == kind


def test_money_and_share_units() -> None:
    assert number_unit(analyze_question("How large is the operating budget the council approved?")) == "money"
    assert number_unit(analyze_question("What share of the vote did she win?")) == "percent"
    assert number_unit(analyze_question("How many people were evacuated?")) is None
    assert number_unit(analyze_question("How much did the Lantern spacecraft weigh at launch?")) == "measure"
    assert number_unit(analyze_question("How tall is the new tower?")) == "measure"
    assert number_unit(analyze_question("How far did the share price fall?")) is None
    assert number_unit(analyze_question("On what date did the bridge reopen?")) == "day"
    assert number_unit(analyze_question("In what year did the bridge reopen?")) is None


@pytest.mark.parametrize("kind, span, labels, unit, ok", [
    ("person", "Imad Moustapha", {"PERSON"}, None, True),
    ("person", "the city's finance director", set(), None, True),
    ("person", "The strike", set(), None, False),
    ("person", "gold", set(), None, False),
    ("date", "October 2015", {"DATE"}, None, True),
    ("date", "four-year", set(), None, False),
    ("date", "Tuesday", set(), None, True),
    ("number", "6", {"CARDINAL"}, "money", False),
    ("number", "$1.2 billion", {"MONEY"}, "money", True),
    ("number", "1.1-billion-kilometer", set(), "money", False),
    ("number", "31 men", {"CARDINAL"}, None, True),
    ("number", "Calloway", {"PERSON"}, None, False),
    ("number", "12 percent", {"PERCENT"}, "percent", True),
    ("number", "€640 million", {"MONEY"}, "measure", False),
    ("number", "1,200 kilograms", {"QUANTITY"}, "measure", True),
    ("number", "40 percent", {"PERCENT"}, "measure", False),
    ("date", "2020", {"DATE"}, "day", False),
    ("date", "March 3, 2020", {"DATE"}, "day", True),
    ("date", "Tuesday", {"DATE"}, "day", True),
    ("date", "Wednesdays", {"DATE"}, "day", True),
    ("date", "2020", {"DATE"}, None, True),
    ("place", "Idaho", {"GPE"}, None, True),
    ("place", "last week", {"DATE"}, None, False),
    ("individual", "Fenwick Foxes", {"ORG"}, None, False),
    ("individual", "Mara Quist", {"PERSON"}, None, True),
    ("individual", "the team's captain", set(), None, True),
    ("person", "Fenwick Foxes", {"ORG"}, None, True),
    ("person", "the Battle of Hastings", {"EVENT"}, None, False),
    ("person", "Trim Castle", {"FAC"}, None, False),
    ("person", "the Magna Carta", {"LAW"}, None, False),
    ("person", "the Battle Commission", {"ORG"}, None, True),
    ("thing", "Tuesday", {"DATE"}, None, False),
    ("thing", "children under 5", {"DATE"}, None, True),
    ("thing", "Squid Game", {"WORK_OF_ART"}, None, True),
])
def test_type_ok(kind: str, span: str, labels: set[str], unit: str | None, ok: bool) -> None:
    assert type_ok(kind, span, labels, unit) is ok


def test_constraints_are_found_or_missed() -> None:
    q = "What did the Northfield council approve in 2019 for “Harbor at Dusk”?"
    cons = question_constraints(q, analyze_question(q))
    kinds = {(c.kind, c.text) for c in cons}
    assert ("year", "2019") in kinds and ("title", "Harbor at Dusk") in kinds
    assert any(c.kind == "name" and "Northfield" in c.text for c in cons)
    context = "The Northfield City Council approved $2 million in 2023 to restore “Harbor at Dusk”."
    share, hard_ok = constraint_support(cons, context)
    assert not hard_ok  # 2019 is nowhere: a decoy
    share, hard_ok = constraint_support(cons, context.replace("2023", "2019"))
    assert hard_ok and share == 1.0
    # the article's date counts for a year
    assert constraint_support([c for c in cons if c.kind == "year"], "no year here", published="2019-05-02")[1]


def test_numbers_compare_digits() -> None:
    q = "Who said 5,000 fighters had gone?"
    cons = question_constraints(q, analyze_question(q))
    assert constraint_support(cons, "as many as 5000 fighters")[1]
    assert not constraint_support(cons, "as many as 500 fighters")[1]


def test_a_place_after_in_or_at_is_hard_and_the_subject_is_not() -> None:
    q = "How many people does Quillstone Systems employ in Kestrel Bay?"
    cons = question_constraints(q, analyze_question(q))
    assert {(c.kind, c.text) for c in cons} == {("name", "Quillstone Systems"), ("place", "Kestrel Bay")}
    other_town = "In Port Ellery, where the company employs about 5,200 people, the city prepared help."
    assert constraint_support(cons, other_town) == (0.0, False)
    share, hard_ok = constraint_support(cons, "The company employs 900 people in Kestrel Bay.")
    assert hard_ok and share == 0.5  # the subject is "the company" there: counted in the share only
    q = "Who scored the winning goal at the Riverlands final?"
    assert [c.kind for c in question_constraints(q, analyze_question(q))] == ["place"]


def test_who_won_needs_evidence_that_someone_won() -> None:
    q = "Who won the Calloway mayoral election?"
    cons = question_constraints(q, analyze_question(q))
    assert Constraint("outcome", "won") in cons
    poll = "A poll shows Maria Ortiz and Dan Cole level six weeks before the Calloway election."
    result = "Maria Ortiz was elected mayor of Calloway on Tuesday with 54 percent of the vote."
    assert constraint_support(cons, poll)[1] is False
    share, hard_ok = constraint_support(cons, result)
    assert hard_ok and share == 1.0  # the outcome is left out of the share
    assert constraint_support(cons, "Cole conceded after Ortiz's victory in Calloway.")[1] is True
    other = "Who wrote the Calloway budget?"
    assert all(c.kind != "outcome" for c in question_constraints(other, analyze_question(other)))
