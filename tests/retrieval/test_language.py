"""The English-only check of questions (``retrieval/language.py``): other languages are
named, English questions with foreign names and words are not flagged."""

from __future__ import annotations

import json

import pytest

from byline_testing import shared_path
from retrieval.language import english_only_reply, non_english_language


@pytest.mark.parametrize("question, language", [
    ("Wer ist der Bürgermeister von Northfield?", "German"),
    ("Was ist die Hauptstadt?", "German"),
    ("Qui est le directeur financier de la ville ?", "French"),
    ("Où est la mairie?", "French"),
    ("¿Quién es el director de finanzas?", "Spanish"),
    ("Chi è il sindaco della città?", "Italian"),
    ("Quem é o diretor financeiro da cidade?", "Portuguese"),
    ("Wie is de burgemeester van de stad?", "Dutch"),
    ("谁是财务总监？", "Chinese"),
    ("東京の人口は？", "Japanese"),
    ("서울의 인구는?", "Korean"),
    ("Кто мэр города?", "Russian (Cyrillic script)"),
])
def test_other_languages_are_named(question: str, language: str) -> None:
    assert non_english_language(question) == language
    assert language in english_only_reply(language) and "English" in english_only_reply(language)


@pytest.mark.parametrize("question", [
    "Who is Jean de la Fontaine?", "What is a coup d'état?", "What did Le Monde say about the Tour de France?",
    "When did Die Zeit report on the El Niño event?", "How many people live in São Paulo?",
    "Who said 'la vie est belle'?", "What is the population of Xinjiang?", "Hello", "?", "",
    "Who estimated that as many as 5,000 Chinese had gone to Syria?", "Who founded 阿里巴巴 (Alibaba)?",
])
def test_english_questions_are_not_flagged(question: str) -> None:
    assert non_english_language(question) is None


def test_no_dev_question_is_flagged() -> None:
    """All 3,077 English dev questions pass (news and Wikipedia, names of every origin)."""
    path = shared_path("data", "dev", "questions.jsonl")
    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    flagged = [(q, non_english_language(q)) for q in questions if non_english_language(q)]
    assert flagged == []
