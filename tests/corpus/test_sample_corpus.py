"""Checks on the bundled sample corpus (corpus/sample/*.jsonl). No models are loaded."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "corpus" / "sample"
ARTICLES_PATH = SAMPLE_DIR / "articles.jsonl"
QUESTIONS_PATH = SAMPLE_DIR / "questions.jsonl"

ARTICLE_FIELDS = ("id", "title", "text", "url", "published", "source")
QUESTION_FIELDS = ("id", "article_id", "question", "answers", "answerable", "corpus")
# Same rule as corpus.article.validate_article_id.
ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,199}$")


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            assert line.strip(), f"{path.name}:{lineno} is blank"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"{path.name}:{lineno} is not valid JSON: {exc}")
            assert isinstance(row, dict), f"{path.name}:{lineno} is not a JSON object"
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def articles() -> list[dict]:
    return _read_jsonl(ARTICLES_PATH)


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return _read_jsonl(QUESTIONS_PATH)


@pytest.fixture(scope="module")
def articles_by_id(articles) -> dict[str, dict]:
    return {a["id"]: a for a in articles}


def test_files_exist_and_not_empty(articles, questions):
    assert len(articles) >= 10
    assert len(questions) >= 20


def test_article_fields_present_and_non_empty(articles):
    for a in articles:
        for name in ARTICLE_FIELDS:
            assert name in a, f"article {a.get('id')!r} lacks {name!r}"
            assert isinstance(a[name], str) and a[name].strip(), (
                f"article {a.get('id')!r} has empty {name!r}"
            )


def test_article_ids_unique_and_valid(articles):
    ids = [a["id"] for a in articles]
    assert len(ids) == len(set(ids)), "duplicate article ids"
    for article_id in ids:
        assert ID_OK.match(article_id) and ".." not in article_id, article_id


def test_article_published_parses_as_date(articles):
    for a in articles:
        dt.date.fromisoformat(a["published"])


def test_article_text_shape(articles):
    for a in articles:
        text = a["text"]
        assert text == text.strip(), f"{a['id']}: text has leading/trailing whitespace"
        assert "\n\n" in text, f"{a['id']}: text has no paragraph breaks"
        assert 250 <= len(text.split()) <= 600, f"{a['id']}: word count out of range"
        assert a["url"].startswith("https://example.org/"), a["url"]


def test_question_fields_present(questions):
    for q in questions:
        for name in QUESTION_FIELDS:
            assert name in q, f"question {q.get('id')!r} lacks {name!r}"
        assert isinstance(q["id"], str) and q["id"].strip()
        assert isinstance(q["question"], str) and q["question"].strip()
        assert isinstance(q["answers"], list)
        assert isinstance(q["answerable"], bool)
        assert q["corpus"] == "sample"


def test_question_ids_unique(questions):
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate question ids"


def test_answerable_questions_point_at_existing_articles(questions, articles_by_id):
    for q in questions:
        if q["answerable"]:
            assert q["answers"], f"{q['id']}: answerable but no answers"
            assert q["article_id"] in articles_by_id, (
                f"{q['id']}: unknown article_id {q['article_id']!r}"
            )
        else:
            assert q["answers"] == [], f"{q['id']}: unanswerable but has answers"
            assert q["article_id"] is None, f"{q['id']}: unanswerable but has article_id"


def test_answer_spans_match_article_text(questions, articles_by_id):
    for q in questions:
        for ans in q["answers"]:
            text = articles_by_id[q["article_id"]]["text"]
            answer, start = ans["text"], ans["start"]
            assert isinstance(answer, str) and answer.strip(), f"{q['id']}: empty answer"
            assert isinstance(start, int) and 0 <= start <= len(text) - len(answer), (
                f"{q['id']}: start {start} out of range"
            )
            assert text[start : start + len(answer)] == answer, (
                f"{q['id']}: span {text[start:start + len(answer)]!r} != {answer!r}"
            )


def test_has_unanswerable_questions(questions):
    assert sum(1 for q in questions if not q["answerable"]) >= 5
