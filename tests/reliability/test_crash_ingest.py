"""Crash during ingest: ``byline add`` (``python -m cli add``) of 200 articles killed with
SIGKILL at seeded random moments. After each kill ``byline verify`` passes, every article is
wholly present (chunks in SQLite, FTS5/BM25 and FAISS) or wholly absent, and re-running the
same add completes with the rest (the present ones ``unchanged``, the others ``added``).

Short form (``make test``): 3 trials. Soak (``make soak``): ``BYLINE_SOAK_TRIALS`` (20)."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import time
from pathlib import Path

import pytest

from reliability_helpers import (SOAK_SEED, SOAK_TRIALS, committed_generation, invoke_cli, make_articles, popen_cli,
                                 seeded, whole_or_absent, write_jsonl)

ARTICLES = 200
BATCH = 32  # settings ingest.batch_articles (default): commits happen per batch


def plan(rng) -> tuple[str, float]:
    """``("any", s)``: s seconds after start (start-up, model loading, embedding, commits);
    ``("writing", s)``: s seconds after the first commit (later batches and the snapshot)."""
    if rng.random() < 0.5:
        return "any", rng.uniform(0.3, 20.0)
    return "writing", rng.uniform(0.0, 10.0)


def kill_add(data_dir: Path, jsonl: Path, when: tuple[str, float], log: Path) -> str:
    mode, delay = when
    how = f"{delay:.2f}s after {'start' if mode == 'any' else 'the first commit'}"
    # a snapshot after every add, so that a kill can also land while one is written
    proc = popen_cli(data_dir, "add", str(jsonl), "--json", log=log, BYLINE_INDEX__SNAPSHOT_MIN_CHUNKS="0")
    try:
        if mode == "writing":
            deadline = time.monotonic() + 240
            while committed_generation(data_dir) < 1 and proc.poll() is None and time.monotonic() < deadline:
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


def check_trial(data_dir: Path, jsonl: Path, ids: list[str], how: str, embedder, make_settings) -> int:
    """The checks after one kill; returns how many articles had been committed."""
    from index.archive import Archive

    present: set[str] = set()
    if (data_dir / "byline.sqlite").exists():
        verify = invoke_cli(data_dir, "verify")
        assert verify.returncode == 0, (how, verify.stdout, verify.stderr)
        settings = make_settings(data_dir=data_dir)
        archive = Archive.open(settings, embedder=embedder)
        try:
            present = whole_or_absent(archive, ids)
        finally:
            archive.store.close()
        # commits are per batch, in input order
        assert len(present) % BATCH == 0 or len(present) == ARTICLES, (how, len(present))
        assert present == set(ids[:len(present)]), how
    again = invoke_cli(data_dir, "add", str(jsonl), "--json")
    assert again.returncode == 0, (how, again.stderr[-2000:])
    statuses = {r["article_id"]: r["status"] for r in json.loads(again.stdout)}
    assert statuses == {i: ("unchanged" if i in present else "added") for i in ids}, how
    verify = invoke_cli(data_dir, "verify")
    assert verify.returncode == 0 and f"ok: {ARTICLES} articles" in verify.stdout, (how, verify.stdout, verify.stderr)
    archive = Archive.open(make_settings(data_dir=data_dir), embedder=embedder)
    try:
        assert whole_or_absent(archive, ids) == set(ids)
    finally:
        archive.store.close()
    return len(present)


def run_trials(tmp_path: Path, trials: int, seed: int, embedder, make_settings, parallel: int) -> list:
    articles = make_articles(ARTICLES, "crash")
    jsonl = write_jsonl(tmp_path / "articles.jsonl", articles)
    ids = [a["id"] for a in articles]
    rng = seeded(seed)
    plans = [plan(rng) for _ in range(trials)]
    outcomes = []
    for first in range(0, trials, parallel):
        group = range(first, min(first + parallel, trials))
        with concurrent.futures.ThreadPoolExecutor(len(group)) as pool:
            hows = list(pool.map(lambda t: kill_add(tmp_path / f"trial-{t}", jsonl, plans[t],
                                                    tmp_path / f"trial-{t}.log"), group))
        for t, how in zip(group, hows):
            committed = check_trial(tmp_path / f"trial-{t}", jsonl, ids, how, embedder, make_settings)
            outcomes.append((how, committed))
    print(f"\nkill trials survived: {len(outcomes)}/{trials} (seed {seed}); "
          f"articles committed before each kill: {[c for _, c in outcomes]}")
    for how, committed in outcomes:
        print(f"  killed {how}: {committed} articles committed, the rest added on re-run")
    return outcomes


@pytest.mark.slow
def test_kill_during_add_short(tmp_path: Path, embedder, make_settings) -> None:
    outcomes = run_trials(tmp_path, 3, SOAK_SEED, embedder, make_settings, parallel=3)
    assert len(outcomes) == 3


@pytest.mark.soak
@pytest.mark.slow
def test_kill_during_add_soak(tmp_path: Path, embedder, make_settings) -> None:
    trials = max(SOAK_TRIALS, 20)
    outcomes = run_trials(tmp_path, trials, SOAK_SEED + 1, embedder, make_settings, parallel=2)
    assert len(outcomes) == trials
