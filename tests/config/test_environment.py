"""config.environment: the one place that sets the offline environment."""

from __future__ import annotations

import pytest

from config.environment import OFFLINE_ENVIRONMENT, use_offline_environment


def test_sets_what_is_missing_and_keeps_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OFFLINE_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # a user who opts in to the Hub keeps it
    use_offline_environment()
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "0"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
