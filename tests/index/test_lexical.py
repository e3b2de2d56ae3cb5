"""The tantivy lexical index: FTS5's analysis, every query term, filters, and a derived
index that is detected and repaired at open when missing, damaged, foreign or behind."""

from __future__ import annotations

import datetime as dt
import logging
import shutil

import pytest

from index.archive import Archive
from index.base import SearchFilters
from index.lexical import LEXICAL_DIR, analyze, query_stems, query_terms


def article_ids(archive: Archive, hits: list[tuple[int, float]]) -> list[str]:
    records = archive.chunks([cid for cid, _ in hits])
    return [records[cid].article_id for cid, _ in hits]


def reopen(settings, embedder) -> Archive:
    return Archive.open(settings, embedder=embedder)


def test_analysis_is_the_fts5_paths() -> None:
    # Porter stems (FTS5's porter tokenizer), diacritics folded, bm25s's (Lucene's 33)
    # English stop words and one-letter words dropped, digits kept, underscores split
    # like unicode61.
    assert analyze("The Cafés were closing; cafe_owners said 5 a") == ["cafe", "were", "close", "cafe", "owner",
                                                                        "said", "5"]
    assert query_terms("Who closed the cafés?") == ["who", "closed", "cafes"]
    assert query_stems("closing closed cafés") == ["close", "cafe"]
    assert query_stems("the of and") == []


def test_tantivy_is_the_default_and_finds_what_fts5_finds(archive: Archive, make_article) -> None:
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c"), make_article("volcano", id="v")])
    assert archive.lexical is not None and archive.lexical.status == "ok"
    for question in ("steel cables of the harbour bridge", "chess championship", "volcano eruption flights"):
        tantivy_hits = archive.lexical.search(question, 3)
        fts5_hits = archive.store.lexical_search(question, 3)
        assert tantivy_hits, question
        assert article_ids(archive, tantivy_hits)[0] == article_ids(archive, fts5_hits)[0]
    assert archive.lexical_search("the of and", 5) == []
    assert archive.lexical_search('"NEAR( OR * cables', 5)  # query syntax in user text is inert


def test_filters_apply_inside_the_index(archive: Archive, make_article) -> None:
    archive.add([make_article("bridge", id="old", source="Harbour Post", published=dt.date(2020, 1, 5)),
                 make_article("bridge", id="new", source="Test Gazette", published=dt.date(2024, 3, 14),
                              title="Harbour bridge repairs finished"),
                 make_article("bridge", id="undated", published=None, title="Bridge, undated")])
    query = "harbour bridge cables"
    assert set(article_ids(archive, archive.lexical_search(query, 20))) == {"old", "new", "undated"}
    by_source = SearchFilters(source="harbour post")  # case-insensitive, like FTS5's NOCASE
    assert set(article_ids(archive, archive.lexical_search(query, 20, by_source))) == {"old"}
    since = SearchFilters(since=dt.date(2021, 1, 1))
    assert set(article_ids(archive, archive.lexical_search(query, 20, since))) == {"new"}
    until = SearchFilters(until=dt.date(2021, 1, 1))
    assert set(article_ids(archive, archive.lexical_search(query, 20, until))) == {"old"}
    for filters in (by_source, since, until):
        assert (set(article_ids(archive, archive.lexical_search(query, 20, filters)))
                == set(article_ids(archive, archive.store.lexical_search(query, 20, filters))))


def test_update_and_remove_reach_the_index(archive: Archive, make_article) -> None:
    archive.add([make_article("bridge", id="x")])
    assert article_ids(archive, archive.lexical_search("crane collapsed", 5)) == []
    archive.add([make_article("bridge", id="x", text="A crane collapsed on the quay on Monday. " * 3)])
    assert article_ids(archive, archive.lexical_search("crane collapsed", 5)) == ["x"]
    assert archive.lexical_search("corroded cables", 5) == []  # the old text is gone
    archive.remove(["x"])
    assert archive.lexical_search("crane collapsed", 5) == []
    assert archive.lexical.index_chunks() == 0


