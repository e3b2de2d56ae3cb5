"""Small talk gets a short reply, never an extracted answer."""

from __future__ import annotations

import pytest

from retrieval.smalltalk import small_talk_reply


@pytest.mark.parametrize("message", ["Hello", "hi there!", "Thanks!", "thank you so much", "ok", "OK thanks",
                                     "Good morning", "bye", "cool", "Who are you?", "👍 thanks",
                                     "Thanks, that's all.", "That's all, thank you"])
def test_small_talk_is_recognised(message: str) -> None:
    reply = small_talk_reply(message)
    assert reply and "[" not in reply


@pytest.mark.parametrize("message", ["Thanks to whom was the bill passed?", "Who said hello to the crowd?",
                                     "ok, who won the vote?", "Why?", "Hello Kitty maker Sanrio: what did it report?",
                                     "How much was the fine?", "Is that all the council approved?"])
def test_questions_are_not_small_talk(message: str) -> None:
    assert small_talk_reply(message) is None
