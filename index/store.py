"""The article store: articles, chunks (offsets and vectors), an FTS5 lexical index and
index metadata, in one SQLite database in WAL mode.

SQLite is the source of truth and the commit point of every change: one transaction adds
or replaces an article with all its chunks, vectors and lexical rows, so a crash leaves
the previous or the new state. The FAISS index is derived from the vectors stored here
(see :mod:`index.dense`). Each committed change bumps ``generation``; chunks carry the
generation that added them and removed chunk ids are kept in ``tombstones``, so a reader
holding FAISS at generation g catches up by replaying what came after g.

Lexical search is SQLite FTS5's ``bm25()`` (Robertson-Sparck Jones BM25, k1=1.2, b=0.75)
over Porter-stemmed ``unicode61`` tokens: it is transactional with the rest of the store
and incremental, which is what lets one article be added to a large archive in about a
second. Suits archives up to a few million chunks on one machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from corpus.article import Article
from index.base import ArticleSummary, ArchiveError, ChunkRecord, SearchFilters
from index.claims_store import CLAIMS_SCHEMA
from index.fts import FtsSearch
from index.lexical import STOPWORDS, LexicalRow  # noqa: F401 - STOPWORDS re-exported
from index.store_tx import StoreTransaction
from index.store_writes import StoreWrites

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    published TEXT,
    source TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    added_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles (id),
    idx INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE INDEX IF NOT EXISTS chunks_generation ON chunks (generation);
CREATE TABLE IF NOT EXISTS tombstones (chunk_id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_generation ON tombstones (generation);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


class ArticleStore(FtsSearch, StoreWrites):
    """SQLite access for one data directory. Thread-safe: each thread gets its own
    connection; write methods must be called under the archive's write lock."""

    def __init__(self, path: Path, max_postings: int, min_terms: int) -> None:
        """``path``: the SQLite file; ``max_postings`` / ``min_terms``: the FTS5 query
        budget (settings ``index.fts_max_postings`` / ``index.fts_min_terms``)."""
        self.path = path
        self.max_postings = max_postings
        self.min_terms = min_terms
        self._local = threading.local()
        self._df_cache: tuple[int, dict[str, int]] = (0, {})  # see _affordable_terms
        self.read_only = False  # True once opened read-only (a read-only data dir)

    # -- connections ---------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """This thread's connection (created on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection()
            self._local.conn = conn
        return conn

    def _new_connection(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            conn = self._connect_read_only(exc)
        return conn

    def _connect_read_only(self, error: sqlite3.Error) -> sqlite3.Connection:
        """A read-only connection when the data dir cannot be written (read-only mount or
        permissions): SQLite cannot create the WAL's ``-shm`` file there, so the database
        is opened immutable, which is exact as long as no WAL file holds newer commits
        (a cleanly closed archive has none). Writes then fail with a clear error."""
        import os
        from urllib.parse import quote

        folder = self.path.parent
        wal = self.path.with_name(self.path.name + "-wal")
        if not self.path.exists() or os.access(folder, os.W_OK):
            raise ArchiveError(f"cannot open the article store {self.path}: {error}") from None
        if wal.exists() and wal.stat().st_size > 0:
            raise ArchiveError(f"cannot open the article store {self.path}: {error} (the folder is read-only "
                               f"and {wal.name} holds changes; open it once with write access)") from None
        try:
            conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro&immutable=1", uri=True,
                                   timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open the article store {self.path}: {exc}") from None
        self.read_only = True
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            self._local.vocab = False  # the fts5vocab table was temporary to that connection

    def create_schema(self) -> None:
        """Create tables if missing and stamp the schema version."""
        conn = self.connect()
        conn.executescript(_SCHEMA + CLAIMS_SCHEMA)
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            tx.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            tx.execute("INSERT OR IGNORE INTO meta VALUES ('archive_id', ?)", (uuid.uuid4().hex,))

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Group this thread's reads in one read transaction (one consistent state).
        Re-entrant: a nested call joins the outer snapshot."""
        conn = self.connect()
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        self._local.snapshot = True
        try:
            yield
        finally:
            self._local.snapshot = False
            conn.execute("COMMIT")

    def transaction(self) -> StoreTransaction:
        """``with store.transaction() as conn:`` one atomic write (BEGIN IMMEDIATE).

        Inside :meth:`read_snapshot` (a derived index repaired while a question is being
        answered) the write runs on a connection of its own rather than nesting in the
        read transaction (SQLite refuses that); the snapshot goes on reading its state."""
        if getattr(self._local, "snapshot", False):
            return StoreTransaction(self._new_connection(), self.path, own=True)
        return StoreTransaction(self.connect(), self.path)

    # -- metadata --------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """All metadata keys (schema_version, generation, embedder, dimension, snapshot...)."""
        return dict(self.connect().execute("SELECT key, value FROM meta").fetchall())

    def generation(self) -> int:
        """The generation of the last committed change."""
        row = self.connect().execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    # -- articles ----------------------------------------------------------------------
    def content_hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{id: (content_hash, chunk_count)}`` for those of ``ids`` that are stored."""
        out: dict[str, tuple[str, int]] = {}
        conn = self.connect()
        for start in range(0, len(ids), 500):
            part = list(ids[start:start + 500])
            marks = ",".join("?" * len(part))
            rows = conn.execute(f"SELECT id, content_hash, chunk_count FROM articles WHERE id IN ({marks})", part)
            out.update((r[0], (r[1], int(r[2]))) for r in rows)
        return out

    def get(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        row = self.connect().execute(
            "SELECT id, title, text, url, published, source, content_hash FROM articles WHERE id=?",
            (article_id,)).fetchone()
        if row is None:
            return None
        return Article(id=row[0], title=row[1], text=row[2], url=row[3], published=_date(row[4]),
                       source=row[5], content_hash=row[6])

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """``{id: text}`` of the stored ones among ``article_ids``."""
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, str] = {}
        conn = self.connect()
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            out.update(conn.execute(f"SELECT id, text FROM articles WHERE id IN ({marks})", part))
        return out

    def summaries(self, article_ids: Sequence[str] | None = None) -> list[ArticleSummary]:
        """Metadata of all articles (or of ``article_ids``), newest first."""
        sql = ("SELECT id, title, url, published, source, chunk_count, length(text) FROM articles")
        params: list[object] = []
        if article_ids is not None:
            sql += f" WHERE id IN ({','.join('?' * len(article_ids))})"
            params = list(article_ids)
        sql += " ORDER BY published DESC, id"
        return [ArticleSummary(r[0], r[1], r[2], _date(r[3]), r[4], r[5], r[6])
                for r in self.connect().execute(sql, params)]

    def iter_articles(self) -> Iterator[Article]:
        """Every stored article (for rebuilds)."""
        conn = self.connect()
        ids = [r[0] for r in conn.execute("SELECT id FROM articles ORDER BY id")]
        for article_id in ids:
            article = self.get(article_id)
            if article is not None:
                yield article

    # -- reads for the dense index -----------------------------------------------------
    def vectors(self, dimension: int, since_generation: int = -1,
                batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids int64 (n,), vectors float32 (n, dimension))`` of chunks added after
        ``since_generation`` (all chunks with the default), in batches."""
        if since_generation < 0:
            cur = self.connect().execute("SELECT id, vector FROM chunks ORDER BY id")
        else:
            # ORDER BY generation, id lets SQLite use chunks_generation; with ORDER BY id it
            # scanned every chunk row (5 s at a million chunks) for each reader catch-up.
            cur = self.connect().execute(
                "SELECT id, vector FROM chunks WHERE generation > ? ORDER BY generation, id", (since_generation,))
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dimension)
            yield ids, vecs

    def lexical_rows(self, since_generation: int = -1, batch: int = 5000) -> Iterator[list[LexicalRow]]:
        """Yield batches of :class:`~index.lexical.LexicalRow` (chunk id, text cut from the
        article by offsets, outlet, date) of chunks added after ``since_generation`` (all
        chunks with the default), for the derived lexical index."""
        where = "" if since_generation < 0 else "WHERE c.generation > ?"
        params = () if since_generation < 0 else (since_generation,)
        cur = self.connect().execute(
            "SELECT c.id, substr(a.text, c.start + 1, c.end - c.start), a.source, a.published "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id {where} ORDER BY c.generation, c.id", params)
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            yield [LexicalRow(int(r[0]), r[1], r[2] or "", _date(r[3])) for r in rows]

    def ensure_archive_id(self) -> str:
        """This archive's random id (stamped at creation; stamped now, under the caller's
        write lock, in an archive made before ids existed). Derived indexes record it, so
        that one copied in from another archive is recognised."""
        found = self.meta().get("archive_id")
        if found:
            return found
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('archive_id', ?)", (uuid.uuid4().hex,))
            # Read back in the writing transaction: inside a read snapshot, meta() would
            # not see the new row yet.
            return conn.execute("SELECT value FROM meta WHERE key='archive_id'").fetchone()[0]

    def tombstones_since(self, generation: int) -> np.ndarray:
        """Chunk ids removed after ``generation`` (int64)."""
        rows = self.connect().execute("SELECT chunk_id FROM tombstones WHERE generation > ?", (generation,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def chunk_ids(self) -> np.ndarray:
        """All live chunk ids, sorted (int64)."""
        return np.fromiter((r[0] for r in self.connect().execute("SELECT id FROM chunks ORDER BY id")),
                           dtype=np.int64)

    def filtered_chunk_ids(self, filters: SearchFilters) -> np.ndarray:
        """Chunk ids of articles that pass ``filters`` (int64)."""
        where, params = self.filter_sql(filters)
        sql = f"SELECT c.id FROM chunks c JOIN articles a ON a.id = c.article_id WHERE {where}"
        return np.fromiter((r[0] for r in self.connect().execute(sql, params)), dtype=np.int64)

    @staticmethod
    def filter_sql(filters: SearchFilters | None) -> tuple[str, list[object]]:
        clauses, params = ["1"], []
        if filters is not None:
            if filters.source:
                clauses.append("a.source = ? COLLATE NOCASE")
                params.append(filters.source)
            if filters.since:
                clauses.append("a.published >= ?")
                params.append(filters.since.isoformat())
            if filters.until:
                clauses.append("a.published <= ?")
                params.append(filters.until.isoformat())
        return " AND ".join(clauses), params

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """``{chunk_id: ChunkRecord}`` for the live ones among ``chunk_ids``; the text is
        cut from the article text by offsets, so it is exact by construction."""
        ids = [int(c) for c in chunk_ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connect().execute(
            f"SELECT c.id, c.article_id, c.idx, c.start, c.end, substr(a.text, c.start + 1, c.end - c.start) "
            f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})", ids)
        return {int(r[0]): ChunkRecord(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), r[5]) for r in rows}

    def chunk_total(self) -> int:
        """Number of stored chunks (one ``count(*)`` of the chunks table)."""
        return int(self.connect().execute("SELECT count(*) FROM chunks").fetchone()[0])

    def sources(self) -> dict[str, int]:
        """``{outlet: article count}``, largest first."""
        rows = self.connect().execute(
            "SELECT source, count(*) FROM articles GROUP BY source ORDER BY count(*) DESC")
        return {r[0]: r[1] for r in rows}

    def counts(self) -> dict[str, int]:
        """Row counts: articles, chunks, lexical rows, sum of articles' chunk_count."""
        conn = self.connect()
        return {
            "articles": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
            "chunks": conn.execute("SELECT count(*) FROM chunks").fetchone()[0],
            "lexical": conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0],
            "declared_chunks": conn.execute("SELECT coalesce(sum(chunk_count), 0) FROM articles").fetchone()[0],
        }