def test_another_process_sees_new_articles(settings, embedder, make_article) -> None:
    reader = reopen(settings, embedder)
    writer = reopen(settings, embedder)
    assert reader.lexical_search("chess championship", 3) == []
    writer.add([make_article("chess", id="c")])
    assert article_ids(reader, reader.lexical_search("chess championship", 3)) == ["c"]


@pytest.mark.parametrize("damage", ["deleted", "truncated", "foreign", "no state"])
def test_a_damaged_or_foreign_index_is_rebuilt_at_open(damage, make_settings, embedder, make_article,
                                                       tmp_path, caplog) -> None:
    settings = make_settings()
    archive = reopen(settings, embedder)
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c")])
    path = archive.data_dir / LEXICAL_DIR
    if damage == "deleted":
        shutil.rmtree(path)
    elif damage == "truncated":
        for segment_file in path.iterdir():
            if segment_file.suffix in {".idx", ".term", ".store", ".fast"}:
                segment_file.write_bytes(segment_file.read_bytes()[:7])
    elif damage == "foreign":
        other = Archive.open(make_settings(data_dir=str(tmp_path / "other")), embedder=embedder)
        other.add([make_article("volcano", id="v")])
        shutil.rmtree(path)
        shutil.copytree(other.data_dir / LEXICAL_DIR, path)
    else:
        shutil.rmtree(path)
        from index.lexical import TantivyIndex

        TantivyIndex.create(path)  # a readable index without Byline's state record
    caplog.set_level(logging.WARNING, logger="index.lexical_keeper")
    fresh = reopen(settings, embedder)
    assert article_ids(fresh, fresh.lexical_search("chess championship", 1)) == ["c"]
    assert fresh.lexical_search("volcano eruption", 5) == []
    assert fresh.lexical.status == "repaired"
    assert any("rebuilding it from" in r.message for r in caplog.records)
    assert fresh.lexical.index_chunks() == fresh.store.counts()["chunks"]
    # verify names the repair (and exits non-zero in the CLI); a second open is clean.
    assert any("lexical index rebuilt" in p for p in fresh.verify())
    again = reopen(settings, embedder)
    assert again.lexical_search("chess championship", 1) and again.lexical.status == "ok"
    assert again.verify() == []


def test_a_missed_commit_is_replayed(archive: Archive, settings, embedder, make_article, monkeypatch) -> None:
    archive.add([make_article("bridge", id="b")])
    # A writer killed between its SQLite commit and its tantivy commit.
    monkeypatch.setattr(type(archive.lexical), "sync", lambda self: None)
    archive.add([make_article("chess", id="c")])
    archive.remove(["b"])
    monkeypatch.undo()
    fresh = reopen(settings, embedder)
    assert article_ids(fresh, fresh.lexical_search("chess championship", 1)) == ["c"]
    assert fresh.lexical_search("corroded steel cables", 5) == []
    assert fresh.lexical.status == "ok"  # a replay is routine, not a repair
    assert fresh.lexical.index_chunks() == fresh.store.counts()["chunks"]


def test_a_commit_killed_midway_does_not_block_the_next(tmp_path) -> None:
    # SIGKILL after tantivy wrote a commit's files but before its meta.json: the next commit
    # reuses the opstamp, hence the file names (CI saw FileAlreadyExists on "<seg>.<n>.del").
    import json
    import os

    from index.lexical import LexicalRow, LexicalState, TantivyIndex

    rows = [LexicalRow(i, f"article {i} about chess openings", "wire", None) for i in range(8)]
    done, killed = tmp_path / "done", tmp_path / "killed"
    index = TantivyIndex.create(done)
    index.apply(removed=[], added=rows, state=LexicalState("a", 1, 8))
    shutil.copytree(done, killed)
    before = set(os.listdir(done))
    index.apply(removed=[3], added=rows[5:6], state=LexicalState("a", 2, 7))
    written = set(os.listdir(done)) - before - {"meta.json"}
    assert any(name.endswith(".del") for name in written)
    for name in written:  # the files of the killed commit, registered as tantivy does first
        shutil.copy(done / name, killed / name)
    managed = killed / ".managed.json"
    managed.write_text(json.dumps(sorted(set(json.loads(managed.read_text())) | written)))
    reopened = TantivyIndex.open(killed)
    reopened.apply(removed=[3], added=rows[5:6], state=LexicalState("a", 2, 7))
    assert reopened.num_chunks() == 7 and reopened.state().generation == 2
    assert [cid for cid, _ in reopened.search("chess openings", 10)].count(5) == 1
    assert 3 not in [cid for cid, _ in reopened.search("chess openings", 10)]


