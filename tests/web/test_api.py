"""The HTTP API on the sample corpus: answers and their schema, streaming, articles
(statuses 201/200/422, ids with '/' and ':'), errors as JSON, and answering articles
added while the server runs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

DOCKWORKERS = "How many dockworkers walked off the job at the Port of Calloway?"
ANSWER_KEYS = ["question", "answer", "text", "status", "abstained", "confidence", "citations", "passages",
               "standalone_question", "reader", "fallback"]


def assert_error(response, status: int, *needles: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status
    assert "Traceback" not in body["error"]
    for needle in needles:
        assert needle in body["error"], body["error"]
    return body


def test_healthz(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "ready": True, "articles": 10,
                        "index": {"status": "ok", "lexical": "tantivy", "repairs": []}}


def test_ask_answers_with_exact_citations(client) -> None:
    r = client.post("/api/ask", json={"question": DOCKWORKERS})
    assert r.status_code == 200, r.text
    a = r.json()
    assert list(a) == ANSWER_KEYS
    assert a["question"] == DOCKWORKERS
    assert not a["abstained"] and "2,300" in a["answer"]
    assert a["citations"] and a["citations"][0]["n"] == 1
    assert "[1]" in a["text"]
    for c in a["citations"]:
        article = client.get(f"/api/articles/{c['article_id']}").json()
        assert article["text"][c["start"]:c["end"]] == c["quote"]
    assert a["citations"][0]["article_id"] == "harbor-ledger-2024-03-port-strike"
    assert all(set(p) == {"article_id", "title", "start", "end", "score"} for p in a["passages"])


def test_follow_up_uses_history(client) -> None:
    first = client.post("/api/ask", json={"question": DOCKWORKERS}).json()
    r = client.post("/api/ask", json={"question": "Who leads their union local?",
                                      "history": [[DOCKWORKERS, first["text"]]]})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["standalone_question"] and a["standalone_question"] != a["question"]
    assert a["passages"][0]["article_id"] == "harbor-ledger-2024-03-port-strike"


def test_filters_restrict_the_outlet(client) -> None:
    r = client.post("/api/ask", json={"question": "Who is the mayor?", "filters": {"source": "The Harbor Ledger"}})
    assert r.status_code == 200, r.text
    ids = {p["article_id"] for p in r.json()["passages"]}
    assert ids and all(i.startswith("harbor-ledger") for i in ids)
    r = client.post("/api/ask", json={"question": "Who is the mayor?", "filters": {"since": "2030-01-01"}})
    assert r.status_code == 200 and r.json()["abstained"] and not r.json()["passages"]


@pytest.mark.parametrize("body, needle", [
    ({"question": ""}, "question: empty"),
    ({"question": "   "}, "question: empty"),
    ({"question": 42}, "question: must be a string"),
    ({"question": "x" * 1001}, "the limit is 1000"),
    ({}, "question"),
    ({"question": "Who?", "filters": {"since": "yesterday"}}, "filters.since"),
    ({"question": "Who?", "filters": {"outlet": "x"}}, "unknown field"),
    ({"question": "Who?", "filters": "Harbor Ledger"}, "filters: must be an object"),
    ({"question": "Who?", "history": [["only one"]]}, "history[0]"),
    ({"question": "Who?", "history": "hi"}, "history: must be a list"),
    ({"question": "Who?", "k": 0}, "k"),
])
def test_ask_errors_are_json_422(client, body, needle) -> None:
    assert_error(client.post("/api/ask", json=body), 422, needle)
    assert_error(client.post("/api/ask/stream", json=body), 422, needle)


def test_ask_malformed_json(client) -> None:
    assert_error(client.post("/api/ask", content=b"{not json", headers={"Content-Type": "application/json"}), 422)


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_stream_sends_deltas_then_the_answer(client) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": DOCKWORKERS}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = parse_sse(text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"} and len(kinds) > 3
    answer = events[-1][1]
    assert list(answer) == ANSWER_KEYS
    assert "".join(d["text"] for k, d in events if k == "delta") == answer["text"]


def test_list_and_get_articles(client) -> None:
    r = client.get("/api/articles")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(body["articles"]) >= 10
    assert body["sources"]["The Harbor Ledger"] == 2
    first = body["articles"][0]
    assert set(first) == {"id", "title", "url", "published", "source", "chunks", "chars"}
    article = client.get(f"/api/articles/{first['id']}").json()
    assert set(article) == {"id", "title", "text", "url", "published", "source"}
    assert_error(client.get("/api/articles/no-such-article"), 404, "no-such-article")


ODD_ID = "gazette.example/2024/03:lighthouse+keeper"
LIGHTHOUSE = {
    "id": ODD_ID, "title": "Glenmoor lighthouse keeper retires after 31 years",
    "text": ("The keeper of the Glenmoor lighthouse, Ottoline Brackwater, retired on Friday after 31 years "
             "on the rock. She climbed the 212 steps of the tower every evening to light the lamp.\n\n"
             "The harbour board said the light will now be run automatically from Port Ashby."),
    "url": "https://gazette.example/lighthouse", "published": "2024-03-02", "source": "Glenmoor Gazette"}


def test_add_get_update_remove_article(client, admin) -> None:
    r = client.post("/api/articles", json=LIGHTHOUSE, headers=admin)
    assert r.status_code == 201, r.text
    # ~60 word pieces: one chunk with the default 240-piece chunks (source names the request)
    assert r.json()["results"][0] | {"source": None} == {
        "source": None, "article_id": ODD_ID, "status": "added", "chunks": 1, "reason": None}
    assert r.json()["counts"] == {"added": 1}
    [listed] = [a for a in client.get("/api/articles").json()["articles"] if a["id"] == ODD_ID]
    assert listed["chunks"] == 1 and listed["chars"] == len(LIGHTHOUSE["text"])
    got = client.get(f"/api/articles/{ODD_ID}")
    assert got.status_code == 200 and got.json()["title"] == LIGHTHOUSE["title"]
    # Answerable at once, without a restart.
    a = client.post("/api/ask", json={"question": "How many steps does the Glenmoor lighthouse tower have?"}).json()
    assert a["passages"][0]["article_id"] == ODD_ID
    # Same content: unchanged (200); other content: updated (201).
    r = client.post("/api/articles", json=LIGHTHOUSE, headers=admin)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "unchanged"
    r = client.post("/api/articles", json={**LIGHTHOUSE, "text": LIGHTHOUSE["text"] + " Tours start in May."},
                    headers=admin)
    assert r.status_code == 201 and r.json()["results"][0]["status"] == "updated"
    r = client.delete(f"/api/articles/{ODD_ID}", headers=admin)
    assert r.status_code == 200 and r.json() == {"removed": ODD_ID}
    assert_error(client.delete(f"/api/articles/{ODD_ID}", headers=admin), 404)
    assert_error(client.get(f"/api/articles/{ODD_ID}"), 404)


def test_add_rejections_are_422_and_the_rest_is_stored(client, admin) -> None:
    good = {**LIGHTHOUSE, "id": "batch-good"}
    r = client.post("/api/articles", json=[good, {"id": "batch-bad", "title": "No text"}], headers=admin)
    assert r.status_code == 422
    results = {x["status"]: x for x in r.json()["results"]}
    assert set(results) == {"added", "rejected"} and r.json()["counts"] == {"added": 1, "rejected": 1}
    assert "'text'" in results["rejected"]["reason"]
    assert client.get("/api/articles/batch-good").status_code == 200
    r = client.post("/api/articles", json={**LIGHTHOUSE, "id": "../etc"}, headers=admin)
    assert r.status_code == 422 and "'id'" in r.json()["results"][0]["reason"]
    r = client.post("/api/articles", content=b'{"id": "x", "text": ', headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["results"][0]["reason"]
    client.delete("/api/articles/batch-good", headers=admin)


def test_add_by_file_upload(client, admin) -> None:
    text = b"Tidal mill restored in Wrenhaven\n\nThe tidal mill at Wrenhaven grinds flour again after a restoration that cost 90,000 pounds."
    lines = b"\n".join(json.dumps({**LIGHTHOUSE, "id": f"upload-{i}"}).encode() for i in range(2))
    r = client.post("/api/articles", headers=admin,
                    files=[("file", ("mill.txt", text, "text/plain")), ("file", ("two.jsonl", lines, "application/octet-stream"))])
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["added", "added", "added"]
    mill_id = results[0]["article_id"]
    assert client.get(f"/api/articles/{mill_id}").json()["title"] == "Tidal mill restored in Wrenhaven"
    r = client.post("/api/articles", headers=admin, files={"file": ("photo.png", b"\x89PNG", "image/png")})
    assert r.status_code == 422 and "unsupported file type" in r.json()["results"][0]["reason"]
    assert_error(client.post("/api/articles", headers={**admin, "Content-Type": "application/xml"}, content=b"<a/>"),
                 415, "unsupported content type")
    for article_id in (mill_id, "upload-0", "upload-1"):
        assert client.delete(f"/api/articles/{article_id}", headers=admin).status_code == 200


def test_articles_added_by_another_process_are_answerable(client, service, embedder) -> None:
    """Like ``byline add`` while the server runs: another Archive object writes."""
    from corpus.article import Article
    from index.archive import Archive

    other = Archive.open(service.settings, embedder=embedder)
    try:
        other.add([Article(id="cli/falconry", title="Falconers clear gulls from Marlow market",
                           text="Three falconers now patrol Marlow market with a Harris hawk named Juniper "
                                "to keep gulls away from the fish stalls.", source="Marlow Mercury")])
        a = client.post("/api/ask", json={"question": "What is the name of the Harris hawk at Marlow market?"}).json()
        assert a["passages"][0]["article_id"] == "cli/falconry"
    finally:
        other.remove(["cli/falconry"])
        other.store.close()


def test_unexpected_errors_are_json_500(client, service, monkeypatch) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service.archive, "list_articles", boom)
    from fastapi.testclient import TestClient

    quiet = TestClient(client.app, raise_server_exceptions=False)
    body = assert_error(quiet.get("/api/articles"), 500)
    assert "secret" not in body["error"]


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/ask", "/api/ask/stream", "/api/articles", "/api/articles/{article_id}", "/healthz"):
        assert path in spec["paths"], path
    r = client.get("/docs")
    assert r.status_code == 200 and "/api/ask" in r.text
    assert "http://" not in r.text and "https://" not in r.text.replace("https://news.example", "")


def test_sse_keepalive_fills_silence_and_passes_errors_on() -> None:
    import time as _time

    from web.api import _with_keepalive

    def slow():
        yield "a"
        _time.sleep(0.25)
        yield "b"

    out = list(_with_keepalive(slow(), interval=0.05))
    assert out[0] == "a" and out[-1] == "b" and None in out
    assert [x for x in out if x is not None] == ["a", "b"]

    def broken():
        yield "a"
        raise ValueError("boom")

    got = []
    with pytest.raises(ValueError, match="boom"):
        for x in _with_keepalive(broken(), interval=0.05):
            got.append(x)
    assert got == ["a"]


def test_claims_search_with_exact_citations_and_speaker_filter(client) -> None:
    r = client.get("/api/claims", params={"q": "dockworkers contract talks", "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "dockworkers contract talks" and body["claims"]
    for c in body["claims"]:
        assert {"speaker", "role", "cue", "content", "figures", "date", "citation", "group"} <= set(c)
        article = client.get(f"/api/articles/{c['citation']['article_id']}").json()
        assert article["text"][c["citation"]["start"]:c["citation"]["end"]] == c["content"] == c["citation"]["quote"]
        for f in c["figures"]:
            assert article["text"][f["start"]:f["end"]] == f["text"]
    name = body["claims"][0]["speaker"]
    only = client.get("/api/claims", params={"q": "dockworkers contract talks", "speaker": name.lower()}).json()
    assert only["claims"] and all(name.lower() in (c["speaker"] + (c["role"] or "")).lower()
                                  or name.lower() in c["speaker_as_written"]["text"].lower() for c in only["claims"])
    assert_error(client.get("/api/claims", params={"q": "  "}), 422, "q: empty")
    assert_error(client.get("/api/claims", params={"q": "port", "since": "yesterday"}), 422, "since")
    assert_error(client.get("/api/claims", params={"q": "port", "k": 0}), 422, "k:")
