"""``byline add|remove|list|ask|claims`` through a running server of the same archive.

The server here is the real one minus the chat: :func:`cli.serve.advertising_server`
(uvicorn, the local command endpoints, the advertisement in ``data_dir``) around a bare
FastAPI app, in a thread of the test process, sharing the test's embedding model."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from byline_testing import TEST_CHUNKING, TOPICS, article_record


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BYLINE_CHUNKING__CHUNK_TOKENS", str(TEST_CHUNKING["chunk_tokens"]))
    monkeypatch.setenv("BYLINE_CHUNKING__OVERLAP_TOKENS", str(TEST_CHUNKING["overlap_tokens"]))
    return tmp_path / "data"


def run(data_dir: Path, *args: str, input: str | None = None):
    result = CliRunner().invoke(cli.app, ["--data-dir", str(data_dir), *args], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


class Running:
    """A server started by :func:`servers`; ``stop()`` shuts it down as Ctrl-C would."""

    def __init__(self, server, thread: threading.Thread, port: int) -> None:
        self.server, self.thread, self.port = server, thread, port

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        assert not self.thread.is_alive()


@pytest.fixture
def servers(data_dir: Path, embedder):
    """``start()`` -> a :class:`Running` server of ``data_dir`` on a free port."""
    from cli.serve import advertising_server, bind_socket, local_url
    from config.settings import load_settings
    from fastapi import FastAPI
    from index.archive import Archive
    from web.service import QAService

    started: list[Running] = []

    def start() -> Running:
        settings = load_settings(data_dir=data_dir)
        service = QAService(settings, archive=Archive.open(settings, embedder=embedder))
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        sock = bind_socket("127.0.0.1", port)
        server = advertising_server(FastAPI(), service=service, data_dir=data_dir, settings=settings,
                                    url=local_url("127.0.0.1", port), log_level="warning")
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not (server.started and (data_dir / "server.json").exists()):
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        running = Running(server, thread, port)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.thread.is_alive():
            running.stop()


@pytest.fixture
def no_local_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening the archive in the command's own process fails the test."""
    import cli.answers
    import cli.articles
    import cli.claims

    def refuse(*args, **kwargs):
        raise AssertionError("the command opened the archive in process instead of using the server")

    monkeypatch.setattr(cli.articles, "open_archive", refuse)
    monkeypatch.setattr(cli.answers, "open_archive", refuse)
    monkeypatch.setattr(cli.claims, "open_archive", refuse)


def story(tmp_path: Path, topic: str = "bridge") -> Path:
    path = tmp_path / f"{topic}.txt"
    path.write_text(f"{TOPICS[topic][0]}\n\n{TOPICS[topic][1]}", encoding="utf-8")
    return path


def test_add_list_remove_ask_go_through_the_server(servers, data_dir: Path, tmp_path: Path,
                                                   no_local_archive) -> None:
    running = servers()
    advert = data_dir / "server.json"
    assert stat.S_IMODE(advert.stat().st_mode) == 0o600
    assert json.loads(advert.read_text())["url"] == f"http://127.0.0.1:{running.port}"

    path = story(tmp_path)
    added = run(data_dir, "add", str(path))
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("added") and f"through the server at http://127.0.0.1:{running.port}" in added.stderr
    again = json.loads(run(data_dir, "add", "--json", str(path)).stdout)
    assert [r["status"] for r in again] == ["unchanged"] and again[0]["chunks"] > 0

    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text(json.dumps(article_record("chess", id="c1")) + "\n{broken\n"
                     + json.dumps(article_record("volcano", id="c1")) + "\n"
                     + json.dumps({"id": "blank", "title": "T", "text": " "}) + "\n", encoding="utf-8")
    batch = run(data_dir, "add", "--json", str(jsonl))
    assert batch.exit_code == 1
    rows = json.loads(batch.stdout)
    assert [(r["source"], r["article_id"], r["status"]) for r in rows] == [
        (f"{jsonl}:1", "c1", "added"), (f"{jsonl}:2", None, "rejected"),
        (f"{jsonl}:3", "c1", "rejected"), (f"{jsonl}:4", "blank", "rejected")]

    listed = json.loads(run(data_dir, "list", "--json").stdout)
    assert sorted(a["id"] for a in listed) == sorted(["c1", again[0]["article_id"]])
    assert "2 articles" in run(data_dir, "list").stderr

    asked = run(data_dir, "ask", "--json", "Wer ist der Bürgermeister?")
    assert asked.exit_code == 0, asked.output
    assert json.loads(asked.stdout)["status"] == "abstained"
    assert run(data_dir, "ask", "   ").exit_code == 2  # invalid question: usage error, as in process

    removed = run(data_dir, "remove", str(path), "ghost")
    assert removed.exit_code == 1
    assert removed.stdout.splitlines() == [f"removed  {again[0]['article_id']}", "not found  ghost"]
    assert run(data_dir, "remove", "c1").exit_code == 0
    empty = run(data_dir, "ask", "Who won?")
    assert empty.exit_code == 1 and "is empty" in empty.stderr

    running.stop()
    assert not advert.exists()  # removed at shutdown