def test_a_failed_replay_means_a_rebuild(archive: Archive, settings, embedder, make_article, monkeypatch) -> None:
    from index.lexical import TantivyIndex

    archive.add([make_article("bridge", id="b")])
    monkeypatch.setattr(type(archive.lexical), "sync", lambda self: None)
    archive.add([make_article("chess", id="c")])
    monkeypatch.undo()
    real_apply = TantivyIndex.apply
    calls = []

    def failing_once(self, **kwargs):
        calls.append(kwargs.get("clear", False))
        if len(calls) == 1:
            raise ValueError("Failed to open file for write")
        return real_apply(self, **kwargs)

    monkeypatch.setattr(TantivyIndex, "apply", failing_once)
    fresh = reopen(settings, embedder)
    assert article_ids(fresh, fresh.lexical_search("chess championship", 1)) == ["c"]
    assert calls == [False, True]  # the replay failed, a rebuild (clear) followed
    assert fresh.lexical.status == "repaired"
    assert fresh.lexical.index_chunks() == fresh.store.counts()["chunks"]


def test_fts5_setting_uses_the_store(make_settings, embedder, make_article) -> None:
    archive = Archive.open(make_settings(index={"lexical": "fts5"}), embedder=embedder)
    archive.add([make_article("chess", id="c")])
    assert archive.lexical is None
    assert not (archive.data_dir / LEXICAL_DIR).exists()
    assert article_ids(archive, archive.lexical_search("chess championship", 1)) == ["c"]


def test_a_busy_writer_means_fts5_meanwhile(archive: Archive, settings, embedder, make_article) -> None:
    archive.add([make_article("chess", id="c")])
    shutil.rmtree(archive.data_dir / LEXICAL_DIR)
    reader = reopen(settings, embedder)
    with archive.write_lock():  # another writer holds the lock: the reader must not wait
        assert article_ids(reader, reader.lexical_search("chess championship", 1)) == ["c"]
        assert reader.lexical.status == "fallback"
        assert reader.index_health()["status"] == "degraded"  # /healthz says so
    assert article_ids(reader, reader.lexical_search("chess championship", 1)) == ["c"]
    assert reader.lexical.status == "repaired"
    health = reader.index_health()
    assert health["status"] == "repaired" and "missing" in health["repairs"][-1]


def test_repairs_while_answering_inside_a_read_snapshot(make_settings, embedder, make_article) -> None:
    # An archive made before archive ids and tantivy existed (no id, no lexical index),
    # with a damaged FAISS snapshot, first searched inside a read snapshot (as QAPipeline
    # answers): the repairs write the store without nesting in the read transaction.
    settings = make_settings(index={"snapshot_min_chunks": 0})
    archive = reopen(settings, embedder)
    archive.add([make_article("chess", id="c")])
    with archive.store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key='archive_id'")
    shutil.rmtree(archive.data_dir / LEXICAL_DIR)
    (archive.data_dir / archive.store.meta()["dense_snapshot"]).write_bytes(b"damaged" * 100)
    old = reopen(settings, embedder)
    with old.read_snapshot():
        assert article_ids(old, old.lexical_search("chess championship", 1)) == ["c"]
        vector = embedder.embed(["Who won the national chess championship?"])[0]
        assert article_ids(old, old.dense_search(vector, 1)) == ["c"]
    assert old.store.meta().get("archive_id")
    assert reopen(settings, embedder).verify() == []  # both repairs were written for good
