"""web.service.QAService on its own: request validation, warm-up, errors and health,
with a fake pipeline and archive (no models load)."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import load_settings
from web.service import QAService, RequestError


class FakePipeline:
    def __init__(self, fail_warm_up: bool = False, fail_ask: Exception | None = None) -> None:
        self.fail_warm_up, self.fail_ask = fail_warm_up, fail_ask
        self.warmed, self.asked = 0, []

    def warm_up(self, question: str) -> None:
        self.warmed += 1
        if self.fail_warm_up:
            raise RuntimeError("model directory unreadable")

    def ask(self, question: str, history: Any = (), filters: Any = None, k: Any = None) -> str:
        if self.fail_ask is not None:
            raise self.fail_ask
        self.asked.append((question, list(history)))
        return f"answer to {question}"


class FakeArchive:
    def __init__(self, health: dict | Exception) -> None:
        self._health = health

    def list_articles(self) -> list[str]:
        return ["a", "b"]

    def index_health(self) -> dict:
        if isinstance(self._health, Exception):
            raise self._health
        return self._health


def service(tmp_path, pipeline=None, health: dict | Exception | None = None, **server: Any) -> QAService:
    settings = load_settings(data_dir=tmp_path, server=server or None)
    return QAService(settings, archive=FakeArchive(health or {"status": "ok"}), pipeline=pipeline or FakePipeline())


@pytest.mark.parametrize("question, message", [(None, "must be a string"), ("   ", "empty"),
                                               ("x" * 11, "11 characters, the limit is 10"),
                                               ("bad \ud800", "lone surrogate")])
def test_bad_questions_are_refused_with_the_field_named(tmp_path, question, message) -> None:
    with pytest.raises(RequestError, match=message) as err:
        service(tmp_path, max_question_chars=10).check_question(question)
    assert str(err.value).startswith("question:") and err.value.status == 422


def test_history_is_checked_and_only_the_last_turns_are_kept(tmp_path) -> None:
    s = service(tmp_path, max_history_turns=2)
    turns = [["q1", "a1"], ["q2", "a2"], ["q3", "a3"]]
    assert s.check_history(turns) == [("q2", "a2"), ("q3", "a3")]
    assert s.check_history(None) == []
    with pytest.raises(RequestError, match=r"history\[1\]: must be a \[question, answer\] pair"):
        s.check_history([["q", "a"], ["only one"]])
    assert service(tmp_path, max_history_turns=0).check_history(turns) == []


def test_ask_warms_up_once_and_a_value_error_becomes_a_request_error(tmp_path) -> None:
    pipeline = FakePipeline()
    s = service(tmp_path, pipeline)
    assert s.ask("Who?", history=[("q", "a")]) == "answer to Who?" and s.ready.is_set()
    s.ask("Again?")
    assert pipeline.warmed == 1 and pipeline.asked[0] == ("Who?", [("q", "a")])
    failing = service(tmp_path, FakePipeline(fail_ask=ValueError("filters.since: not a date")))
    with pytest.raises(RequestError, match="filters.since: not a date"):
        failing.ask("Who?")


def test_a_failed_warm_up_is_recorded_and_the_service_still_answers(tmp_path) -> None:
    s = service(tmp_path, FakePipeline(fail_warm_up=True))
    s.warm_up()
    assert s.ready.is_set() and s.warm_up_error == "RuntimeError: model directory unreadable"
    assert s.ask("Who?") == "answer to Who?"


def test_health_says_ok_degraded_or_error(tmp_path) -> None:
    assert service(tmp_path).health()["status"] == "ok"
    degraded = service(tmp_path, health={"status": "degraded", "repairs": ["lexical"]}).health()
    assert degraded["status"] == "degraded" and degraded["articles"] == 2
    broken = service(tmp_path, health=OSError("database disk image is malformed")).health()
    assert broken["status"] == "error" and "malformed" in broken["index"]["error"] and broken["articles"] is None
