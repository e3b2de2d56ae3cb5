"""Consistency checks of the SQLite article store, run by ``byline verify`` and on open:
SQLite's own integrity check, lexical rows and declared chunk counts against the chunks,
every chunk's offsets and lexical text against its article, and a creation a kill
interrupted."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from index.store import ArticleStore

# Chunks named per kind of problem: enough to find them, short enough to read.
MAX_BAD_CHUNKS_REPORTED = 5


def store_problems(conn: sqlite3.Connection, counts: dict[str, int]) -> list[str]:
    """What is wrong inside the store (empty = consistent). ``counts``:
    :meth:`ArticleStore.counts` of the same connection's state. Each problem names the
    chunk and article it concerns (at most ``MAX_BAD_CHUNKS_REPORTED`` chunks)."""
    problems: list[str] = []
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problems.append(f"SQLite integrity check failed: {integrity}")
    if counts["lexical"] != counts["chunks"]:
        problems.append(f"lexical index has {counts['lexical']} rows for {counts['chunks']} chunks")
    if counts["declared_chunks"] != counts["chunks"]:
        problems.append(f"articles declare {counts['declared_chunks']} chunks, store holds {counts['chunks']}")
    bad = conn.execute(
        "SELECT c.id, c.article_id FROM chunks c LEFT JOIN articles a ON a.id = c.article_id "
        "LEFT JOIN chunks_fts f ON f.rowid = c.id WHERE a.id IS NULL OR c.start < 0 OR c.end > length(a.text) "
        "OR c.start >= c.end OR f.text IS NULL OR f.text != substr(a.text, c.start + 1, c.end - c.start) LIMIT ?",
        (MAX_BAD_CHUNKS_REPORTED,)).fetchall()
    for chunk_id, article_id in bad:
        problems.append(f"chunk {chunk_id} of article {article_id!r}: offsets or lexical text disagree with the article")
    return problems


def creation_interrupted(store: ArticleStore) -> bool:
    """True when ``store`` has no schema-version stamp and holds no article: the state a
    kill during :meth:`ArticleStore.create_schema` leaves (its tables are created by one
    script and stamped by the next transaction). Never true for a store with articles."""
    conn = store.connect()
    try:
        stamped = conn.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.OperationalError:  # no meta table yet
        stamped = None
    if stamped:
        return False
    try:
        return conn.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None
    except sqlite3.OperationalError:  # no articles table yet
        return True
