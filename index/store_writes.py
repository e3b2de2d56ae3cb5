"""The article store's writes, each a statement or a few inside a transaction the caller
holds (``with store.transaction() as conn:``): mixed into :class:`~index.store.ArticleStore`
as static methods, so the archive and the benches write through them and never run SQL
of their own."""

from __future__ import annotations

import sqlite3
import time
from typing import Sequence

import numpy as np

from corpus.article import Article
from index.claims_store import delete_claims

# Metadata of the embedding model an archive was built with (checked on open and by verify).
EMBEDDER_KEYS = ("embedder_fingerprint", "embedder_name", "dimension")


class StoreWrites:
    """Write helpers on a connection inside a transaction (see the module docstring)."""

    @staticmethod
    def next_generation(conn: sqlite3.Connection) -> int:
        """The generation the open transaction's change will be stamped with (last + 1)."""
        return int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]) + 1

    @staticmethod
    def has_article(conn: sqlite3.Connection, article_id: str) -> bool:
        """Whether ``article_id`` is stored (as the open transaction sees it)."""
        return conn.execute("SELECT 1 FROM articles WHERE id=?", (article_id,)).fetchone() is not None

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
        """Set one metadata key inside a transaction."""
        conn.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, str(value)))

    @staticmethod
    def delete_article(conn: sqlite3.Connection, article_id: str, generation: int) -> list[int]:
        """Delete an article, its chunks, claims and lexical rows; tombstone the chunk ids."""
        delete_claims(conn, article_id)
        chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))]
        conn.executemany("INSERT OR REPLACE INTO tombstones VALUES (?, ?)",
                         [(cid, generation) for cid in chunk_ids])
        conn.executemany("DELETE FROM chunks_fts WHERE rowid=?", [(cid,) for cid in chunk_ids])
        conn.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))
        conn.execute("DELETE FROM articles WHERE id=?", (article_id,))
        return chunk_ids

    @staticmethod
    def insert_article(conn: sqlite3.Connection, article: Article, spans: Sequence[tuple[int, int, int]],
                       vectors: np.ndarray, generation: int, added_at: float | None = None) -> list[int]:
        """Insert an article with its chunks (``(index, start, end)``), vectors
        (float32 ``(len(spans), dim)``) and lexical rows; returns the new chunk ids."""
        now = time.time()
        conn.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article.id, article.title, article.text, article.url,
             article.published.isoformat() if article.published else None, article.source,
             article.content_hash, len(spans), added_at or now, now))
        ids = []
        for (index, start, end), vector in zip(spans, vectors):
            cur = conn.execute(
                "INSERT INTO chunks (article_id, idx, start, end, generation, vector) VALUES (?, ?, ?, ?, ?, ?)",
                (article.id, index, start, end, generation, np.asarray(vector, dtype=np.float32).tobytes()))
            chunk_id = int(cur.lastrowid)
            conn.execute("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)",
                         (chunk_id, article.text[start:end]))
            ids.append(chunk_id)
        return ids

    @staticmethod
    def added_at(conn: sqlite3.Connection, article_id: str) -> float | None:
        """When an article was first added (unix seconds), or None."""
        row = conn.execute("SELECT added_at FROM articles WHERE id=?", (article_id,)).fetchone()
        return float(row[0]) if row else None


    @staticmethod
    def stamp_embedder(conn: sqlite3.Connection, fingerprint: str, name: str, dimension: int,
                       replace: bool = False) -> None:
        """Record the embedding model (``EMBEDDER_KEYS``); kept as it is unless
        ``replace`` (a rebuild with another model) or none is recorded yet."""
        if not replace and conn.execute("SELECT 1 FROM meta WHERE key='embedder_fingerprint'").fetchone():
            return
        for key, value in zip(EMBEDDER_KEYS, (fingerprint, name, dimension)):
            StoreWrites.set_meta(conn, key, value)

    @staticmethod
    def clear_chunks(conn: sqlite3.Connection, generation: int) -> None:
        """Tombstone and delete every chunk and lexical row (orphans included) and forget
        the FAISS snapshot: the start of a rebuild, which re-inserts every article."""
        conn.execute("INSERT OR REPLACE INTO tombstones SELECT id, ? FROM chunks", (generation,))
        conn.execute("DELETE FROM chunks")
        conn.execute("DELETE FROM chunks_fts")
        conn.execute("DELETE FROM meta WHERE key IN ('dense_snapshot', 'dense_snapshot_generation')")
