"""Readers: turn a question and retrieved passages into an answer span with confidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.readers.base import Reader, TextEmbedder, check_answer

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import Settings

__all__ = ["Reader", "TextEmbedder", "check_answer", "make_reader"]


def make_reader(settings: "Settings", embedder: TextEmbedder) -> Reader:
    """The reader named by ``settings.reader.name`` (only ``"offline"`` exists so far).

    Raises ``ValueError`` for any other name.
    """
    name = settings.reader.name
    if name == "offline":
        from retrieval.readers.offline import OfflineReader

        return OfflineReader(embedder, spacy_model=settings.reader.spacy_model)
    raise ValueError(f"reader {name!r} is not available yet (supported: 'offline')")
