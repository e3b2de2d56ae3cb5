"""What every index backend shares besides :mod:`index.batching`: the number of articles
``add`` embeds and commits together, the chunk-and-embed step, and the embedder and
chunker made from settings on first use with the check that an index was built with the
configured embedding model, and the claim extraction that runs beside the embedding
(:meth:`EmbeddingComponents._embed_and_extract`, used by both backends' add and rebuild)."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from config.settings import Settings
from corpus.article import Article
from index.base import ArchiveError
from index.embedder import Embedder, chunker_for, embedder_from_settings

if TYPE_CHECKING:  # pragma: no cover
    from corpus.chunking import Chunker

Spans = list[tuple[int, int, int]]
"""An article's chunks as ``(index, start, end)``: ``article.text[start:end]`` is a chunk."""


def chunk_and_embed(articles: Iterable[Article], chunker: "Chunker", embedder: Embedder, *,
                    show_progress: bool = False) -> list[tuple[Spans, np.ndarray]]:
    """Per article, in order: its chunk spans and their vectors ``(len(spans), dim)``. All
    chunks are embedded in one call (full model batches)."""
    spans: list[Spans] = []
    texts: list[str] = []
    for article in articles:
        chunks = chunker.split(article.text)
        spans.append([(c.index, c.start, c.end) for c in chunks])
        texts.extend(c.text for c in chunks)
    vectors = embedder.embed(texts, show_progress=show_progress)
    out: list[tuple[Spans, np.ndarray]] = []
    offset = 0
    for article_spans in spans:
        out.append((article_spans, vectors[offset:offset + len(article_spans)]))
        offset += len(article_spans)
    return out


def chunk_count(embedded: Sequence[tuple[Spans, np.ndarray]]) -> int:
    """The number of chunks in a :func:`chunk_and_embed` result."""
    return sum(len(spans) for spans, _ in embedded)


class EmbeddingComponents:
    """The ``embedder`` and ``chunker`` of a backend, made from ``settings`` on first use
    unless an embedder was given (the model itself loads lazily)."""

    settings: Settings
    _embedder: Embedder | None
    _chunker: "Chunker | None"

    @property
    def embedder(self) -> Embedder:
        """The embedder (created from settings on first use; loads the model lazily)."""
        if self._embedder is None:
            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    @property
    def chunker(self) -> "Chunker":
        """The chunker, sized by the embedder's tokenizer and ``max_seq_length``."""
        if self._chunker is None:
            self._chunker = chunker_for(self.embedder, self.settings)
        return self._chunker

    def check_embedder_stamp(self, meta: Mapping[str, str], where: str) -> None:
        """Raise :class:`ArchiveError` when ``meta`` records another embedding model than
        the configured one (``where``: "the index in DIR", named in the message). An index
        without a stamp (nothing embedded yet) passes without loading anything."""
        if not meta.get("embedder_fingerprint"):
            return
        current = self.embedder.fingerprint
        if meta["embedder_fingerprint"] != current:
            raise ArchiveError(
                f"{where} was built with embedding model {meta.get('embedder_name')} "
                f"({meta['embedder_fingerprint']}), but the configured model is "
                f"{self.embedder.name} ({current}): run `byline rebuild` to re-embed")

    def _embed_and_extract(self, articles: list[Article], *,
                           show_progress: bool = False) -> tuple[list, dict[str, list] | None]:
        """:func:`chunk_and_embed` and :meth:`_extract_claims` of ``articles``;
        with ``index.claims_alongside_embedding`` the claims are extracted in a worker thread
        while the chunks are embedded (exceptions of either are raised here)."""
        self._preload_claims_parser()
        if not (self.settings.index.claims and self.settings.index.claims_alongside_embedding):
            embedded = chunk_and_embed(articles, self.chunker, self.embedder, show_progress=show_progress)
            return embedded, self._extract_claims(articles)
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="byline-claims") as pool:
            pending = pool.submit(self._extract_claims, articles)
            embedded = chunk_and_embed(articles, self.chunker, self.embedder, show_progress=show_progress)
            return embedded, pending.result()

    def _preload_claims_parser(self) -> None:
        """Load spaCy for claim extraction in the background while the embedder loads and
        embeds (a one-article ``byline add`` in a fresh process waits for both models)."""
        if self.settings.index.claims:
            from corpus.nlp import preload_nlp

            preload_nlp(self.settings.reader.spacy_model)

    def _extract_claims(self, articles: Sequence[Article]) -> dict[str, list] | None:
        """``{article id: claims}`` (:func:`corpus.claim_rules.extract_claims`, one spaCy
        parse per article), or None when ``index.claims`` is off."""
        if not self.settings.index.claims:
            return None
        from corpus.claim_rules import extract_claims

        return {a.id: extract_claims(a.text, self.settings.reader.spacy_model) for a in articles}
