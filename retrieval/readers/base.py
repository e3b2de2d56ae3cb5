"""The reader interface: question + retrieved passages -> one extracted answer span."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from retrieval.types import ExtractedAnswer, Passage

__all__ = ["FollowupRewriter", "Reader", "SpanInvariantError", "StreamingReader", "TextEmbedder", "check_answer"]


class TextEmbedder(Protocol):
    """Anything with ``embed(texts) -> float32 (n, dim)`` L2-normalised rows (e.g. ``index.embedder.Embedder``)."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class Reader(ABC):
    """Extracts the best answer span for a question from retrieved passages.

    ``generates``: True for readers whose every answer costs a model generation (the LLM
    reader); the server's warm-up then only calls :meth:`load` instead of answering a
    question. ``streams_drafts``: True when :meth:`stream`-style text pieces are
    provisional (shown as a draft until the answer is verified).
    """

    generates: bool = False
    streams_drafts: bool = False

    def load(self) -> None:  # noqa: B027 - optional hook: a reader without models need not override it
        """Load models now (the server's warm-up); the default loads nothing."""

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


@runtime_checkable
class StreamingReader(Protocol):
    """A reader that can show its answer while it is produced (the ``llm`` reader).

    ``stream`` yields text pieces (``str``; drafts when the reader's ``streams_drafts`` is
    True), then exactly one final item: the answer, or None when there is nothing to read.
    The pipeline checks this capability with ``isinstance``; other readers answer at once.
    """

    def stream(self, question: str, passages: Sequence[Passage],
               article_texts: Mapping[str, str]) -> Iterator[str | ExtractedAnswer | None]: ...


@runtime_checkable
class FollowupRewriter(Protocol):
    """A reader that rewrites a follow-up into a standalone question itself (the ``llm`` reader).

    ``history`` holds earlier ``(question, answer)`` turns, oldest first. It may raise any
    ``Exception`` (an endpoint failure, a setting turned off); the pipeline then falls back
    to its own rule-based rewriting.
    """

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str: ...


class SpanInvariantError(ValueError):
    """A reader produced an answer whose spans do not hold against its article."""


def check_answer(answer: ExtractedAnswer, article_text: str) -> ExtractedAnswer:
    """Check the span invariants of ``answer`` against its article; return it unchanged.

    ``article_text[answer_span] == answer.answer``, the evidence span contains the answer
    span, both lie inside the text, and ``0 <= confidence <= 1``. Raises
    :class:`SpanInvariantError` naming the article and the broken invariant (a real
    check, not an ``assert``, so it also holds under ``python -O``).
    """
    a, e = answer.answer_span, answer.evidence_span
    where = f"answer of article {answer.article_id!r}"
    if article_text[a.start:a.end] != answer.answer:
        raise SpanInvariantError(f"{where}: answer span [{a.start}, {a.end}) is not the text {answer.answer!r}")
    if not e.contains(a):
        raise SpanInvariantError(f"{where}: evidence [{e.start}, {e.end}) does not contain the answer [{a.start}, {a.end})")
    if e.end > len(article_text):
        raise SpanInvariantError(f"{where}: evidence ends at {e.end}, past the article's {len(article_text)} characters")
    if not 0.0 <= answer.confidence <= 1.0:
        raise SpanInvariantError(f"{where}: confidence {answer.confidence} outside [0, 1]")
    return answer
