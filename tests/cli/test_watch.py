"""``byline add --watch DIR``: new and changed files of a folder are added once settled."""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
import cli.watch
from byline_testing import TEST_CHUNKING, TOPICS


def write_story(path: Path, topic: str, extra: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{TOPICS[topic][0]}\n\n{TOPICS[topic][1]}{extra}", encoding="utf-8")


def test_watch_folder_adds_new_and_changed_files(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write_story(folder / "old.txt", "bridge")
    calls: queue.Queue[list[Path]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=cli.watch.watch_folder, args=(folder, calls.put),
                              kwargs={"interval": 0.05, "stop": stop}, daemon=True)
    thread.start()
    try:
        assert calls.get(timeout=10) == [folder / "old.txt"]  # there at the start
        write_story(folder / "sub" / "new.txt", "chess")
        (folder / ".hidden.txt").write_text("Hidden\n\nnot added", encoding="utf-8")
        (folder / "notes.pdf").write_bytes(b"%PDF")
        assert calls.get(timeout=10) == [folder / "sub" / "new.txt"]
        time.sleep(0.02)
        write_story(folder / "old.txt", "bridge", extra=" It reopened on Friday.")
        assert calls.get(timeout=10) == [folder / "old.txt"]
        time.sleep(0.3)
        assert calls.empty()  # nothing changed: nothing added again
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_add_watch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder) -> None:
    monkeypatch.setenv("BYLINE_CHUNKING__CHUNK_TOKENS", str(TEST_CHUNKING["chunk_tokens"]))
    monkeypatch.setenv("BYLINE_CHUNKING__OVERLAP_TOKENS", str(TEST_CHUNKING["overlap_tokens"]))
    # three looks, then the command returns as after Ctrl-C
    monkeypatch.setattr(cli.watch, "watch_folder",
                        functools.partial(cli.watch.watch_folder, rounds=3, interval=0.01))
    folder = tmp_path / "inbox"
    write_story(folder / "a.txt", "bridge")
    write_story(folder / "b.txt", "chess")
    data_dir = tmp_path / "data"
    runner = CliRunner()
    result = runner.invoke(cli.app, ["--data-dir", str(data_dir), "--no-server", "add", "--watch", str(folder)])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["added", "added"]
    listed = json.loads(runner.invoke(cli.app, ["--data-dir", str(data_dir), "list", "--json"]).stdout)
    assert len(listed) == 2
    bad = runner.invoke(cli.app, ["--data-dir", str(data_dir), "add", "--watch", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "is not a folder" in bad.stderr
