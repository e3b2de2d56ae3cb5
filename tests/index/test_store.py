"""index.store.ArticleStore directly (no embedder, no archive): the write transaction,
insert/delete with their tombstones and lexical rows, reads, and the FTS5 query budget."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from corpus.article import Article
from index.base import ArchiveError
from index.store import ArticleStore

DIM = 4


@pytest.fixture
def store(tmp_path: Path) -> ArticleStore:
    s = ArticleStore(tmp_path / "store.sqlite", max_postings=50_000, min_terms=3)
    s.create_schema()
    yield s
    s.close()


def _article(article_id: str, text: str, published: dt.date | None = None) -> Article:
    return Article(id=article_id, title=f"Title {article_id}", text=text, published=published, source="test")


def _insert(store: ArticleStore, article: Article, spans: list[tuple[int, int, int]]) -> list[int]:
    vectors = np.eye(DIM, dtype=np.float32)[: len(spans)]
    with store.transaction() as conn:
        generation = store.generation() + 1
        ids = store.insert_article(conn, article, spans, vectors, generation)
        store.set_meta(conn, "generation", generation)
    return ids


def test_insert_then_read_back(store: ArticleStore) -> None:
    text = "Harbour cranes stopped. The port strike entered its third week."
    article = _article("a1", text, dt.date(2026, 5, 1))
    ids = _insert(store, article, [(0, 0, 23), (1, 24, len(text))])
    assert len(ids) == 2 and store.generation() == 1
    got = store.get("a1")
    assert got is not None and got.text == text and got.published == dt.date(2026, 5, 1)
    assert store.texts(["a1", "missing"]) == {"a1": text}
    chunks = store.chunks(ids)
    assert [text[c.start:c.end] for c in (chunks[i] for i in ids)] == ["Harbour cranes stopped.",
                                                                        "The port strike entered its third week."]
    assert store.content_hashes(["a1", "b"]) == {"a1": (article.content_hash, 2)}
    found, vectors = next(store.vectors(DIM))
    assert list(found) == ids and vectors.shape == (2, DIM)
    assert [cid for cid, _ in store.lexical_search("port strike", 5)] == [ids[1]]
    assert store.counts()["articles"] == 1


def test_delete_tombstones_chunks_and_drops_lexical_rows(store: ArticleStore) -> None:
    ids = _insert(store, _article("a1", "Ferry fares rose again."), [(0, 0, 23)])
    with store.transaction() as conn:
        assert store.delete_article(conn, "a1", 2) == ids
        store.set_meta(conn, "generation", 2)
    assert store.get("a1") is None
    assert list(store.tombstones_since(1)) == ids
    assert store.lexical_search("ferry fares", 5) == []


def test_a_failed_transaction_stores_nothing(store: ArticleStore) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            store.insert_article(conn, _article("a1", "Half written."), [(0, 0, 13)],
                                 np.ones((1, DIM), np.float32), 1)
            raise RuntimeError("crash mid-write")
    assert store.get("a1") is None and store.counts()["chunks"] == 0


def test_a_sqlite_error_names_the_store_and_says_nothing_was_stored(store: ArticleStore) -> None:
    _insert(store, _article("a1", "First."), [(0, 0, 6)])
    with pytest.raises(ArchiveError, match=r"store\.sqlite.*nothing of this change was stored"):
        with store.transaction() as conn:
            store.insert_article(conn, _article("a1", "Same id again."), [(0, 0, 4)],
                                 np.ones((1, DIM), np.float32), 2)
    assert store.get("a1").text == "First."


def test_fts_budget_keeps_the_rarest_terms(tmp_path: Path) -> None:
    # "common" is in every chunk, "rare" in one: with a budget below the common term's
    # postings the query keeps "rare" (and the minimum number of terms) only.
    store = ArticleStore(tmp_path / "budget.sqlite", max_postings=30, min_terms=1)
    store.create_schema()
    try:
        for i in range(40):
            text = f"common filler number{i}" + (" rare" if i == 7 else "")
            _insert(store, _article(f"a{i}", text), [(0, 0, len(text))])
        terms = ["common", "rare"]
        assert store._affordable_terms(terms, 30, 1) == ["rare"]
        assert store._affordable_terms(terms, 1000, 1) == terms
        assert len(store.lexical_search("common rare", 50)) == 1  # only the rare term was searched
        store.max_postings = 0  # no limit: both terms score, the rare chunk still ranks first
        hits = store.lexical_search("common rare", 50)
        assert len(hits) == 40
        assert store.chunks([hits[0][0]])[hits[0][0]].article_id == "a7"
    finally:
        store.close()
