"""Helpers shared by the reliability tests (imported as ``reliability_helpers``: pytest
puts this folder on ``sys.path``; never ``from conftest import``).

Counts come from environment variables so that ``make test`` runs a short form and
``make soak`` (tests marked ``soak``) the long one:

- ``BYLINE_SOAK_TRIALS``   kill trials of the soak crash test (default 20)
- ``BYLINE_SOAK_SEED``     seed of the kill moments (default 20240314)
- ``BYLINE_FUZZ_EXAMPLES`` hypothesis examples per loader in the soak fuzz test (default 1500)
"""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]

SOAK_TRIALS = int(os.environ.get("BYLINE_SOAK_TRIALS", "20"))
SOAK_SEED = int(os.environ.get("BYLINE_SOAK_SEED", "20240314"))
FUZZ_EXAMPLES = int(os.environ.get("BYLINE_FUZZ_EXAMPLES", "1500"))

# Environment of `python -m cli ...` subprocesses: offline, small chunks (fast embedding).
CLI_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
    "BYLINE_CHUNKING__CHUNK_TOKENS": "32",
    "BYLINE_CHUNKING__OVERLAP_TOKENS": "8",
}


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(CLI_ENV)
    env.update(extra)
    return env


def run_cli(data_dir: Path, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """``python -m cli --data-dir DATA_DIR ARGS`` in a subprocess (text output)."""
    return subprocess.run([sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args],
                          cwd=REPO_ROOT, env=cli_env(**env), capture_output=True, text=True, timeout=timeout)


def popen_cli(data_dir: Path, *args: str, log: Path, **env: str) -> subprocess.Popen:
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--data-dir", str(data_dir), *args],
                            cwd=REPO_ROOT, env=cli_env(**env), stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc


# -- synthetic articles with one unique, answerable fact each ------------------------------------
_SYL = ["bra", "cel", "dov", "fen", "gal", "hes", "jor", "kil", "lum", "mar", "nev", "ost", "pim",
        "quel", "ros", "sav", "tir", "ulm", "vex", "wen"]
_TOWNS = ["Harwick", "Dunmore", "Ellesby", "Carrow", "Penmoor", "Stillwater", "Oakhurst", "Brindle"]


def festival_name(i: int, salt: int = 0) -> str:
    j = i + 997 * salt
    return (_SYL[j % 20] + _SYL[(j // 20) % 20] + _SYL[(j // 400) % 20]).capitalize()


def make_articles(n: int, prefix: str, *, salt: int = 0, start: int = 0) -> list[dict[str, Any]]:
    """``n`` small articles ``{id, title, text, source, published, question, answer}``; each
    names a made-up festival (unique within a salt) and how many visitors it drew."""
    out = []
    for i in range(start, start + n):
        name = festival_name(i, salt)
        visitors = f"{1000 + (i * 7919 + salt * 131) % 9000:,}"
        town = _TOWNS[i % len(_TOWNS)]
        text = (f"The {name} lantern festival drew {visitors} visitors to {town} on Saturday. "
                f"Organisers said the {name} parade lasted {2 + i % 5} hours and ended at the harbour. "
                f"Local bakers sold out of bread by noon, and buses ran every ten minutes.")
        out.append({"id": f"{prefix}-{i:03d}", "title": f"{name} festival draws crowds",
                    "text": text, "source": "Reliability Gazette", "published": "2024-03-14",
                    "question": f"How many visitors did the {name} lantern festival draw?",
                    "answer": visitors})
    return out


def write_jsonl(path: Path, articles: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for a in articles:
            record = {k: a[k] for k in ("id", "title", "text", "source", "published") if k in a}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# -- index checks ------------------------------------------------------------------------------------
def committed_generation(data_dir: Path) -> int:
    """The committed generation, read like any reader would (0 if there is none yet)."""
    store = data_dir / "byline.sqlite"
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1.0) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def whole_or_absent(archive: Any, ids: list[str]) -> set[str]:
    """Assert every article is wholly present (declared chunks == chunk rows == FTS rows ==
    FAISS vectors == tantivy documents, > 0; its claims recorded as extracted) or wholly
    absent (none of them, and no claim of it); returns the
    present ids. The derived indexes are read as a reopening process sees them (replayed
    from the store where a kill left them behind), and must be usable (no FTS5 fallback)."""
    conn = archive.store.connect()
    faiss_ids = archive.dense().ids()
    tantivy = archive.lexical.current() if getattr(archive, "lexical", None) is not None else None
    if getattr(archive, "lexical", None) is not None:
        assert tantivy is not None, archive.lexical.events
    present = set()
    for article_id in ids:
        row = conn.execute("SELECT chunk_count FROM articles WHERE id=?", (article_id,)).fetchone()
        chunk_ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE article_id=?", (article_id,))]
        marks = ",".join("?" * len(chunk_ids)) or "NULL"
        fts = conn.execute(f"SELECT count(*) FROM chunks_fts WHERE rowid IN ({marks})", chunk_ids).fetchone()[0]
        in_faiss = int(np.isin(faiss_ids, chunk_ids).sum()) if chunk_ids else 0
        in_tantivy = tantivy.count_ids(chunk_ids) if tantivy is not None else in_faiss
        claims = conn.execute("SELECT count(*) FROM claims WHERE article_id=?", (article_id,)).fetchone()[0]
        extracted = conn.execute("SELECT claims FROM claim_articles WHERE article_id=?", (article_id,)).fetchone()
        if row is None:
            assert (len(chunk_ids), fts, in_faiss, in_tantivy) == (0, 0, 0, 0), \
                (article_id, len(chunk_ids), fts, in_faiss, in_tantivy)
            assert claims == 0 and extracted is None, (article_id, "claims without their article", claims)
        else:
            if archive.settings.index.claims:  # claims were committed with the article
                assert extracted is not None and extracted[0] == claims, (article_id, extracted, claims)
            assert row[0] > 0 and row[0] == len(chunk_ids) == fts == in_faiss == in_tantivy, \
                (article_id, row[0], len(chunk_ids), fts, in_faiss, in_tantivy)
            present.add(article_id)
    return present


# -- a server in this process --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on", timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self) -> str:
        return f"CliResult({self.returncode}, stdout={self.stdout[-500:]!r}, stderr={self.stderr[-1500:]!r})"


def invoke_cli(data_dir: Path, *args: str, **env: str) -> CliResult:
    """``byline --data-dir DATA_DIR ARGS`` in this process (typer's CliRunner): the same
    command code as the subprocess, but the embedding model is loaded once per session."""
    import traceback

    from typer.testing import CliRunner

    import cli

    import gc

    result = CliRunner().invoke(cli.app, ["--data-dir", str(data_dir), *args], env={**CLI_ENV, **env})
    gc.collect()  # close the command's SQLite connections now (a remount needs no open files)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return CliResult(result.exit_code, result.stdout, stderr)
