"""Article-level splits of the dev set: what the trained reader may learn from, what its
confidence is calibrated on, and what it is judged on.

Every split is by **article** (a question goes where its article goes), so no article's
text is seen in training and then scored. Unanswerable news questions have no article
(``article_id: null``) and are split by their own id. The split is a stable hash
(SHA-1 of the id, mod 10): 0-5 ``train`` (60 %), 6-7 ``calib`` (20 %, calibration of the
confidence and the answer/uncertain/abstain thresholds), 8-9 ``heldout`` (20 %, reported,
never fitted on). ``byline eval --split`` uses the same function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

__all__ = ["SPLITS", "split_of", "question_split", "read_jsonl", "DEV_DIR"]

from retrieval.evaluation import SPLITS, dev_split
from training.harness import DEV_DIR


def split_of(key: str) -> str:
    """``"train" | "calib" | "heldout"`` for an article id (or a question id), by SHA-1 mod 10
    (``retrieval.evaluation.dev_split``, which ``byline eval --split`` uses too)."""
    return dev_split(key)


def question_split(question: dict) -> str:
    """The split of one dev question: its article's, or its own id's when it has no article."""
    key = question.get("article_id") or question["id"]
    return split_of(str(key))


def read_jsonl(path: Path) -> Iterator[dict]:
    """Yield the JSON objects of a JSON Lines file; a bad line raises ``ValueError`` naming it."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from exc
