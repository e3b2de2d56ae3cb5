"""The article store's write transaction: BEGIN IMMEDIATE ... COMMIT on one SQLite
connection, rolled back on any error, SQLite errors reported as :class:`ArchiveError`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from index.base import ArchiveError


class StoreTransaction:
    """``with StoreTransaction(conn) as conn:`` one atomic write (BEGIN IMMEDIATE ...
    COMMIT, rolled back on any error); a SQLite error becomes an :class:`ArchiveError`
    saying nothing of the change was stored. ``own``: close ``conn`` at the end."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None, own: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.own = own  # a connection of this transaction's own, closed at its end

    def _failed(self, exc: sqlite3.Error) -> ArchiveError:
        # Disk full, read-only folder, I/O error: the transaction is rolled back (SQLite
        # may already have done so), nothing of it is stored.
        return ArchiveError(f"could not write the article store {self.path or ''}: {exc}; "
                            "nothing of this change was stored")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failed(exc) from None
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            return self._finish(exc_type, exc)
        finally:
            if self.own:
                self.conn.close()

    def _finish(self, exc_type, exc) -> bool:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as commit_exc:
                self._rollback()
                raise self._failed(commit_exc) from None
            return False
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise self._failed(exc) from None
        return False
