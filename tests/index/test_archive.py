"""The archive: SQLite + FTS5 + FAISS agree after add / update / remove, searches and
filters work, readers catch up, snapshots load (or are rebuilt), damage is reported."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from corpus.article import Article
from corpus.loaders import ArticleFactory, LoadResult, load_path
from index.archive import STORE_FILE, Archive
from index.base import ArchiveError, SearchFilters


def chunk_ids_of(archive: Archive, article_id: str) -> list[int]:
    conn = archive.store.connect()
    return [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id=? ORDER BY id", (article_id,))]


def presence(archive: Archive, article_id: str, chunk_ids: list[int] | None = None) -> dict[str, int]:
    """How much of an article each index holds (by its chunk ids, or by the given ones)."""
    conn = archive.store.connect()
    ids = chunk_ids if chunk_ids is not None else chunk_ids_of(archive, article_id)
    declared = conn.execute("SELECT chunk_count FROM articles WHERE id=?", (article_id,)).fetchone()
    marks = ",".join("?" * len(ids)) or "NULL"
    return {
        "declared": declared[0] if declared else 0,
        "chunks": conn.execute(f"SELECT count(*) FROM chunks WHERE id IN ({marks})", ids).fetchone()[0],
        "fts": conn.execute(f"SELECT count(*) FROM chunks_fts WHERE rowid IN ({marks})", ids).fetchone()[0],
        "faiss": int(np.isin(archive.dense().ids(), ids).sum()),
    }


def query(embedder, text: str) -> np.ndarray:
    return embedder.embed([text])[0]


def article_of(archive: Archive, hits: list[tuple[int, float]]) -> list[str]:
    records = archive.chunks([cid for cid, _ in hits])
    return [records[cid].article_id for cid, _ in hits]


def test_add_unchanged_update_remove(archive: Archive, make_article) -> None:
    article = make_article("bridge", id="bridge-1")
    [result] = archive.add([article])
    assert (result.status, result.article_id, result.reason) == ("added", "bridge-1", None)
    assert result.chunks >= 2  # small test chunks: several per article
    first_ids = chunk_ids_of(archive, "bridge-1")
    assert presence(archive, "bridge-1") == dict.fromkeys(("declared", "chunks", "fts", "faiss"), result.chunks)
    assert archive.verify() == []
    assert archive.get("bridge-1") == article

    [again] = archive.add([make_article("bridge", id="bridge-1")])
    assert (again.status, again.chunks) == ("unchanged", result.chunks)  # the stored chunk count
    assert chunk_ids_of(archive, "bridge-1") == first_ids
    assert archive.verify() == []

    new_text = "The harbour bridge closed again on Friday because a crane collapsed onto the deck."
    [updated] = archive.add([make_article("bridge", id="bridge-1", text=new_text)])
    assert updated.status == "updated"
    assert archive.get("bridge-1").text == new_text
    assert presence(archive, "bridge-1", first_ids) == {"declared": updated.chunks, "chunks": 0, "fts": 0, "faiss": 0}
    assert presence(archive, "bridge-1")["faiss"] == updated.chunks
    assert archive.lexical_search("corroded cables resurfaced", 5) == []
    assert article_of(archive, archive.lexical_search("crane collapsed", 5)) == ["bridge-1"]
    assert archive.verify() == []

    second_ids = chunk_ids_of(archive, "bridge-1")
    assert archive.remove(["bridge-1", "never-there"]) == ["bridge-1"]
    assert archive.get("bridge-1") is None
    assert presence(archive, "bridge-1", second_ids) == {"declared": 0, "chunks": 0, "fts": 0, "faiss": 0}
    assert archive.lexical_search("crane collapsed", 5) == []
    assert archive.dense_search(query(archive.embedder, new_text), 5) == []
    assert archive.list_articles() == []
    assert archive.remove(["bridge-1"]) == []
    assert archive.verify() == []


def test_update_keeps_other_articles(archive: Archive, make_article) -> None:
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c")])
    chess_ids = chunk_ids_of(archive, "c")
    archive.add([make_article("bridge", id="b", text="Completely different text about a ferry strike.")])
    assert chunk_ids_of(archive, "c") == chess_ids
    archive.remove(["b"])
    assert chunk_ids_of(archive, "c") == chess_ids
    assert article_of(archive, archive.lexical_search("chess championship", 3))[0] == "c"
    assert archive.verify() == []


def test_same_text_other_id_is_another_article(archive: Archive, make_article) -> None:
    results = archive.add([make_article("orchard", id="orchard-a"), make_article("orchard", id="orchard-b")])
    assert [r.status for r in results] == ["added", "added"]
    assert {a.id for a in archive.list_articles()} == {"orchard-a", "orchard-b"}
    assert set(article_of(archive, archive.lexical_search("late frost apple orchards", 10))) == {"orchard-a", "orchard-b"}
    archive.remove(["orchard-a"])
    assert archive.get("orchard-b") is not None
    assert archive.verify() == []


def test_duplicate_ids_in_one_batch(archive: Archive, make_article) -> None:
    results = archive.add([make_article("bridge", id="dup"), make_article("bridge", id="dup"),
                           make_article("chess", id="dup")])
    # a repeat is reported as soon as it is seen, the first one when its batch commits
    assert sorted(r.status for r in results) == ["added", "rejected", "unchanged"]
    [rejected] = [r for r in results if r.status == "rejected"]
    assert "duplicate id 'dup'" in rejected.reason and rejected.article_id == "dup"
    assert archive.get("dup").text == make_article("bridge").text
    assert archive.verify() == []


def test_rejected_load_results_pass_through(archive: Archive, make_article) -> None:
    results = archive.add([LoadResult("bad.txt", reason="bad.txt: empty article"),
                           LoadResult("good", article=make_article("chess", id="good"))])
    assert [(r.where, r.status) for r in results] == [("bad.txt", "rejected"), ("good", "added")]
    assert results[0].reason == "bad.txt: empty article" and results[0].article_id is None
    assert [a.id for a in archive.list_articles()] == ["good"]


def test_readding_file_without_explicit_id_is_unchanged(archive: Archive, tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text("Volcano eruption grounds flights\n\nAsh from the erupting volcano grounded "
                    "flights across the north on Monday.", encoding="utf-8")
    [first] = archive.add(load_path(path, ArticleFactory()))
    [second] = archive.add(load_path(path, ArticleFactory()))
    assert first.status == "added" and second.status == "unchanged"
    assert first.article_id == second.article_id and first.where == str(path)
    path.write_text("Volcano eruption grounds flights\n\nThe eruption ended on Tuesday.", encoding="utf-8")
    [third] = archive.add(load_path(path, ArticleFactory()))
    assert (third.status, third.article_id) == ("updated", first.article_id)
    assert len(archive.list_articles()) == 1
    assert archive.verify() == []


def test_dense_and_lexical_search_find_the_right_article(archive: Archive, make_article, embedder) -> None:
    archive.add([make_article(t, id=t) for t in ("bridge", "orchard", "chess", "volcano")])
    cases = {"bridge": "Which bridge had its steel cables replaced?",
             "orchard": "How did frost affect the apple harvest?",
             "chess": "Who won the national chess championship?",
             "volcano": "Why were flights grounded by volcanic ash?"}
    for topic, question in cases.items():
        dense = archive.dense_search(query(embedder, question), 3)
        assert article_of(archive, dense)[0] == topic, question
        assert all(-1.0 - 1e-5 <= s <= 1.0 + 1e-5 for _, s in dense)
        lexical = archive.lexical_search(question, 3)
        assert article_of(archive, lexical)[0] == topic, question
        assert [s for _, s in lexical] == sorted((s for _, s in lexical), reverse=True)
    records = archive.chunks([cid for cid, _ in archive.lexical_search("steel cables", 2)])
    for record in records.values():
        assert archive.get(record.article_id).text[record.start:record.end] == record.text
    assert archive.lexical_search("the of and", 5) == []  # stop words only
    assert archive.lexical_search('"NEAR( OR * cables', 5)  # FTS syntax in user text is inert


def test_filters(archive: Archive, make_article, embedder) -> None:
    archive.add([
        make_article("bridge", id="b-gaz", source="Gazette", published=dt.date(2024, 1, 10)),
        make_article("bridge", id="b-her", source="Herald", published=dt.date(2024, 6, 1)),
        make_article("bridge", id="b-nodate", source="Herald", published=None),
    ])
    vec = query(embedder, "steel cables replaced on the harbour bridge")

    def found(filters: SearchFilters) -> tuple[set[str], set[str]]:
        return (set(article_of(archive, archive.dense_search(vec, 20, filters))),
                set(article_of(archive, archive.lexical_search("harbour bridge cables", 20, filters))))

    assert found(SearchFilters()) == ({"b-gaz", "b-her", "b-nodate"},) * 2
    assert found(SearchFilters(source="gazette")) == ({"b-gaz"},) * 2  # case-insensitive
    assert found(SearchFilters(source="Herald")) == ({"b-her", "b-nodate"},) * 2
    assert found(SearchFilters(since=dt.date(2024, 2, 1))) == ({"b-her"},) * 2
    assert found(SearchFilters(until=dt.date(2024, 1, 10))) == ({"b-gaz"},) * 2  # inclusive
    assert found(SearchFilters(since=dt.date(2024, 1, 10), until=dt.date(2024, 6, 1))) == ({"b-gaz", "b-her"},) * 2
    assert found(SearchFilters(source="Nobody")) == (set(), set())
    with pytest.raises(ValueError):
        SearchFilters(since=dt.date(2024, 2, 1), until=dt.date(2024, 1, 1))


def test_reader_sees_changes_after_refresh(settings, embedder, make_article) -> None:
    writer = Archive.open(settings, embedder=embedder)
    writer.add([make_article("bridge", id="b")])
    reader = Archive.open(settings, embedder=embedder)
    vec = query(embedder, "Who won the national chess championship?")
    assert "c" not in article_of(reader, reader.dense_search(vec, 5))
    writer.add([make_article("chess", id="c")])
    assert reader.refresh() is True
    assert reader.refresh() is False  # nothing new
    assert article_of(reader, reader.dense_search(vec, 1)) == ["c"]
    writer.remove(["b"])
    writer.add([make_article("chess", id="c", text="The chess final was postponed to next week.")])
    reader.refresh()
    dense_ids = set(reader.dense().ids().tolist())
    assert dense_ids == set(writer.store.chunk_ids().tolist())
    assert reader.list_articles()[0].id == "c" and len(reader.list_articles()) == 1
    assert reader.verify() == []


@pytest.mark.parametrize("faiss_type", ["flat", "hnsw", "ivf"])
def test_snapshot_written_and_reloaded(make_settings, embedder, make_article, faiss_type: str) -> None:
    settings = make_settings(index={"snapshot_min_chunks": 0, "faiss_type": faiss_type})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article(t, id=t) for t in ("bridge", "orchard", "chess")])
    archive.remove(["orchard"])
    archive.add([make_article("bridge", id="bridge", text="The bridge is closed for a festival today.")])
    meta = archive.store.meta()
    snapshot = settings.data_dir / meta["dense_snapshot"]
    assert snapshot.exists() and int(meta["dense_snapshot_generation"]) == int(meta["generation"])
    assert sorted(p.name for p in settings.data_dir.glob("dense-*")) == [snapshot.name]  # old ones gone

    reopened = Archive.open(settings, embedder=embedder)
    assert np.array_equal(reopened.dense().ids(), archive.store.chunk_ids())
    assert reopened.dense().faiss_type == faiss_type
    vec = query(embedder, "Who won the national chess championship?")
    assert article_of(reopened, reopened.dense_search(vec, 1)) == ["chess"]
    assert reopened.verify() == []


def test_reopen_replays_changes_after_snapshot(make_settings, embedder, make_article) -> None:
    settings = make_settings(index={"snapshot_min_chunks": 0})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c")])
    snap_generation = int(archive.store.meta()["dense_snapshot_generation"])
    # later changes below the snapshot threshold: replayed from SQLite on open
    lazy = Archive.open(make_settings(index={"snapshot_min_chunks": 10_000, "snapshot_every_fraction": 1.0}),
                        embedder=embedder)
    lazy.remove(["b"])
    lazy.add([make_article("volcano", id="v")])
    assert int(lazy.store.meta()["dense_snapshot_generation"]) == snap_generation
    reopened = Archive.open(settings, embedder=embedder)
    assert np.array_equal(reopened.dense().ids(), reopened.store.chunk_ids())
    vec = query(embedder, "Why were flights grounded by volcanic ash?")
    assert article_of(reopened, reopened.dense_search(vec, 1)) == ["v"]
    assert reopened.verify() == []


def test_corrupt_snapshot_is_rebuilt_from_stored_vectors(make_settings, embedder, make_article) -> None:
    settings = make_settings(index={"snapshot_min_chunks": 0})
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article(t, id=t) for t in ("bridge", "chess")])
    snapshot = settings.data_dir / archive.store.meta()["dense_snapshot"]
    snapshot.write_bytes(b"\x00garbage" * 100)
    reopened = Archive.open(settings, embedder=embedder)
    assert np.array_equal(reopened.dense().ids(), reopened.store.chunk_ids())
    vec = query(embedder, "Who won the national chess championship?")
    assert article_of(reopened, reopened.dense_search(vec, 1)) == ["chess"]
    # verify names the repair (the CLI exits non-zero); a fresh snapshot was written, so
    # the next process loads it instead of rebuilding again.
    [problem] = reopened.verify()
    assert "FAISS snapshot" in problem and "cannot be read" in problem and "rebuilt" in problem
    fresh = settings.data_dir / reopened.store.meta()["dense_snapshot"]
    assert fresh.exists() and fresh.read_bytes()[:8] != b"\x00garbage"
    assert Archive.open(settings, embedder=embedder).verify() == []
    fresh.unlink()  # a missing snapshot file too
    again = Archive.open(settings, embedder=embedder)
    assert article_of(again, again.dense_search(vec, 1)) == ["chess"]
    assert any("rebuilt" in p for p in again.verify())
    assert Archive.open(settings, embedder=embedder).verify() == []


def test_deleted_fts_rows_reported_and_rebuild_repairs(archive: Archive, make_article, embedder) -> None:
    archive.add([make_article("bridge", id="b"), make_article("chess", id="c")])
    first = chunk_ids_of(archive, "b")[0]
    with archive.store.transaction() as conn:
        conn.execute("DELETE FROM chunks_fts WHERE rowid=?", (first,))
    problems = archive.verify()
    assert any("lexical index" in p for p in problems), problems
    assert any(f"chunk {first}" in p for p in problems), problems
    total = archive.rebuild()
    assert total == archive.count() == archive.store.counts()["lexical"]
    assert archive.verify() == []
    assert article_of(archive, archive.lexical_search("corroded steel cables", 1)) == ["b"]
    assert article_of(archive, archive.dense_search(query(embedder, "chess champion"), 1)) == ["c"]
    assert {a.id for a in archive.list_articles()} == {"b", "c"}


def test_missing_faiss_vectors_reported(archive: Archive, make_article) -> None:
    archive.add([make_article("bridge", id="b")])
    dense = archive.dense()
    dense.remove(dense.ids()[:1])
    # verify reloads FAISS from the store, so damage to an in-memory copy is not reported...
    assert archive.verify() == []
    # ...but a stray chunk row in SQLite is
    with archive.store.transaction() as conn:
        conn.execute("UPDATE articles SET chunk_count = chunk_count + 1 WHERE id='b'")
    assert any("declare" in p for p in archive.verify())


def test_embedder_fingerprint_mismatch(settings, embedder, make_article) -> None:
    archive = Archive.open(settings, embedder=embedder)
    archive.add([make_article("bridge", id="b")])
    archive.store.close()
    with sqlite3.connect(settings.data_dir / STORE_FILE) as conn:
        conn.execute("UPDATE meta SET value='other-model:0123456789abcdef' WHERE key='embedder_fingerprint'")
    with pytest.raises(ArchiveError, match="byline rebuild") as info:
        Archive.open(settings, embedder=embedder)
    assert "other-model:0123456789abcdef" in str(info.value)
    # rebuild (which opens without the check) re-embeds and stamps the current model
    fixing = Archive.open(settings, embedder=embedder, check_embedder=False)
    assert any("embedder mismatch" in p for p in fixing.verify())
    fixing.rebuild()
    assert Archive.open(settings, embedder=embedder).verify() == []


def test_open_errors(tmp_path: Path, make_settings) -> None:
    with pytest.raises(ArchiveError, match="no Byline index"):
        Archive.open(make_settings(), data_dir=tmp_path / "absent", create=False)
    settings = make_settings()
    Archive.open(settings).store.close()
    with sqlite3.connect(settings.data_dir / STORE_FILE) as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(ArchiveError, match="newer"):
        Archive.open(settings)


def test_stats(archive: Archive, make_article) -> None:
    results = archive.add([make_article("bridge", id="b", source="Gazette"),
                           make_article("chess", id="c", source="Herald"),
                           make_article("orchard", id="o", source="Herald")])
    stats = archive.stats()
    total = sum(r.chunks for r in results)
    assert (stats.articles, stats.chunks, stats.dense_vectors, stats.lexical_rows) == (3, total, total, total)
    assert stats.sources == {"Herald": 2, "Gazette": 1}
    assert stats.dimension == 384 and stats.embedder == "all-MiniLM-L6-v2"
    assert stats.faiss_type == "flat" and stats.disk_bytes > 0
    assert archive.count() == total


def test_unicode_text_offsets_roundtrip(archive: Archive) -> None:
    text = ("Zoë’s café reopened — “finally,” she said. 😀 Naïve visitors queued. " * 6).strip()
    archive.add([Article(id="unicode", title="Café", text=text)])
    records = archive.chunks(chunk_ids_of(archive, "unicode"))
    assert len(records) > 1
    for record in records.values():
        assert text[record.start:record.end] == record.text
    assert archive.verify() == []


@pytest.mark.parametrize("state", ["empty file", "tables without stamp"])
def test_an_archive_killed_while_being_created_opens_as_new(tmp_path: Path, make_settings, embedder, state: str) -> None:
    """SIGKILL between creating the store file (or its tables) and stamping its schema
    version must not leave an archive that asks for a migration."""
    from index.store import _SCHEMA, SCHEMA_VERSION

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / STORE_FILE) as conn:
        if state == "tables without stamp":
            conn.executescript(_SCHEMA)
    archive = Archive.open(make_settings(data_dir=data_dir), embedder=embedder)
    assert archive.store.meta()["schema_version"] == str(SCHEMA_VERSION)
    archive.store.close()


def test_an_unstamped_store_with_articles_is_not_recreated(tmp_path: Path, make_settings, embedder) -> None:
    from index.store import _SCHEMA

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / STORE_FILE) as conn:
        conn.executescript(_SCHEMA)
        cols = [r[1] for r in conn.execute("PRAGMA table_info(articles)")]
        conn.execute(f"INSERT INTO articles ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                     [1 if c in ("chunks", "generation", "version") else "x" for c in cols])
    with pytest.raises(ArchiveError, match="old schema version 0"):
        Archive.open(make_settings(data_dir=data_dir), embedder=embedder)
