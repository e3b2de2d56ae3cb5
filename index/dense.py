"""The FAISS dense index: chunk vectors under their chunk ids, inner product on
L2-normalised vectors (= cosine similarity).

Index types (setting ``index.faiss_type``):
- ``flat``: ``IndexIDMap2(IndexFlatIP)``, exact; ~1.5 KB per 384-d chunk; a query costs
  O(n): measured ~0.1 s per query at 1M chunks on one idle core (0.8 s under heavy load).
- ``hnsw``: ``IndexIDMap2(IndexHNSWFlat)``, approximate (Malkov & Yashunin 2018); fast at
  millions of chunks. HNSW cannot delete, so removed ids are filtered at search time
  (IVF removals too) and compacted away when a snapshot is saved.
- ``ivf``: ``IndexIDMap2(IndexIVFFlat)`` trained on the vectors at build time
  (nlist = 4 * sqrt(n) by default, the FAISS wiki's rule of thumb), ``nprobe`` lists searched.
- ``auto``: flat up to :data:`AUTO_FLAT_LIMIT` chunks (70k: where exact search reaches
  8 ms on one core), else HNSW; the rule's figures are in docs/benchmarks.md.

Snapshots are written atomically (temp file, fsync, rename) and named by the generation
they reflect; see :mod:`index.store` for how readers catch up from a snapshot.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Iterable

import numpy as np

# ``auto``: flat while an exact search fits its share of the retrieval latency goal.
# Flat search streams every vector (1.5 KB per 384-d chunk), so its cost is linear:
# measured 103 ms CPU p50 per query at 1M chunks on one core of the 2-core bench machine
# (docs/benchmarks.md), i.e. ~9,700 chunks per ms. The goal is the whole hybrid retrieval
# in 30 ms p50 at 200k chunks (issue 14); its other stages took 22 ms there
# (`bench/lexical_scale.py`, 1 thread: query embedding 17, tantivy BM25 2, chunk fetch
# and fusion 4), which leaves the dense search 8 ms: 8 * 9,700 = ~78k chunks. (It was 25 ms
# of a 100 ms goal, 240k chunks, when FTS5 took most of the budget.) Above, HNSW: ~1-2 ms
# per query and recall@10 0.99 (100k) / 0.96-0.97 (1M) of exact search, for +18% memory.
# (Under heavy load, memory-bandwidth contention made flat ~8x slower; HNSW stayed ~1 ms.)
FLAT_BUDGET_MS = 8
FLAT_CHUNKS_PER_MS = 9_700
AUTO_FLAT_LIMIT = (FLAT_BUDGET_MS * FLAT_CHUNKS_PER_MS) // 10_000 * 10_000  # 70,000
# HNSW build effort: FAISS's default. The old max(40, efSearch) = 128 does ~3x the
# distance computations per insertion; at 100k chunks it gave recall@10 0.997 vs 0.987 at
# efSearch 128 (docs/benchmarks.md), and a rebuild at 1M chunks on 2 cores must take
# minutes, not an hour.
HNSW_EF_CONSTRUCTION = 40
# IVF k-means trains on at most this many vectors per inverted list (a random sample).
IVF_TRAIN_PER_LIST = 64
# Types whose removals are recorded and filtered at search time, then compacted away when
# saving: HNSW graphs cannot delete, and IndexIDMap2.remove_ids over an IVF index shifts
# the id map while the inverted lists keep their old positions (searches then return the
# wrong ids).
_LAZY_DELETE = frozenset({"hnsw", "ivf"})


def choose_type(configured: str, chunks: int) -> str:
    """The index type to build for ``chunks`` vectors: ``configured``, or for ``auto``
    flat up to :data:`AUTO_FLAT_LIMIT` chunks and HNSW above."""
    if configured != "auto":
        return configured
    return "flat" if chunks <= AUTO_FLAT_LIMIT else "hnsw"


class DenseIndex:
    """A FAISS index of chunk vectors keyed by chunk id (int64). Thread-safe.

    ``dimension`` is the embedding size; vectors must be float32 and L2-normalised.
    """

    def __init__(self, dimension: int, faiss_type: str = "flat", *, hnsw_m: int = 32,
                 ef_search: int = 128, ivf_nlist: int = 0, ivf_nprobe: int = 16) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension}")
        if faiss_type not in {"flat", "hnsw", "ivf"}:
            raise ValueError(f"unknown FAISS index type {faiss_type!r} (flat, hnsw, ivf)")
        self.dimension = dimension
        self.faiss_type = faiss_type
        self.hnsw_m, self.ef_search = hnsw_m, ef_search
        self.ivf_nlist, self.ivf_nprobe = ivf_nlist, ivf_nprobe
        self._lock = threading.RLock()
        self._deleted: set[int] = set()  # HNSW only: removed ids still in the graph
        self.index = None

    # -- building ------------------------------------------------------------------------
    def _new_index(self, training: np.ndarray | None):  # a faiss index
        import faiss

        if self.faiss_type == "flat":
            inner = faiss.IndexFlatIP(self.dimension)
        elif self.faiss_type == "hnsw":
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = self.ef_search
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            n = 0 if training is None else len(training)
            nlist = self.ivf_nlist or max(1, int(4 * math.sqrt(max(n, 1))))
            nlist = min(nlist, max(1, n // 39)) if n else 1  # FAISS wants >= 39 points per list
            quantizer = faiss.IndexFlatIP(self.dimension)
            inner = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            if training is not None and len(training):
                if len(training) > IVF_TRAIN_PER_LIST * nlist:
                    # k-means on a sample: the FAISS wiki's 30-256 points per centroid.
                    # At 1M chunks all points would take ~15x longer for little gain.
                    rng = np.random.default_rng(0)
                    pick = np.sort(rng.choice(len(training), IVF_TRAIN_PER_LIST * nlist, replace=False))
                    training = np.ascontiguousarray(training[pick])
                inner.train(training)
            inner.nprobe = self.ivf_nprobe
        return faiss.IndexIDMap2(inner)

    def build(self, batches: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Replace the index by one holding the given ``(ids, vectors)`` batches."""
        ids_all, vecs_all = [], []
        for ids, vecs in batches:
            ids_all.append(ids)
            vecs_all.append(vecs)
        ids = np.concatenate(ids_all) if ids_all else np.zeros(0, dtype=np.int64)
        vecs = np.concatenate(vecs_all) if vecs_all else np.zeros((0, self.dimension), dtype=np.float32)
        index = self._new_index(vecs if self.faiss_type == "ivf" else None)
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids.astype(np.int64))
        with self._lock:
            self.index = index
            self._deleted = set()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors ``(n, dimension)`` under ``ids`` ``(n,)``."""
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"vectors of shape {vectors.shape}, expected ({len(ids)}, {self.dimension})")
        with self._lock:
            if self.index is None:
                self.build([])
            if self.faiss_type == "ivf" and not self.index.is_trained:
                self.build([(ids, vectors)])
                return
            ids = np.asarray(ids, dtype=np.int64)
            if self.faiss_type in _LAZY_DELETE and self.index.ntotal:
                # An id still stored (live or deleted) is revived, not stored twice:
                # chunk ids are never reused, so its vector is the same.
                present = self._present(ids)
                self._deleted.difference_update(int(i) for i in ids[present])
                ids, vectors = ids[~present], vectors[~present]
                if len(ids) == 0:
                    return
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            self._deleted.difference_update(int(i) for i in ids)

    def _stored_ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def _present(self, ids: np.ndarray) -> np.ndarray:
        """Mask of ``ids`` stored in the index (live or deleted). Linear in the index size
        with a small constant: a reader catching up with one added article at a million
        chunks must not sort the id map or rebuild FAISS's reverse map."""
        stored = self._stored_ids()
        lo, hi = ids.min(), ids.max()
        return np.isin(ids, stored[(stored >= lo) & (stored <= hi)])

    def remove(self, ids: np.ndarray) -> None:
        """Remove ``ids`` (absent ids are ignored)."""
        if len(ids) == 0 or self.index is None:
            return
        import faiss

        with self._lock:
            ids = np.asarray(ids, dtype=np.int64)
            ids = ids[self._present(ids)] if self.index.ntotal else ids[:0]
            if len(ids) == 0:
                return
            if self.faiss_type in _LAZY_DELETE:
                self._deleted.update(int(i) for i in ids)
            else:
                self.index.remove_ids(faiss.IDSelectorBatch(ids))

    # -- reading ----------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        """Live vectors in the index."""
        if self.index is None:
            return 0
        return int(self.index.ntotal) - len(self._deleted)

    def ids(self) -> np.ndarray:
        """Live ids, sorted (int64)."""
        import faiss

        if self.index is None:
            return np.zeros(0, dtype=np.int64)
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        if self._deleted:
            ids = ids[~np.isin(ids, np.fromiter(self._deleted, dtype=np.int64))]
        return np.sort(ids)

    def search(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, cosine)`` for one query vector ``(dimension,)``.

        ``allowed`` restricts the search to those ids (filters). Returns fewer than ``k``
        results when the index holds fewer.
        """
        import faiss

        with self._lock:
            if self.index is None or self.index.ntotal == 0 or k <= 0:
                return []
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            fetch = min(int(self.index.ntotal), k + len(self._deleted))
            params = None
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                if self.faiss_type == "hnsw":
                    params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, fetch))
                elif self.faiss_type == "ivf":
                    params = faiss.SearchParametersIVF(sel=selector, nprobe=self.ivf_nprobe)
                else:
                    params = faiss.SearchParameters(sel=selector)
                fetch = min(fetch, len(allowed) + len(self._deleted))
            elif self.faiss_type == "hnsw":
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, fetch))
            scores, ids = self.index.search(query, fetch, params=params)
            out = []
            for chunk_id, score in zip(ids[0], scores[0]):
                if chunk_id < 0 or int(chunk_id) in self._deleted:
                    continue
                out.append((int(chunk_id), float(score)))
                if len(out) == k:
                    break
            return out

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (temp file, fsync, rename, fsync folder)."""
        import faiss

        with self._lock:
            if self.faiss_type in _LAZY_DELETE and self._deleted:
                self._compact()
            tmp = path.with_name(path.name + ".tmp")
            faiss.write_index(self.index if self.index is not None else self._new_index(None), str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _compact(self) -> None:
        """HNSW/IVF: rebuild without the deleted ids (see :data:`_LAZY_DELETE`)."""
        import faiss

        stored = self._stored_ids()
        inner = faiss.downcast_index(self.index.index)
        vectors = inner.reconstruct_n(0, inner.ntotal) if inner.ntotal else \
            np.zeros((0, self.dimension), dtype=np.float32)
        keep = ~np.isin(stored, np.fromiter(self._deleted, dtype=np.int64))
        self.build([(stored[keep], vectors[keep])])

    def load(self, path: Path) -> None:
        """Read an index written by :meth:`save`. Raises ``ValueError`` if unreadable or
        of another dimension or type."""
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise ValueError(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0]})") from None
        if index.d != self.dimension:
            raise ValueError(f"{path}: FAISS index of dimension {index.d}, expected {self.dimension}")
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        kind = type(faiss.downcast_index(index.index)).__name__
        expected = {"flat": "IndexFlatIP", "hnsw": "IndexHNSWFlat", "ivf": "IndexIVFFlat"}[self.faiss_type]
        if kind != expected:
            raise ValueError(f"{path}: FAISS index of type {kind}, expected {expected}")
        if self.faiss_type == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = self.ef_search
        if self.faiss_type == "ivf":
            faiss.downcast_index(index.index).nprobe = self.ivf_nprobe
        with self._lock:
            self.index = index
            self._deleted = set()
