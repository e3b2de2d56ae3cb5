"""Scale benchmark of the FAISS index types (flat, HNSW, IVF) at 10k, 100k and 1M chunks.

Synthetic chunk vectors (see :mod:`bench.common`), queried with the embeddings of the
answerable dev questions. Per size and type: build time, index bytes per chunk (the
serialized index) and the process RSS growth, single-query latency p50/p95 through
``index.dense.DenseIndex.search`` (k = 50, the retriever's candidate depth; 2 threads), and
recall@10 against exact search (flat). Cheap search-time sweeps: HNSW efSearch, IVF nprobe.

Usage: ``python bench/scale.py [--sizes 10000,100000,1000000] [--queries 300] [--quick]``
Writes ``bench/.cache/results/scale.json``; the 1M HNSW index is kept in
``bench/.cache/`` for ``bench/scale_store.py`` (same vectors, ids 1..N).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

import numpy as np

from index.dense import DenseIndex

K = 10
DEPTH = 50
TYPES = ["flat", "hnsw", "ivf"]


def index_bytes(dense: DenseIndex) -> int:
    """Size of the serialized index (what a snapshot holds and roughly what RAM holds)."""
    with tempfile.TemporaryDirectory(prefix="byline-scale-", dir=common.CACHE) as tmp:
        path = Path(tmp) / "x.faiss"
        dense.save(path)
        return path.stat().st_size


def search_all(dense: DenseIndex, queries: np.ndarray, k: int = DEPTH) -> tuple[np.ndarray, list[float]]:
    """Top-k ids per query (padded with -1) and per-query latencies (ms)."""
    out = np.full((len(queries), k), -1, dtype=np.int64)
    lat = []
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        hits = dense.search(q, k)
        lat.append((time.perf_counter() - t0) * 1000)
        out[i, :len(hits)] = [h[0] for h in hits]
    return out, lat


def recall_at(found: np.ndarray, exact: np.ndarray, k: int = K) -> float:
    """Mean |top-k found ∩ top-k exact| / k."""
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact)]))


def run_size(n: int, base: np.ndarray, queries: np.ndarray, types: list[str], keep_hnsw: Path | None,
             on_row=None) -> list[dict]:
    """Measure every type at ``n`` chunks."""
    rows = []
    vectors = common.synthetic_vectors(base, n, seed=0)
    ids = np.arange(1, n + 1, dtype=np.int64)
    exact = None
    for typ in types:
        gc.collect()
        rss0 = common.rss_mb()
        dense = DenseIndex(vectors.shape[1], typ)
        _, build_s = common.timed(lambda d=dense: d.build([(ids, vectors)]))
        rss_growth = common.rss_mb() - rss0
        found, lat = search_all(dense, queries)
        if typ == "flat":
            exact = found
        row = {"chunks": n, "type": typ, "build_s": round(build_s, 2),
               "bytes_per_chunk": round(index_bytes(dense) / n, 1),
               "rss_growth_mb": round(rss_growth, 1),
               "p50_ms": round(common.pct(lat, 50), 2), "p95_ms": round(common.pct(lat, 95), 2),
               "recall@10": round(recall_at(found, exact), 4) if exact is not None else None}
        import faiss

        faiss.omp_set_num_threads(1)
        _, lat1 = search_all(dense, queries)
        faiss.omp_set_num_threads(2)
        row["p50_ms_1thread"] = round(common.pct(lat1, 50), 2)
        row["p95_ms_1thread"] = round(common.pct(lat1, 95), 2)
        sweep = []
        if typ == "hnsw":
            for ef in (32, 64, 256):
                dense.ef_search = ef
                f, la = search_all(dense, queries)
                sweep.append({"efSearch": ef, "p50_ms": round(common.pct(la, 50), 2),
                              "p95_ms": round(common.pct(la, 95), 2), "recall@10": round(recall_at(f, exact), 4)})
            dense.ef_search = 128
            if keep_hnsw is not None:
                dense.save(keep_hnsw)
        elif typ == "ivf":
            inner = faiss.downcast_index(dense.index.index)
            row["nlist"] = int(inner.nlist)
            for nprobe in (8, 32, 64):
                dense.ivf_nprobe = nprobe
                inner.nprobe = nprobe
                f, la = search_all(dense, queries)
                sweep.append({"nprobe": nprobe, "p50_ms": round(common.pct(la, 50), 2),
                              "p95_ms": round(common.pct(la, 95), 2), "recall@10": round(recall_at(f, exact), 4)})
        if sweep:
            row["sweep"] = sweep
        print(row, flush=True)
        rows.append(row)
        if on_row is not None:
            on_row(row)
        del dense
    return rows


def hnsw_path(n: int) -> Path:
    """Where the HNSW index of ``n`` synthetic chunks (ids 1..n) is kept."""
    return common.CACHE / f"hnsw-synthetic-{n}.faiss"


def main() -> None:
    """Run and save ``scale.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--types", default="flat,hnsw,ivf")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="10k and 50k chunks, 100 queries")
    parser.add_argument("--keep-hnsw", type=int, default=1_000_000, help="save the HNSW index of this size")
    parser.add_argument("--name", default="scale")
    args = parser.parse_args()
    sizes = [10_000, 50_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    nq = 100 if args.quick else args.queries
    common.set_threads(2)
    _, base = common.sentence_vectors()
    _, qv = common.question_vectors()
    queries = qv[np.random.default_rng(3).permutation(len(qv))[:nq]]
    name = args.name + ("_quick" if args.quick else "")
    previous = common.load_result(name) or {}
    rows = [r for r in previous.get("rows", []) if r["chunks"] not in sizes]
    t0 = time.perf_counter()
    def save(row: dict) -> None:
        rows[:] = [r for r in rows if (r["chunks"], r["type"]) != (row["chunks"], row["type"])] + [row]
        common.save_result(name, {"queries": nq, "depth": DEPTH, "threads": 2,
                                  "rows": sorted(rows, key=lambda r: (r["chunks"], TYPES.index(r["type"])))})

    for n in sizes:
        run_size(n, base, queries, args.types.split(","), hnsw_path(n) if n == args.keep_hnsw else None, save)
    print(f"scale done in {time.perf_counter() - t0:.0f} s, peak RSS {common.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