def test_claims_go_through_the_server(servers, data_dir: Path, tmp_path: Path, no_local_archive) -> None:
    servers()
    path = tmp_path / "repairs.txt"
    path.write_text("Harbor bridge repairs will cost more\n\nThe county engineer, Ada Brennan, estimated that "
                    "the harbor bridge repairs would cost $4.2 million. A contractor put the cost at $6 million, "
                    "according to the bid documents.", encoding="utf-8")
    assert run(data_dir, "add", str(path)).exit_code == 0
    found = run(data_dir, "claims", "--json", "harbor bridge repairs cost")
    assert found.exit_code == 0, found.output
    claims = json.loads(found.stdout)["claims"]
    text = path.read_text(encoding="utf-8").split("\n\n", 1)[1]
    brennan = next(c for c in claims if c["speaker"] == "Ada Brennan")
    assert brennan["cue"] == "estimated" and [f["text"] for f in brennan["figures"]] == ["$4.2 million"]
    cite = brennan["citation"]
    assert cite["quote"] in text and cite["quote"] == brennan["content"]
    assert run(data_dir, "claims", "--since", "2024-13-01", "x").exit_code == 2
    listed = run(data_dir, "claims", "--speaker", "brennan", "harbor bridge")
    assert listed.exit_code == 0 and "Ada Brennan" in listed.stdout and "estimated" in listed.stdout


def test_a_server_restarted_on_another_port_is_found(servers, data_dir: Path, tmp_path: Path) -> None:
    first = servers()
    first.stop()
    second = servers()
    assert second.port != first.port
    result = run(data_dir, "add", str(story(tmp_path)))
    assert result.exit_code == 0
    assert f"through the server at http://127.0.0.1:{second.port}" in result.stderr


def test_no_server_forces_in_process(servers, data_dir: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    servers()
    result = run(data_dir, "--no-server", "add", str(story(tmp_path)))
    assert result.exit_code == 0 and "through the server" not in result.stderr
    # the server sees what the in-process add committed
    listed = run(data_dir, "list", "--json")
    assert len(json.loads(listed.stdout)) == 1
    monkeypatch.setenv("BYLINE_NO_SERVER", "1")
    result = run(data_dir, "add", str(story(tmp_path, "chess")))
    assert result.exit_code == 0 and "through the server" not in result.stderr


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("case", ["killed", "no-answer", "other-instance", "readable-by-others"])
def test_a_stale_advertisement_is_ignored(servers, data_dir: Path, tmp_path: Path, case: str, embedder) -> None:
    from cli.advert import Advert, write_advert
    from config.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    data_dir.mkdir(parents=True)
    if case == "other-instance":
        running = servers()
        advert = json.loads((data_dir / "server.json").read_text())
        write_advert(data_dir, Advert(**{**advert, "instance": "0" * 16}))
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        advert = Advert.new(f"http://127.0.0.1:{port}", data_dir, settings)
        write_advert(data_dir, Advert(**{**advert.__dict__, "pid": dead_pid() if case == "killed" else os.getpid()}))
        if case == "readable-by-others":
            (data_dir / "server.json").chmod(0o644)
    started = time.monotonic()
    result = run(data_dir, "add", str(story(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "through the server" not in result.stderr
    assert time.monotonic() - started < 60
    assert len(json.loads(run(data_dir, "--no-server", "list", "--json").stdout)) == 1
    if case == "other-instance":
        running.stop()


def test_local_endpoints_need_the_token_and_refuse_browsers(servers, data_dir: Path) -> None:
    import httpx

    running = servers()
    token = json.loads((data_dir / "server.json").read_text())["token"]
    base = f"http://127.0.0.1:{running.port}/_byline/local"
    assert httpx.get(f"{base}/articles").status_code == 401
    assert httpx.get(f"{base}/articles", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/articles", headers={"Authorization": f"Bearer {token}",
                                                  "Origin": "https://evil.example"}).status_code == 403
    assert httpx.get(f"{base}/articles", headers={"Authorization": f"Bearer {token}"}).json() == {"articles": []}


@pytest.mark.slow
def test_byline_serve_advertises_itself_and_cleans_up(data_dir: Path, tmp_path: Path, embedder) -> None:
    """The real ``byline serve`` (chat, API and local endpoints) in a subprocess: the
    commands find it, and SIGTERM (what kill, systemd and docker send; the in-process
    servers above stop as Ctrl-C would) removes its advertisement."""
    import signal

    from byline_testing import REPO_ROOT

    assert run(data_dir, "--no-server", "add", str(story(tmp_path))).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}, "HF_HUB_OFFLINE": "1",
           "BYLINE_CHUNKING__CHUNK_TOKENS": str(TEST_CHUNKING["chunk_tokens"]),
           "BYLINE_CHUNKING__OVERLAP_TOKENS": str(TEST_CHUNKING["overlap_tokens"])}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--data-dir", str(data_dir), "serve", "--port", str(port),
                             "--no-sample"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        advert = data_dir / "server.json"
        deadline = time.monotonic() + 240
        while not advert.exists():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "byline serve did not advertise itself"
            time.sleep(0.2)
        listed = run(data_dir, "list")
        assert listed.exit_code == 0 and "1 article" in listed.stderr
        from cli.remote import find_server
        from config.settings import load_settings

        assert find_server(load_settings(data_dir=data_dir)) is not None
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises the signal: killed by SIGTERM (-15)
        assert proc.wait(60) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
        assert not advert.exists(), "server.json left behind after SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
