"""Keeping the FAISS index of one archive in step with its article store.

The vectors live in SQLite; FAISS is derived from them. :class:`DenseKeeper` loads the
latest snapshot (``dense-<generation>-<type>.faiss``), **checks it against the store** and
brings it up to date by replaying the chunks and tombstones of later generations, so
readers (the web app) keep serving while a writer adds, and pick up the new state without
a restart.

What the check catches, with a warning and a rebuild from the stored vectors: a snapshot
that cannot be read (deleted, truncated); one that holds another number of vectors or
another id range than the store recorded when it was written (copied in from another
archive, or replaced); one written for another embedding model; one whose replayed
count differs from the store's chunk count. After such a rebuild the keeper writes a
fresh snapshot when it can take the write lock without waiting (a busy writer writes one
itself), so the next process does not pay the rebuild again. :attr:`events` lists the
repairs for ``byline verify`` (which then exits non-zero) and ``/healthz``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Callable, ContextManager
import numpy as np


from config.settings import IndexSettings
from index.dense import DenseIndex, choose_type
from index.store import ArticleStore

log = logging.getLogger(__name__)


class DenseKeeper:
    """The FAISS index of the archive in ``data_dir`` whose store is ``store``.

    ``dimension`` gives the archive's vector size (called only when needed, so that the
    model is not loaded for nothing);
    ``try_write_lock`` returns the held write lock or None without waiting. Thread-safe.
    """

    def __init__(self, settings: IndexSettings, data_dir: Path, store: ArticleStore,
                 dimension: Callable[[], int],
                 try_write_lock: Callable[[], ContextManager[None] | None]) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.store = store
        self._dimension = dimension
        self._try_write_lock = try_write_lock
        self._dense: DenseIndex | None = None
        self._generation = -1
        self.lock = threading.RLock()
        self.events: list[str] = []  # repairs made by this process, for verify and /healthz
        self.rebuilding = False  # True while a snapshot that did not match is being rebuilt

    @property
    def loaded(self) -> DenseIndex | None:
        """The index if this process has loaded it (no loading, no refresh)."""
        return self._dense

    def reset(self) -> None:
        """Forget the loaded index: the next :meth:`dense` loads and checks it anew."""
        with self.lock:
            self._dense, self._generation = None, -1

    def new_index(self, chunks: int) -> DenseIndex:
        """An empty index of the type the settings pick for ``chunks`` chunks."""
        cfg = self.settings
        return DenseIndex(self._dimension(), choose_type(cfg.faiss_type, chunks), hnsw_m=cfg.hnsw_m,
                          ef_search=cfg.hnsw_ef_search, ivf_nlist=cfg.ivf_nlist, ivf_nprobe=cfg.ivf_nprobe)

    def dense(self) -> DenseIndex:
        """The FAISS index, loaded and checked on first use, then kept up to date."""
        with self.lock:
            if self._dense is None:
                self._load()
            else:
                self.refresh()
            if self._dense is None:
                raise RuntimeError(f"FAISS index of {self.data_dir} was not loaded")
            return self._dense

    def _load(self) -> None:
        meta = self.store.meta()
        generation = int(meta.get("generation", 0))
        total = self.store.chunk_total()
        dense = self.new_index(total)
        snapshot = meta.get("dense_snapshot")
        problem = ""
        if snapshot:
            try:
                dense.load(self.data_dir / snapshot)
                problem = self._mismatch(dense, meta)
            except (ValueError, OSError, RuntimeError) as exc:
                problem = f"it cannot be read ({exc})"
            if not problem:
                self._replay(dense, int(meta.get("dense_snapshot_generation", -1)))
                if dense.ntotal != total:
                    problem = f"after replaying later changes it holds {dense.ntotal} vectors, the store {total} chunks"
            if problem:
                dense = self.new_index(total)
        if not snapshot or problem:
            self.rebuilding = bool(problem)
            try:
                dense.build(self.store.vectors(dense.dimension))
            finally:
                self.rebuilding = False
        self._dense, self._generation = dense, generation
        if problem:
            message = f"FAISS snapshot {snapshot} did not match the store ({problem}): rebuilt from the stored vectors"
            log.warning("%s", message)
            self.events.append(message)
            self._rewrite_snapshot()

    def _mismatch(self, dense: DenseIndex, meta: dict[str, str]) -> str:
        """Why a loaded snapshot is not the one the store recorded ("" when it is)."""
        expected = meta.get("dense_snapshot_vectors")
        if expected is not None and dense.ntotal != int(expected):
            return f"it holds {dense.ntotal} vectors, {expected} were written"
        expected_range = meta.get("dense_snapshot_id_range")
        if expected_range is not None and dense.ntotal:
            ids = dense.ids()
            found = f"{int(ids[0])}-{int(ids[-1])}"
            if found != expected_range:
                return f"its chunk ids span {found}, the store recorded {expected_range}"
        written_for = meta.get("dense_snapshot_fingerprint")
        if written_for and meta.get("embedder_fingerprint") and written_for != meta["embedder_fingerprint"]:
            return f"it was written for embedder {written_for}, the store holds {meta['embedder_fingerprint']}"
        if dense.dimension != self._dimension():
            return f"its vectors have {dense.dimension} dimensions, the store {self._dimension()}"
        return ""

    def _rewrite_snapshot(self) -> None:
        lock = self._try_write_lock()
        if lock is None:
            return
        with lock:
            try:
                self.write_snapshot()
            except (OSError, RuntimeError) as exc:
                log.warning("fresh FAISS snapshot not written (%s)", exc)

    def _replay(self, dense: DenseIndex, since: int) -> None:
        dense.remove(self.store.tombstones_since(since))
        for ids, vectors in self.store.vectors(dense.dimension, since):
            dense.remove(ids)
            dense.add(ids, vectors)

    def refresh(self) -> bool:
        """Catch up with changes committed by any process since this one last looked.

        Cheap when nothing changed (one SQLite read). Returns True if something changed.
        """
        with self.lock:
            generation = self.store.generation()
            if self._dense is None or generation == self._generation:
                return False
            self._replay(self._dense, self._generation)
            self._generation = generation
            return True

    # -- snapshots (under the write lock) ---------------------------------------------------------
    def maybe_snapshot(self, force: bool = False) -> None:
        """Write a FAISS snapshot when enough changed since the last one."""
        meta = self.store.meta()
        generation = int(meta.get("generation", 0))
        snap_generation = int(meta.get("dense_snapshot_generation", -1))
        if snap_generation == generation and not force:
            return
        conn = self.store.connect()
        total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        changed = (conn.execute("SELECT count(*) FROM chunks WHERE generation > ?", (snap_generation,)).fetchone()[0]
                   + conn.execute("SELECT count(*) FROM tombstones WHERE generation > ?", (snap_generation,)).fetchone()[0])
        cfg = self.settings
        snapshot = meta.get("dense_snapshot", "")
        if snapshot and not snapshot.endswith(f"-{choose_type(cfg.faiss_type, total)}.faiss"):
            # The archive crossed AUTO_FLAT_LIMIT (or the setting changed): build the new
            # type now, once, under the write lock, rather than in every process that opens
            # the archive until the snapshot policy would next fire.
            self.reset()
            force = True
        if not force and changed < max(cfg.snapshot_min_chunks, cfg.snapshot_every_fraction * total):
            return
        try:
            self.write_snapshot()
        except (OSError, RuntimeError) as exc:
            # The change is committed; the snapshot is derived data that readers rebuild by
            # replaying the store, so a full disk here costs speed, not data.
            log.warning("FAISS snapshot not written (%s); the index stays usable and will "
                        "write one next time", exc)
            for tmp in self.data_dir.glob("dense-*.faiss.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def write_snapshot(self) -> Path:
        """Write the current FAISS index as a snapshot and record it, with what it holds
        (vector count, id range, embedder) for the check at the next open."""
        with self.lock:
            dense = self.dense()
            generation = self._generation
            name = f"dense-{generation}-{dense.faiss_type}.faiss"
            path = self.data_dir / name
            dense.save(path)
            ids = dense.ids()
            id_range = f"{int(ids[0])}-{int(ids[-1])}" if len(ids) else ""
        meta = self.store.meta()
        old = meta.get("dense_snapshot")
        with self.store.transaction() as conn:
            ArticleStore.set_meta(conn, "dense_snapshot", name)
            ArticleStore.set_meta(conn, "dense_snapshot_generation", generation)
            ArticleStore.set_meta(conn, "dense_snapshot_vectors", dense.ntotal)
            if id_range:
                ArticleStore.set_meta(conn, "dense_snapshot_id_range", id_range)
            else:
                conn.execute("DELETE FROM meta WHERE key='dense_snapshot_id_range'")
            if meta.get("embedder_fingerprint"):
                ArticleStore.set_meta(conn, "dense_snapshot_fingerprint", meta["embedder_fingerprint"])
        for stale in self.data_dir.glob("dense-*.faiss*"):
            if stale.name != name and (stale.name == old or stale.suffix in {".faiss", ".tmp"}):
                with contextlib.suppress(OSError):
                    stale.unlink()
        return path

    def verify(self) -> list[str]:
        """Reload FAISS from its snapshot and the stored vectors and compare its ids with
        the store's chunk ids; returns the problems (empty = they agree), including any
        repair the reload needed (``events``)."""
        self.reset()
        try:
            dense = self.dense()
        except Exception as exc:  # noqa: BLE001 - report any FAISS failure
            return [f"FAISS index cannot be loaded: {exc}"]
        problems = list(dict.fromkeys(self.events))
        ids = dense.ids()
        stored = self.store.chunk_ids()
        if len(ids) != len(stored) or not np.array_equal(ids, stored):
            problems.append(f"FAISS holds {len(ids)} vectors, the store {len(stored)} chunks "
                            f"({len(np.setdiff1d(ids, stored))} extra, {len(np.setdiff1d(stored, ids))} missing)")
        return problems
