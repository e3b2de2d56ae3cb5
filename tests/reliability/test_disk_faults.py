"""Disk faults and schema versions: a full disk (a small tmpfs) and a read-only data dir
(tmpfs remounted read-only) give a clear error from ``byline add`` and leave the index
loading and answering as before; an older or newer schema version gives a clear message
saying what to run (and ``byline rebuild`` does migrate an older one)."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from reliability_helpers import invoke_cli, make_articles, write_jsonl

pytestmark = pytest.mark.slow

BASE = 6


def _mount_tmpfs(path: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (disk-full and read-only tests skipped)")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                    "disk-full and read-only tests skipped")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (unmounted afterwards)."""
    mnt = tmp_path / "mnt"
    _mount_tmpfs(mnt, "1m")
    try:
        yield mnt
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mnt)], capture_output=True)
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _settings(data_dir: Path):
    from config.settings import load_settings

    return load_settings(data_dir=data_dir, chunking={"chunk_tokens": 32, "overlap_tokens": 8})


def _add_in_process(data_dir: Path, articles: list[dict], embedder) -> None:
    """Add articles without a subprocess (the model is loaded once per test session)."""
    from corpus.article import Article
    from index.archive import Archive

    archive = Archive.open(_settings(data_dir), embedder=embedder)
    try:
        results = archive.add([Article(id=a["id"], title=a["title"], text=a["text"], source=a["source"])
                               for a in articles])
        assert all(r.status == "added" for r in results), results
    finally:
        archive.store.close()


def _state(data_dir: Path, embedder) -> tuple[str, int, dict]:
    """(``byline verify`` output, ``byline stats`` article count, one answer) of the index;
    the answer comes from a pipeline in this process (the model is loaded once)."""
    from index.archive import Archive
    from retrieval.pipeline import QAPipeline

    verify = invoke_cli(data_dir, "verify")
    assert verify.returncode == 0, verify.stderr
    stats = invoke_cli(data_dir, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    settings = _settings(data_dir)
    archive = Archive.open(settings, embedder=embedder, create=False)
    try:
        answer = QAPipeline(archive, settings).ask(make_articles(BASE, "base")[2]["question"]).to_dict()
    finally:
        archive.store.close()
    return verify.stdout, json.loads(stats.stdout)["articles"], answer


def _build(data_dir: Path, tmp_path: Path, embedder) -> tuple[str, int, dict]:
    write_jsonl(tmp_path / "base.jsonl", make_articles(BASE, "base"))
    _add_in_process(data_dir, make_articles(BASE, "base"), embedder)
    before = _state(data_dir, embedder)
    assert before[1] == BASE
    # the index still retrieves and reads: the question's article is the top passage
    assert before[2]["passages"][0]["article_id"] == "base-002"
    return before


def _filler(path: Path, articles: int = 40) -> Path:
    """Articles of ~9 KB whose 150-letter words are one [UNK] word piece each: many bytes
    for few chunks, so the disk fills long before embedding takes long."""
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(articles):
            words = ["".join(rng.choice("abcdefghij") for _ in range(150)) for _ in range(60)]
            handle.write(json.dumps({"id": f"filler-{i}", "title": f"Filler {i}",
                                     "text": "Filler. " + " ".join(words)}) + "\n")
    return path


def test_disk_full_gives_a_clear_error_and_keeps_the_index(small_fs: Path, tmp_path: Path, embedder) -> None:
    data_dir = small_fs / "data"
    before = _build(data_dir, tmp_path, embedder)
    done = invoke_cli(data_dir, "add", str(_filler(tmp_path / "filler.jsonl")))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "error: could not write" in done.stderr and "full" in done.stderr, done.stderr
    assert _state(data_dir, embedder) == before
    # Space freed (here: the rest of the filler dropped): adding works again.
    _add_in_process(data_dir, make_articles(2, "more", salt=3), embedder)
    assert invoke_cli(data_dir, "verify").returncode == 0


def test_read_only_data_dir_gives_a_clear_error_and_still_answers(small_fs: Path, tmp_path: Path, embedder) -> None:
    data_dir = small_fs / "data"
    before = _build(data_dir, tmp_path, embedder)
    import gc

    gc.collect()
    ro = subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True, text=True)
    if ro.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {ro.stderr.strip()}")
    more = write_jsonl(tmp_path / "more.jsonl", make_articles(3, "more", salt=5))
    done = invoke_cli(data_dir, "add", str(more))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "error: could not write the index" in done.stderr and "Read-only" in done.stderr, done.stderr
    removed = invoke_cli(data_dir, "remove", "base-001")
    assert removed.returncode == 1 and "Traceback" not in removed.stderr and "error:" in removed.stderr
    # Readers still load and answer from the read-only folder, as before. Lexical search
    # there is FTS5's (tantivy must lock its index even to read), so the answer, its status
    # and citations must be the same; the other passages' order and the confidence may move.
    after = _state(data_dir, embedder)
    assert after[:2] == before[:2]
    assert {k: after[2][k] for k in ("answer", "status", "citations")} == \
        {k: before[2][k] for k in ("answer", "status", "citations")}
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert _state(data_dir, embedder) == before
    _add_in_process(data_dir, make_articles(3, "more", salt=5), embedder)
    assert invoke_cli(data_dir, "verify").returncode == 0


def _set_schema(data_dir: Path, version: int) -> None:
    with sqlite3.connect(data_dir / "byline.sqlite") as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))


def test_older_and_newer_schema_versions(tmp_path: Path, embedder) -> None:
    from index.store import SCHEMA_VERSION

    data_dir = tmp_path / "data"
    _build(data_dir, tmp_path, embedder)
    question = make_articles(BASE, "base")[2]["question"]
    _set_schema(data_dir, SCHEMA_VERSION - 1)
    for args in (["stats"], ["ask", question], ["add", str(tmp_path / "base.jsonl")], ["verify"]):
        done = invoke_cli(data_dir, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (args, done.stderr)
        assert f"old schema version {SCHEMA_VERSION - 1}" in done.stderr, done.stderr
        assert "run `byline rebuild`" in done.stderr, done.stderr
    # ... and what it says to run works.
    rebuilt = invoke_cli(data_dir, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt: {BASE} articles" in rebuilt.stdout
    assert _state(data_dir, embedder)[2]["citations"][0]["article_id"] == "base-002"

    _set_schema(data_dir, SCHEMA_VERSION + 1)
    for args in (["stats"], ["ask", question], ["rebuild"]):
        done = invoke_cli(data_dir, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (args, done.stderr)
        assert f"schema version {SCHEMA_VERSION + 1}, newer than this Byline" in done.stderr
        assert "upgrade Byline" in done.stderr
