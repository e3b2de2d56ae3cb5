"""Keeping the tantivy lexical index of one archive in step with its article store.

:class:`LexicalKeeper` owns the :class:`~index.lexical.TantivyIndex` in
``<data_dir>/lexical-tantivy/`` and decides, from the store, whether it can be used:

- **missing, unreadable, of another layout, from another archive** (its state names
  another ``archive_id``), **ahead of the store** or holding **another number of chunks**
  than the store after catching up: rebuilt from the stored chunks, with a warning;
- **behind** (a writer was killed between its SQLite commit and its tantivy commit, or
  another process committed): brought up to date by replaying the chunks and tombstones
  of the later generations.

Repairs write, so they need the archive's write lock. A writer (``add``, ``remove``,
``rebuild``) calls :meth:`sync` while it holds the lock. A reader (``ask``, ``serve``)
that finds the index unusable tries the lock without waiting; when another process holds
it, that writer will bring the index up to date itself, so the reader serves from the
FTS5 rows in the store meanwhile (:attr:`status` says ``"fallback"`` and ``/healthz``
reports the archive degraded). Every decision is logged once.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, ContextManager

from index.base import ArchiveError, SearchFilters
from index.lexical import LAYOUT_VERSION, LEXICAL_DIR, LexicalState, TantivyIndex, is_panic
from index.store import ArticleStore

log = logging.getLogger(__name__)


class LexicalKeeper:
    """The lexical index of the archive in ``data_dir`` whose store is ``store``.

    ``try_write_lock`` returns a context manager that holds the archive's write lock, or
    None when another process holds it (it must not wait). ``status`` is ``"ok"``,
    ``"rebuilding"``, ``"repaired"`` (rebuilt: what and why in :attr:`events`; a routine
    replay of later generations is not a repair) or ``"fallback"`` (not usable now;
    searches use FTS5). Thread-safe; ``status`` and ``events`` are read without the lock.
    """

    def __init__(self, data_dir: Path, store: ArticleStore,
                 try_write_lock: Callable[[], ContextManager[None] | None]) -> None:
        self.path = data_dir / LEXICAL_DIR
        self.store = store
        self._try_write_lock = try_write_lock
        self._index: TantivyIndex | None = None
        self._generation = -1  # store generation the loaded index was last checked at
        self._lock = threading.RLock()
        self.status = "ok"
        self._damaged = ""  # why the on-disk index must be rebuilt although it opens
        self.events: list[str] = []  # repairs made by this process, for verify and /healthz

    # -- reading -------------------------------------------------------------------------------
    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]] | None:
        """Top ``k`` ``(chunk_id, bm25)`` from tantivy, or None when the index cannot be used
        now (the caller falls back to FTS5)."""
        index = self.current()
        if index is None:
            return None
        try:
            return index.search(query, k, filters)
        except Exception as exc:  # noqa: BLE001 - any failure: fall back and rebuild
            self._fail(f"lexical search failed ({exc})")
        except BaseException as exc:
            if not is_panic(exc):
                raise
            self._fail(f"lexical search failed on damaged files ({exc})")
        return None

    def current(self) -> TantivyIndex | None:
        """The index, checked against the store when its generation moved (one SQLite read
        when nothing changed), or None when it cannot be used now."""
        generation = self.store.generation()
        with self._lock:
            if self._index is not None and generation == self._generation:
                return self._index
            if self._index is not None:
                self._index.reload()
                state = self._index.state()
                if self._belongs(state) and state.generation == generation:
                    self._generation = generation
                    return self._index
            lock = self._try_write_lock()
            if lock is None:
                return self._usable_while_busy(generation)
            with lock:
                self._sync_locked()
            return self._index

    def _usable_while_busy(self, generation: int) -> TantivyIndex | None:
        """Another process writes: use the index if it is ours and not ahead (it may lack
        the chunks being committed right now; the writer adds them), else fall back."""
        index = self._index
        if index is None:
            try:
                index = TantivyIndex.open(self.path)
            except ArchiveError:
                return self._fallback("the lexical index is missing or unreadable and another process is writing")
        state = index.state()
        if not self._belongs(state) or state.generation > generation:
            return self._fallback("the lexical index does not match the store and another process is writing")
        self._index = index
        self._generation = state.generation
        if self.status == "fallback":
            self.status = "ok"
        return index

    def _belongs(self, state: LexicalState | None) -> bool:
        return (state is not None and state.layout == LAYOUT_VERSION
                and state.archive_id == self.store.meta().get("archive_id"))

    # -- writing (under the write lock) -----------------------------------------------------------
    def sync(self) -> None:
        """Bring the index up to date with the store; the caller holds the write lock."""
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        archive_id = self.store.ensure_archive_id()
        generation = self.store.generation()
        chunks = int(self.store.connect().execute("SELECT count(*) FROM chunks").fetchone()[0])
        index, problem = self._open_checked(archive_id, generation)
        if problem:
            self._rebuild(archive_id, generation, chunks, problem)
            return
        if index is None:
            raise ArchiveError(f"lexical index {self.path}: opened without a problem but not returned")
        state = index.state()
        if state is not None and state.generation < generation:
            removed = self.store.tombstones_since(state.generation)
            added = [row for batch in self.store.lexical_rows(state.generation) for row in batch]
            try:
                index.apply(removed=removed.tolist(), added=added,
                            state=LexicalState(archive_id, generation, chunks))
            except Exception as exc:  # noqa: BLE001 - a failed replay: rebuild from the store
                self._rebuild(archive_id, generation, chunks, f"replaying the later chunks failed: {exc}")
                return
        if index.num_chunks() != chunks:
            self._rebuild(archive_id, generation, chunks,
                          f"it holds {index.num_chunks()} chunks, the store {chunks}")
            return
        self._index, self._generation = index, generation
        if self.status == "fallback":
            self.status = "ok"

    def _open_checked(self, archive_id: str, generation: int) -> tuple[TantivyIndex | None, str]:
        if self._damaged:
            return None, self._damaged
        index = self._index
        if index is None:
            if not self.path.exists():
                return None, "it is missing"
            try:
                index = TantivyIndex.open(self.path)
            except ArchiveError as exc:
                return None, str(exc)
        else:
            index.reload()
        state = index.state()
        if state is None:
            return None, "it has no state record (not written by Byline, or never finished)"
        if state.layout != LAYOUT_VERSION:
            return None, f"it has layout {state.layout}, this Byline writes {LAYOUT_VERSION}"
        if state.archive_id != archive_id:
            return None, "it belongs to another archive"
        if state.generation > generation:
            return None, f"it reflects generation {state.generation}, newer than the store's {generation}"
        return index, ""

    def _rebuild(self, archive_id: str, generation: int, chunks: int, reason: str) -> None:
        if chunks == 0:
            # Nothing stored yet (an archive killed while being created, or made before
            # this index existed): making an empty index loses nothing and is no repair.
            log.info("lexical index %s created (%s; the store holds no chunk)", self.path, reason)
        else:
            log.warning("lexical index %s not used (%s): rebuilding it from %d stored chunks",
                        self.path, reason, chunks)
        self._index = None
        self.status = "rebuilding"
        try:
            index = self._build_from_store(archive_id, generation, chunks)
        except BaseException:
            self.status = "fallback"
            raise
        self._index, self._generation = index, generation
        self._damaged = ""
        self.status = "repaired" if chunks else "ok"
        if chunks:
            self.events.append(f"lexical index rebuilt from the store ({reason})")

    def create_empty(self) -> None:
        """An empty index for a new archive (under the write lock, while it is created)."""
        with self._lock:
            index = TantivyIndex.create(self.path)
            index.apply(removed=[], added=[], state=LexicalState(self.store.ensure_archive_id(),
                                                                  self.store.generation(), 0))
            self._index, self._generation = index, self.store.generation()

    def rebuild(self) -> None:
        """Rebuild from the stored chunks (``byline rebuild``); the caller holds the lock."""
        with self._lock:
            archive_id = self.store.ensure_archive_id()
            chunks = int(self.store.connect().execute("SELECT count(*) FROM chunks").fetchone()[0])
            generation = self.store.generation()
            self._index = self._build_from_store(archive_id, generation, chunks)
            self._generation = generation

    def _build_from_store(self, archive_id: str, generation: int, chunks: int) -> TantivyIndex:
        """A new index in :attr:`path` holding every stored chunk, stamped ``generation``."""
        index = TantivyIndex.create(self.path)
        rows = (row for batch in self.store.lexical_rows() for row in batch)
        index.apply(removed=[], added=rows, clear=True, state=LexicalState(archive_id, generation, chunks))
        return index

    def index_chunks(self) -> int | None:
        """Chunk documents in the usable index (None when it cannot be used now)."""
        index = self.current()
        return None if index is None else index.num_chunks()

    def verify(self) -> list[str]:
        """Problems with the lexical index, checked anew from disk: every repair this
        process made (at open or now) and anything still unusable; empty = healthy."""
        with self._lock:
            self._index, self._generation = None, -1
        index = self.current()
        if index is None and self.store.read_only:
            # tantivy locks its meta file even to read, which a read-only folder refuses;
            # lexical search is then FTS5's, which verify checks row by row.
            return list(dict.fromkeys(self.events))
        problems = list(dict.fromkeys(self.events))
        chunks = int(self.store.connect().execute("SELECT count(*) FROM chunks").fetchone()[0])
        if index is None:
            problems.append(f"lexical index {self.path} cannot be used now (another process is writing?)")
        elif index.num_chunks() != chunks:
            problems.append(f"lexical index holds {index.num_chunks()} chunks, the store {chunks}")
        return problems

    def _fallback(self, reason: str) -> None:
        if self.store.read_only:
            reason = "the data dir is read-only and tantivy must lock its index to read it"
        if self.status != "fallback":
            if self.store.read_only:
                log.info("%s: lexical search uses the store's FTS5 rows", reason)
            else:
                log.warning("%s: lexical search uses the store's FTS5 rows until it is repaired", reason)
                self.events.append(reason)
        self.status = "fallback"
        return None

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._index = None
            self._generation = -1
            self._damaged = reason
        self._fallback(reason)
