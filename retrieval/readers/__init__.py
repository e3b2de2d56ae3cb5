"""Readers: turn a question and retrieved passages into an answer span with confidence.

Three backends, chosen by ``settings.reader.name`` (see ``config/default.toml``):

* ``"offline"`` (default): :class:`~retrieval.readers.trained.TrainedReader`, Byline's
  trained MiniLM span model (``retrieval/readers/models/byline-reader-minilm``, built by
  ``training/``) held to the answer-type and question-constraint rules, with a learned
  ranking, a calibrated confidence and three outcomes (answered / uncertain / abstained);
* ``"offline-rules"``: :class:`~retrieval.readers.offline.OfflineReader`, the earlier
  rule-based reader (MiniLM sentence ranking + spaCy spans), kept for comparison;
* ``"transformers"``: :class:`~retrieval.readers.transformers_qa.TransformersReader`, any
  local extractive QA model (SQuAD / SQuAD 2.0 style);
* ``"llm"``: :class:`~retrieval.readers.llm.LLMReader`, an OpenAI-compatible chat endpoint
  whose citations are verified, falling back to the offline reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.readers.base import Reader, TextEmbedder, check_answer

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import Settings

__all__ = ["READERS", "Reader", "TextEmbedder", "check_answer", "make_reader"]

READERS = ("offline", "offline-rules", "transformers", "llm")


def make_reader(settings: "Settings", embedder: TextEmbedder) -> Reader:
    """The reader named by ``settings.reader.name`` (one of :data:`READERS`).

    Construction is cheap: models load on first ``read``. Raises ``ValueError`` (with the
    setting to change) for an unknown name, an empty ``reader.transformers.model``, or an
    empty ``reader.llm.base_url`` / ``reader.llm.model``.
    """
    cfg = settings.reader
    name = cfg.name

    def offline() -> Reader:
        from retrieval.readers.trained import TrainedReader

        return TrainedReader(spacy_model=cfg.spacy_model, embedder=embedder)

    if name == "offline":
        return offline()
    if name == "offline-rules":
        from retrieval.readers.offline import OfflineReader

        return OfflineReader(embedder, spacy_model=cfg.spacy_model)
    if name == "transformers":
        from retrieval.readers.transformers_qa import TransformersReader

        return TransformersReader.from_settings(cfg.transformers)
    if name == "llm":
        from retrieval.readers.llm import LLMReader

        return LLMReader.from_settings(cfg.llm, fallback=offline)
    raise ValueError(f"unknown reader {name!r} (supported: {', '.join(READERS)})")
