"""Concurrent writers and readers: while the server (the FastAPI app under uvicorn in a
thread, on a free loopback port) answers ``/api/ask`` for 8 client threads, the CLI adds
articles and removes others in subprocesses. Zero 5xx; every citation's quote is the
article's text at its offsets; no answer started after a removal was committed cites a
removed article; the new articles become answerable without a restart.

Short form: 30 added, 10 removed. Soak: 200 added, 50 removed."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reliability_helpers import ThreadServer, make_articles, popen_cli, write_jsonl

pytestmark = pytest.mark.slow

CLIENTS = 8


def run_scenario(tmp_path: Path, embedder, n_add: int, n_remove: int, extra_keep: int) -> dict[str, Any]:
    from app import create_app
    from config.settings import load_settings
    from corpus.article import Article
    from index.archive import Archive
    from web.service import QAService

    data_dir = tmp_path / "data"
    settings = load_settings(data_dir=data_dir, chunking={"chunk_tokens": 32, "overlap_tokens": 8})
    base = make_articles(n_remove + extra_keep, "base")
    new = make_articles(n_add, "new", salt=1)
    removed_ids = [a["id"] for a in base[:n_remove]]
    texts = {a["id"]: a["text"] for a in base + new}

    archive = Archive.open(settings, embedder=embedder)
    archive.add([Article(id=a["id"], title=a["title"], text=a["text"], source=a["source"]) for a in base])
    service = QAService(settings, archive=archive)
    service.warm_up()
    app = create_app(settings, service=service)
    jsonl = write_jsonl(tmp_path / "new.jsonl", new)

    records: list[tuple[float, float, int, Any, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    questions = [a["question"] for a in base + new]

    def client(seed: int, base_url: str) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base_url, timeout=120) as http:
            while not stop.is_set():
                question = rng.choice(questions)
                t0 = time.monotonic()
                try:
                    r = http.post("/api/ask", json={"question": question})
                    status, body = r.status_code, (r.json() if r.headers.get("content-type", "").startswith(
                        "application/json") else r.text)
                except httpx.HTTPError as exc:
                    status, body = -1, repr(exc)
                with lock:
                    records.append((t0, time.monotonic(), status, body, question))

    with ThreadServer(app) as server:
        threads = [threading.Thread(target=client, args=(i, server.base), daemon=True) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        adder = popen_cli(data_dir, "add", str(jsonl), log=tmp_path / "add.log")
        remover = popen_cli(data_dir, "remove", *removed_ids, log=tmp_path / "remove.log")
        remover.wait(timeout=600)
        removed_at = time.monotonic()  # the removal committed before the process exited
        adder.wait(timeout=900)
        added_at = time.monotonic()
        time.sleep(2.0)
        stop.set()
        for t in threads:
            t.join(timeout=180)
        assert remover.returncode == 0, (tmp_path / "remove.log").read_text(errors="replace")
        assert adder.returncode == 0, (tmp_path / "add.log").read_text(errors="replace")[-3000:]

        # The new articles are answerable by the running server, no restart.
        answered = 0
        with httpx.Client(base_url=server.base, timeout=120) as http:
            sample = new if len(new) <= 30 else random.Random(5).sample(new, 30)
            for a in sample:
                r = http.post("/api/ask", json={"question": a["question"]})
                assert r.status_code == 200, r.text
                body = r.json()
                cited = [c["article_id"] for c in body["citations"]]
                answered += bool(cited and cited[0] == a["id"] and a["answer"] in body["answer"])
                assert body["passages"] and body["passages"][0]["article_id"] == a["id"], (a, body["passages"][:2])
            # ... and the removed ones are gone from the API too.
            for article_id in removed_ids[:5]:
                assert http.get(f"/api/articles/{article_id}").status_code == 404
            got = http.get(f"/api/articles/{new[0]['id']}").json()
            assert got["text"] == new[0]["text"]
        assert answered >= 0.9 * len(sample), f"only {answered}/{len(sample)} new articles answered"
    archive.store.close()

    # -- what the clients saw -----------------------------------------------------------------------
    statuses: dict[int, int] = {}
    bad_quotes, removed_cited, cited_removed_before = [], [], 0
    citations = 0
    for t0, _, status, body, _ in records:
        statuses[status] = statuses.get(status, 0) + 1
        if status != 200:
            continue
        for c in body["citations"]:
            citations += 1
            if texts[c["article_id"]][c["start"]:c["end"]] != c["quote"]:
                bad_quotes.append(c)
            if c["article_id"] in removed_ids:
                if t0 > removed_at:
                    removed_cited.append((t0 - removed_at, c["article_id"]))
                else:
                    cited_removed_before += 1
    assert set(statuses) == {200}, f"statuses {statuses}; e.g. {[r[3] for r in records if r[2] != 200][:3]}"
    assert not bad_quotes, bad_quotes[:3]
    assert not removed_cited, removed_cited[:5]
    assert citations > 0
    summary = {"requests": len(records), "statuses": statuses, "citations_checked": citations,
               "removed_cited_before_commit": cited_removed_before, "new_answered": f"{answered}/{len(sample)}",
               "after_removal": sum(1 for r in records if r[0] > removed_at),
               "after_add": sum(1 for r in records if r[0] > added_at)}
    print("\nconcurrency:", summary)
    return summary


def test_ask_while_adding_and_removing_short(tmp_path: Path, embedder) -> None:
    summary = run_scenario(tmp_path, embedder, n_add=30, n_remove=10, extra_keep=10)
    assert summary["requests"] > 20


@pytest.mark.soak
def test_ask_while_adding_and_removing_soak(tmp_path: Path, embedder) -> None:
    summary = run_scenario(tmp_path, embedder, n_add=200, n_remove=50, extra_keep=20)
    assert summary["requests"] > 100
