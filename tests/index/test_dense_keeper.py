"""The FAISS snapshot is checked against the store at open: a foreign, stale or
unreadable snapshot is rebuilt from the stored vectors, logged, rewritten, and named by
``verify``."""

from __future__ import annotations

import logging
import shutil

import numpy as np

from index.archive import Archive


def test_a_snapshot_from_another_archive_is_rebuilt(make_settings, embedder, make_article, tmp_path, caplog) -> None:
    settings = make_settings(index={"snapshot_min_chunks": 0})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c")])
    other = Archive.open(make_settings(data_dir=str(tmp_path / "other"), index={"snapshot_min_chunks": 0}),
                         embedder=embedder)
    other.add([make_article("volcano", id="v")])
    ours = settings.data_dir / archive.store.meta()["dense_snapshot"]
    shutil.copyfile(other.data_dir / other.store.meta()["dense_snapshot"], ours)  # readable, but not ours

    caplog.set_level(logging.WARNING, logger="index.dense_keeper")
    reopened = Archive.open(settings, embedder=embedder)
    assert np.array_equal(reopened.dense().ids(), reopened.store.chunk_ids())
    vector = embedder.embed(["Who won the national chess championship?"])[0]
    hits = reopened.dense_search(vector, 1)
    assert reopened.chunks([hits[0][0]])[hits[0][0]].article_id == "c"
    assert any("did not match the store" in r.message for r in caplog.records)
    assert any("FAISS snapshot" in p for p in reopened.verify())
    assert Archive.open(settings, embedder=embedder).verify() == []  # rewritten: the next open is clean


def test_a_snapshot_behind_a_replaced_store_is_rebuilt(make_settings, embedder, make_article) -> None:
    # The store says the snapshot held 2 articles' vectors; a stale copy of an earlier
    # snapshot (one article) is put back under the recorded name.
    settings = make_settings(index={"snapshot_min_chunks": 0})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article("bridge", id="b")])
    early = (settings.data_dir / archive.store.meta()["dense_snapshot"]).read_bytes()
    archive.add([make_article("chess", id="c")])
    (settings.data_dir / archive.store.meta()["dense_snapshot"]).write_bytes(early)
    reopened = Archive.open(settings, embedder=embedder)
    assert np.array_equal(reopened.dense().ids(), reopened.store.chunk_ids())
    [problem] = reopened.verify()
    assert "vectors" in problem and "rebuilt" in problem
