"""index/shared.py without a model: chunk-and-embed keeps every article's spans with its
own vectors, and the embedder-fingerprint check passes an unstamped index without
touching the embedder and names both models on a mismatch."""

from __future__ import annotations

import numpy as np
import pytest

from corpus.article import Article
from corpus.chunking import Chunk
from index.base import ArchiveError
from index.shared import EmbeddingComponents, chunk_and_embed, chunk_count


class Sentences:
    """A chunker cutting at '. '."""

    def split(self, text: str) -> list[Chunk]:
        chunks, start = [], 0
        for i, piece in enumerate(text.split(". ")):
            chunks.append(Chunk(i, start, start + len(piece), piece, 1))
            start += len(piece) + 2
        return chunks


class Lengths:
    """An embedder whose vector is [len(text), call number]; counts its calls."""

    name, fingerprint, dimension = "lengths", "fp-lengths", 2

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bool]] = []

    def embed(self, texts, *, show_progress: bool = False) -> np.ndarray:
        self.calls.append((list(texts), show_progress))
        return np.array([[len(t), len(self.calls)] for t in texts], dtype=np.float32).reshape(-1, 2)


def test_chunk_and_embed_one_call_spans_and_vectors_per_article() -> None:
    articles = [Article(id="a", title="A", text="One. Two three"), Article(id="b", title="B", text="Four"),
                Article(id="c", title="C", text="Five. Six. Seven")]
    embedder = Lengths()
    out = chunk_and_embed(articles, Sentences(), embedder, show_progress=True)
    assert len(embedder.calls) == 1 and embedder.calls[0][1] is True
    assert [spans for spans, _ in out] == [[(0, 0, 3), (1, 5, 14)], [(0, 0, 4)], [(0, 0, 4), (1, 6, 9), (2, 11, 16)]]
    for spans, vectors in out:
        assert vectors.shape == (len(spans), 2)
        assert [int(v[0]) for v in vectors] == [end - start for _, start, end in spans]
    assert chunk_count(out) == 6
    assert chunk_and_embed([], Sentences(), embedder) == []


class Backend(EmbeddingComponents):
    def __init__(self, embedder) -> None:
        self.settings = None  # never read: the embedder is given
        self._embedder = embedder
        self._chunker = None


class Untouchable:
    def __getattr__(self, name: str):
        raise AssertionError(f"the embedder was used ({name})")


def test_fingerprint_check() -> None:
    Backend(Untouchable()).check_embedder_stamp({}, "the index in X")  # nothing embedded yet
    Backend(Untouchable()).check_embedder_stamp({"embedder_fingerprint": ""}, "the index in X")
    backend = Backend(Lengths())
    backend.check_embedder_stamp({"embedder_fingerprint": "fp-lengths"}, "the index in X")
    with pytest.raises(ArchiveError) as caught:
        backend.check_embedder_stamp({"embedder_fingerprint": "fp-other", "embedder_name": "other"}, "the index in X")
    assert str(caught.value) == ("the index in X was built with embedding model other (fp-other), but the "
                                 "configured model is lengths (fp-lengths): run `byline rebuild` to re-embed")
