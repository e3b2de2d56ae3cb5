"""Crash safety: ``byline add`` killed with SIGKILL at a random (seeded) moment leaves an
archive in which every article is wholly present or wholly absent, ``verify()`` passes and
re-running the add completes. A few trials here; the soak suite runs many more."""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from byline_testing import REPO_ROOT, TEST_CHUNKING, TOPICS
from index.archive import STORE_FILE, Archive

ARTICLES = 40
TRIALS = int(os.environ.get("CRASH_TRIALS", "3"))
SEED = int(os.environ.get("CRASH_SEED", "20240314"))

ENV = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # a snapshot after every change, so a kill can also land while one is written
    "BYLINE_INDEX__SNAPSHOT_MIN_CHUNKS": "0",
    "BYLINE_CHUNKING__CHUNK_TOKENS": str(TEST_CHUNKING["chunk_tokens"]),
    "BYLINE_CHUNKING__OVERLAP_TOKENS": str(TEST_CHUNKING["overlap_tokens"]),
}


def write_articles(path: Path) -> list[str]:
    topics = list(TOPICS)
    ids = []
    with path.open("w", encoding="utf-8") as handle:
        for i in range(ARTICLES):
            title, text = TOPICS[topics[i % len(topics)]]
            article_id = f"crash-{i:02d}"
            ids.append(article_id)
            handle.write(json.dumps({"id": article_id, "title": f"{title} ({i})",
                                     "text": f"Report number {i}. {text}", "source": "Crash Gazette",
                                     "published": "2024-03-14"}) + "\n")
    return ids


def generation(data_dir: Path) -> int:
    """The committed generation, read like any other reader would (0 if not there yet)."""
    store = data_dir / STORE_FILE
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1.0) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def plan(rng: random.Random) -> tuple[str, float]:
    """When to kill: ``("any", seconds after start)`` anywhere in the run (start-up, model
    loading, embedding, committing), or ``("writing", seconds after the first commit)``,
    while the next batch is embedded and committed and snapshots are written."""
    if rng.random() < 0.5:
        return "any", rng.uniform(0.5, 14.0)
    return "writing", rng.uniform(0.0, 0.6)


def run_and_kill(data_dir: Path, jsonl: Path, when: tuple[str, float], log: Path) -> str:
    """Run ``cli.py add`` and SIGKILL it at ``when``; returns a description of the moment."""
    mode, delay = when
    env = {**os.environ, **ENV}
    how = f"{delay:.2f}s after {'start' if mode == 'any' else 'the first commit'}"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(REPO_ROOT / "cli.py"), "--data-dir", str(data_dir),
                                 "add", str(jsonl), "--json"], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            if mode == "writing":
                deadline = time.monotonic() + 180
                while generation(data_dir) < 1 and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.005)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            else:
                how += " (finished first)"
                assert proc.returncode == 0, log.read_text(errors="replace")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    return how


def check_whole_or_absent(archive: Archive, ids: list[str]) -> set[str]:
    """Every article is wholly present (declared chunks == chunk rows == FTS rows == FAISS
    vectors) or wholly absent; returns the present ones."""
    conn = archive.store.connect()
    faiss_ids = archive.dense().ids()
    present = set()
    for article_id in ids:
        row = conn.execute("SELECT chunk_count FROM articles WHERE id=?", (article_id,)).fetchone()
        chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))]
        marks = ",".join("?" * len(chunk_ids)) or "NULL"
        fts = conn.execute(f"SELECT count(*) FROM chunks_fts WHERE rowid IN ({marks})", chunk_ids).fetchone()[0]
        in_faiss = int(np.isin(faiss_ids, chunk_ids).sum())
        if row is None:
            assert (len(chunk_ids), fts, in_faiss) == (0, 0, 0), article_id
        else:
            assert row[0] > 0 and row[0] == len(chunk_ids) == fts == in_faiss, (article_id, row[0], len(chunk_ids), fts, in_faiss)
            present.add(article_id)
    return present


@pytest.mark.slow
def test_kill_during_add_leaves_whole_articles(tmp_path: Path, make_settings, embedder,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    jsonl = tmp_path / "articles.jsonl"
    ids = write_articles(jsonl)
    rng = random.Random(SEED)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    plans = [plan(rng) for _ in range(TRIALS)]
    # The trials run side by side (each loads the model, which is most of a run's time).
    with concurrent.futures.ThreadPoolExecutor(TRIALS) as pool:
        hows = list(pool.map(lambda t: run_and_kill(tmp_path / f"trial-{t}", jsonl, plans[t],
                                                    tmp_path / f"trial-{t}.log"), range(TRIALS)))
    outcomes = []
    for trial, how in enumerate(hows):
        data_dir = tmp_path / f"trial-{trial}"
        settings = make_settings(data_dir=data_dir, index={"snapshot_min_chunks": 0})
        if not (data_dir / STORE_FILE).exists():
            outcomes.append((how, 0))
            continue
        archive = Archive.open(settings, embedder=embedder)
        assert archive.verify() == [], how
        present = check_whole_or_absent(archive, ids)
        assert len(present) in (0, 32, ARTICLES), (how, len(present))  # commits are per batch of 32
        outcomes.append((how, len(present)))
        archive.store.close()

        result = runner.invoke(cli.app, ["--data-dir", str(data_dir), "add", str(jsonl), "--json"])
        assert result.exit_code == 0, (how, result.output)
        records = json.loads(result.stdout)
        assert not [r for r in records if r["status"] == "rejected"], how
        statuses = {r["article_id"]: r["status"] for r in records}
        assert statuses == {i: ("unchanged" if i in present else "added") for i in ids}, how
        archive = Archive.open(settings, embedder=embedder)
        assert archive.verify() == []
        assert check_whole_or_absent(archive, ids) == set(ids)
        archive.store.close()
    print("crash trials:", outcomes)
