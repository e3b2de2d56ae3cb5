"""The FAISS dense index (flat, HNSW, IVF) with random unit vectors; no model is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.dense import AUTO_FLAT_LIMIT, DenseIndex, choose_type

DIM = 16
TYPES = ["flat", "hnsw", "ivf"]


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def make(faiss_type: str, n: int = 200, seed: int = 0) -> tuple[DenseIndex, np.ndarray, np.ndarray]:
    index = DenseIndex(DIM, faiss_type, ivf_nprobe=64)
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    vecs = unit_vectors(n, seed)
    index.build([(ids[: n // 2], vecs[: n // 2]), (ids[n // 2:], vecs[n // 2:])])
    return index, ids, vecs


@pytest.mark.parametrize("faiss_type", TYPES)
def test_build_and_search_finds_itself(faiss_type: str) -> None:
    index, ids, vecs = make(faiss_type)
    assert index.ntotal == len(ids)
    assert np.array_equal(index.ids(), ids)
    for i in (0, 57, 199):
        hits = index.search(vecs[i], 5)
        assert hits[0][0] == ids[i]
        assert hits[0][1] == pytest.approx(1.0, abs=1e-4)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        assert len(hits) == 5


@pytest.mark.parametrize("faiss_type", TYPES)
def test_add_and_remove(faiss_type: str) -> None:
    index, ids, vecs = make(faiss_type)
    extra = unit_vectors(3, seed=9)
    index.add(np.array([5, 6, 7], dtype=np.int64), extra)
    assert index.ntotal == len(ids) + 3
    assert index.search(extra[1], 1)[0][0] == 6
    index.remove(np.array([6, 1000, 999_999], dtype=np.int64))  # an absent id is ignored
    assert index.ntotal == len(ids) + 1
    live = index.ids()
    assert 6 not in live and 1000 not in live and 5 in live and 7 in live
    assert all(cid != 6 for cid, _ in index.search(extra[1], 10))
    assert all(cid != 1000 for cid, _ in index.search(vecs[0], 10))
    # every remaining vector is still found under its own id (the id map stays right)
    for i in range(1, len(ids)):
        assert index.search(vecs[i], 1)[0][0] == ids[i], f"vector {i} found under another id"
    # re-adding a removed id makes it live again, once
    index.add(np.array([6], dtype=np.int64), extra[1:2])
    assert index.search(extra[1], 1)[0][0] == 6
    live = index.ids()
    assert list(live).count(6) == 1 and len(live) == len(set(live.tolist())) == index.ntotal


@pytest.mark.parametrize("faiss_type", TYPES)
def test_replay_of_present_ids_is_idempotent(faiss_type: str) -> None:
    """The archive replays "remove then add" for chunks a reader may already hold."""
    index, ids, vecs = make(faiss_type)
    for _ in range(2):
        index.remove(ids[:20])
        index.add(ids[:20], vecs[:20])
    assert np.array_equal(index.ids(), ids)
    assert index.ntotal == len(ids)
    assert [cid for cid, _ in index.search(vecs[5], 3)].count(ids[5]) == 1


@pytest.mark.parametrize("faiss_type", TYPES)
def test_search_with_allowed_ids(faiss_type: str) -> None:
    index, ids, vecs = make(faiss_type)
    allowed = ids[150:160]
    hits = index.search(vecs[0], 5, allowed)
    assert hits and all(cid in set(allowed.tolist()) for cid, _ in hits)
    assert index.search(vecs[155], 1, allowed)[0][0] == ids[155]
    assert index.search(vecs[0], 5, np.zeros(0, dtype=np.int64)) == []


@pytest.mark.parametrize("faiss_type", TYPES)
def test_save_and_load_roundtrip(tmp_path: Path, faiss_type: str) -> None:
    index, ids, vecs = make(faiss_type)
    index.remove(ids[:10])
    path = tmp_path / f"snap-{faiss_type}.faiss"
    index.save(path)
    assert path.exists() and not path.with_name(path.name + ".tmp").exists()
    loaded = DenseIndex(DIM, faiss_type, ivf_nprobe=64)
    loaded.load(path)
    assert np.array_equal(loaded.ids(), ids[10:])
    assert loaded.ntotal == len(ids) - 10
    assert loaded.search(vecs[42], 1)[0][0] == ids[42]
    assert all(cid not in set(ids[:10].tolist()) for cid, _ in loaded.search(vecs[3], 20))
    for i in range(10, len(ids)):
        assert loaded.search(vecs[i], 1)[0][0] == ids[i]
    assert index.ntotal == len(ids) - 10  # the saved index itself stays usable
    assert index.search(vecs[42], 1)[0][0] == ids[42]


def test_load_rejects_other_dimension_type_and_garbage(tmp_path: Path) -> None:
    index, _, _ = make("flat")
    path = tmp_path / "flat.faiss"
    index.save(path)
    with pytest.raises(ValueError, match="dimension"):
        DenseIndex(DIM + 1, "flat").load(path)
    with pytest.raises(ValueError, match="type"):
        DenseIndex(DIM, "hnsw").load(path)
    garbage = tmp_path / "garbage.faiss"
    garbage.write_bytes(b"not a faiss index at all" * 10)
    with pytest.raises(ValueError, match="unreadable"):
        DenseIndex(DIM, "flat").load(garbage)


@pytest.mark.parametrize("faiss_type", TYPES)
def test_empty_index(tmp_path: Path, faiss_type: str) -> None:
    index = DenseIndex(DIM, faiss_type)
    assert index.search(unit_vectors(1)[0], 5) == []
    assert index.ntotal == 0 and len(index.ids()) == 0
    index.remove(np.array([1], dtype=np.int64))
    index.build([])
    assert index.search(unit_vectors(1)[0], 5) == []
    index.save(tmp_path / "empty.faiss")
    loaded = DenseIndex(DIM, faiss_type)
    loaded.load(tmp_path / "empty.faiss")
    assert loaded.ntotal == 0
    # the first add into an empty (untrained IVF) index works
    loaded.add(np.array([1, 2], dtype=np.int64), unit_vectors(2, seed=3))
    assert sorted(cid for cid, _ in loaded.search(unit_vectors(2, seed=3)[0], 5)) == [1, 2]


def test_fewer_results_than_k() -> None:
    index, ids, _ = make("flat", n=4)
    assert len(index.search(unit_vectors(1, seed=5)[0], 10)) == 4


def test_add_rejects_wrong_shape() -> None:
    index = DenseIndex(DIM, "flat")
    with pytest.raises(ValueError, match="shape"):
        index.add(np.array([1, 2], dtype=np.int64), unit_vectors(3))


def test_constructor_validation_and_choose_type() -> None:
    with pytest.raises(ValueError):
        DenseIndex(0, "flat")
    with pytest.raises(ValueError, match="unknown"):
        DenseIndex(DIM, "annoy")
    assert choose_type("auto", 10) == "flat"
    assert choose_type("auto", AUTO_FLAT_LIMIT + 1) == "hnsw"
    assert choose_type("ivf", 10) == "ivf"
