"""The chat's example questions come from the archive in use: the sample corpus's
questions when the sample is loaded, otherwise questions about its recent headlines."""

from __future__ import annotations

import json
from dataclasses import dataclass

from web.service import SAMPLE_ARTICLES, load_sample_questions
from web.ui import example_questions


@dataclass
class Summary:
    id: str
    title: str


class FakeArchive:
    def __init__(self, summaries: list[Summary]) -> None:
        self.summaries = summaries

    def list_articles(self) -> list[Summary]:
        return self.summaries


class FakeService:
    def __init__(self, summaries: list[Summary]) -> None:
        self.archive = FakeArchive(summaries)


def test_sample_questions_when_the_sample_is_loaded() -> None:
    ids = [json.loads(line)["id"] for line in SAMPLE_ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    label, questions = example_questions(FakeService([Summary(i, "t") for i in ids]))
    assert questions == load_sample_questions(6) and label == "Example questions"


def test_recent_headlines_when_the_sample_is_not_loaded() -> None:
    recent = [Summary(f"own-{i}", f"Headline {i}") for i in range(8)]
    label, questions = example_questions(FakeService(recent))
    assert label == "Recent in the archive"
    assert len(questions) == 6 and all("Headline" in q for q in questions)
    assert "Headline 0" in questions[0]  # newest first, as list_articles returns them
    assert not set(questions) & set(load_sample_questions(30))


def test_no_examples_for_an_empty_archive() -> None:
    assert example_questions(FakeService([]))[1] == []
