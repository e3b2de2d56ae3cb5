"""The reader interface: question + retrieved passages -> one extracted answer span."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Mapping, Protocol, Sequence

import numpy as np

from retrieval.types import ExtractedAnswer, Passage

__all__ = ["Reader", "TextEmbedder", "check_answer"]


class TextEmbedder(Protocol):
    """Anything with ``embed(texts) -> float32 (n, dim)`` L2-normalised rows (e.g. ``index.embedder.Embedder``)."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class Reader(ABC):
    """Extracts the best answer span for a question from retrieved passages."""

    @abstractmethod
    def read(
        self,
        question: str,
        passages: Sequence[Passage],
        article_texts: Mapping[str, str],
    ) -> ExtractedAnswer | None:
        """Return the best candidate, even a weak one, with ``confidence`` in [0, 1].

        ``passages`` are in retrieval order (best first); ``article_texts`` maps each
        ``Passage.article_id`` to the article's full text, which all offsets index.
        Returns None only when there is nothing to read (no passages, no text).
        The caller abstains when ``confidence`` is below ``reader.abstain_threshold``.
        """


def check_answer(answer: ExtractedAnswer, article_text: str) -> ExtractedAnswer:
    """Assert the span invariants of ``answer`` against its article; return it unchanged.

    ``article_text[answer_span] == answer.answer``, the evidence span contains the answer
    span, both lie inside the text, and ``0 <= confidence <= 1``.
    """
    a, e = answer.answer_span, answer.evidence_span
    assert article_text[a.start:a.end] == answer.answer, "answer span does not match text"
    assert e.contains(a), "evidence span does not contain the answer span"
    assert e.end <= len(article_text), "evidence span outside the article"
    assert 0.0 <= answer.confidence <= 1.0, "confidence outside [0, 1]"
    return answer
