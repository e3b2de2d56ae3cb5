"""Hostile HTTP input and access control: odd ids (path traversal, NUL, very long, bad
UTF-8), oversized bodies, very long questions, malformed JSON, wrong content types: a 4xx
JSON error with a clear message, never a stack trace. Without the token nothing but
/healthz answers; only the admin token writes; tokens are compared in constant time and
never logged; foreign origins are refused; security headers are set."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reliability_helpers import REPO_ROOT, free_port

pytestmark = pytest.mark.slow

ACCESS = "reader-tok-5f2a9c"
ADMIN = "admin-tok-81d7e4"
ALLOWED = "http://intranet.example"


@pytest.fixture(scope="module")
def locked(service):
    from fastapi.testclient import TestClient

    from app import create_app
    from config.settings import load_settings

    settings = load_settings(data_dir=service.settings.data_dir, server={
        "access_token": ACCESS, "admin_token": ADMIN, "allowed_origins": [ALLOWED], "max_request_bytes": 100_000})
    with TestClient(create_app(settings, service=service), raise_server_exceptions=False) as client:
        yield client


def auth(token: str = ACCESS) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_clear_error(r: httpx.Response, *statuses: int) -> str:
    assert r.status_code in statuses, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body = r.json()
    if set(body) == {"detail"} and r.status_code in (404, 405):
        # a path that the client normalised out of /api (e.g. "/api/articles/../../x"):
        # the chat app's own 404
        body = {"error": f"{body['detail']} (path outside the API)", "status": r.status_code}
    assert set(body) == {"error", "status"} and body["status"] == r.status_code, body
    # No stack trace, module or server path may leak into an error message.
    for leak in ("Traceback", 'File "', "sqlite3.", "Exception", str(Path(__file__).resolve().parents[2]),
                 "site-packages"):
        assert leak not in body["error"], body["error"]
    assert len(body["error"]) > 8
    return body["error"]


ODD_IDS = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd", "a%00b", "%00",
           "x" * 5000, "%ff%fe", "%ed%a0%80", "<script>alert(1)<%2Fscript>", "' OR 1=1 --", "a/b/../../c",
           "%E2%80%AE", "con", "~root", "id with spaces", "%0d%0aSet-Cookie:x=1"]


@pytest.mark.parametrize("article_id", ODD_IDS)
def test_odd_article_ids_are_a_clean_4xx(locked, article_id: str) -> None:
    r = locked.get(f"/api/articles/{article_id}", headers=auth())
    assert_clear_error(r, 404, 400, 422)
    assert "set-cookie" not in {k.lower() for k in r.headers if k.lower() == "set-cookie" and "x=1" in r.headers[k]}
    r = locked.delete(f"/api/articles/{article_id}", headers=auth(ADMIN))
    assert_clear_error(r, 404, 400, 405, 422)


@pytest.mark.parametrize("body, ctype, statuses, needle", [
    (b'{"question": ', "application/json", (422, 400), "JSON"),
    (b"\xff\xfe\x00garbage", "application/json", (422, 400), ""),
    (b'{"question": "Who?"}', "text/plain", (422, 415), ""),
    (b"question=Who", "application/x-www-form-urlencoded", (422, 415), ""),
    (b'["Who?"]', "application/json", (422,), ""),
    (b'{"question": "' + b"why " * 2000 + b'"}', "application/json", (422,), "the limit is"),
    (b'{"question": "Who?", "k": "lots"}', "application/json", (422,), "k"),
    (b'{"question": "Who?", "k": 1000000000}', "application/json", (422,), "k"),
    (b'{"question": "Who?", "history": "x"}', "application/json", (422,), "history"),
    (b'{"question": "Who?", "history": [[1, {}]]}', "application/json", (422,), "history"),
    (b'{"question": "Who?", "filters": {"since": "\\u0000"}}', "application/json", (422,), "since"),
    (b'{"question": "\\ud800?"}', "application/json", (422,), "invalid Unicode"),
    (b'{"question": "Who?", "history": [["\\udc00", "a"]]}', "application/json", (422,), "history[0]"),
    (b'{"question": {"$gt": ""}}', "application/json", (422,), "question"),
    (b"[" * 50_000 + b"]" * 50_000, "application/json", (413, 422, 400), ""),
])
def test_malformed_ask_requests_are_a_clean_4xx(locked, body: bytes, ctype: str, statuses, needle: str) -> None:
    r = locked.post("/api/ask", content=body, headers={**auth(), "Content-Type": ctype})
    if r.status_code == 200:
        assert 200 in statuses
        return
    message = assert_clear_error(r, *statuses)
    assert needle.lower() in message.lower(), message


def test_oversized_and_wrong_typed_writes(locked) -> None:
    assert_clear_error(locked.post("/api/ask", content=b"x" * 200_000,
                                   headers={**auth(), "Content-Type": "application/json"}), 413)
    assert_clear_error(locked.post("/api/articles", content=b"x" * 200_000,
                                   headers={**auth(ADMIN), "Content-Type": "text/plain"}), 413)
    msg = assert_clear_error(locked.post("/api/articles", content=b"\x00\x01", headers={**auth(ADMIN),
                                         "Content-Type": "application/octet-stream"}), 415)
    assert "unsupported content type" in msg
    r = locked.post("/api/articles", content=b'{"id": "../x", "text": 5}',
                    headers={**auth(ADMIN), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["counts"] == {"rejected": 1}
    assert "must be a string" in r.json()["results"][0]["reason"]
    r = locked.post("/api/articles", content=b"[" * 50_000 + b"]" * 50_000,
                    headers={**auth(ADMIN), "Content-Type": "application/json"})
    assert r.status_code == 422 and "nested too deeply" in r.json()["results"][0]["reason"]


@pytest.mark.parametrize("path, method", [("/", "GET"), ("/api/ask", "POST"), ("/api/articles", "GET"),
                                          ("/widget.js", "GET"), ("/embed", "GET"), ("/gradio_api/info", "GET"),
                                          ("/config", "GET")])
def test_nothing_answers_without_the_token(locked, path: str, method: str) -> None:
    locked.cookies.clear()
    for headers in ({}, auth("wrong"), auth(ACCESS[:-1]), auth(ACCESS + "x"), {"Authorization": ACCESS},
                    {"Cookie": "byline_token=wrong"}):
        r = locked.request(method, path, headers=headers, json={"question": "Who?"} if method == "POST" else None)
        assert_clear_error(r, 401)
    assert locked.request(method, path, headers=auth(), json={"question": "Who?"} if method == "POST" else None
                          ).status_code == 200


def test_only_the_admin_token_writes(locked) -> None:
    article = {"id": "rel/admin-1", "title": "T", "text": "The ferry left at noon."}
    for headers in ({}, auth(), {"Cookie": f"byline_token={ACCESS}"}):
        assert_clear_error(locked.post("/api/articles", json=article, headers=headers), 401)
        assert_clear_error(locked.delete("/api/articles/rel/admin-1", headers=headers), 401)
    assert locked.post(f"/api/articles?token={ACCESS}", json=article).status_code == 401
    assert locked.post("/api/articles", json=article, headers=auth(ADMIN)).status_code == 201
    assert locked.delete("/api/articles/rel/admin-1", headers=auth(ADMIN)).status_code == 200


def test_foreign_origins_are_refused_and_headers_set(locked) -> None:
    for origin in ("http://evil.example", "null", "http://intranet.example.evil.com", "https://intranet.example"):
        r = locked.post("/api/ask", json={"question": "Who?"}, headers={**auth(), "Origin": origin})
        assert_clear_error(r, 403)
        assert "access-control-allow-origin" not in r.headers
    for path in ("/", "/embed", "/widget.js", "/api/articles"):
        r = locked.get(path, headers=auth())
        csp = r.headers["content-security-policy"]
        assert f"frame-ancestors 'self' {ALLOWED}" in csp and "evil" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_tokens_are_compared_in_constant_time() -> None:
    import web.security as security

    source = inspect.getsource(security)
    tree = ast.parse(source)
    matcher = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_token_matches")
    assert "hmac.compare_digest" in ast.unparse(matcher)
    # no ==, !=, in or startswith on a token anywhere
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            text = ast.unparse(node)
            if "token" in text.lower() and "from_cookie != from_query" not in text:
                assert not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In)) for op in node.ops) or \
                    "policy." not in text, text


def test_tokens_are_never_logged(tmp_path: Path) -> None:
    """The real server (``app.serve``, uvicorn with access logs) in a subprocess: requests
    carrying tokens in the header, the query string and the cookie; its whole output
    holds neither token."""
    port = free_port()
    code = ("import logging, app\nfrom config.settings import load_settings\n"
            "logging.basicConfig(level=logging.DEBUG)\n"
            "import os\n"
            "app.serve(load_settings(data_dir=os.environ['RDIR']), host='127.0.0.1', port=int(os.environ['RPORT']))\n")
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1",
               RDIR=str(tmp_path / "data"), RPORT=str(port),
               BYLINE_SERVER__ACCESS_TOKEN=ACCESS, BYLINE_SERVER__ADMIN_TOKEN=ADMIN)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(base + "/healthz", timeout=2).json().get("ready"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.time() < deadline, "server not ready"
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=60) as http:
            assert http.get(f"/embed?token={ACCESS}").status_code == 200
            assert http.get(f"/widget.js?x=1&token={ACCESS}").status_code == 200
            assert http.get("/api/articles", headers={"Cookie": f"byline_token={ACCESS}"}).status_code == 200
            assert http.post("/api/ask", json={"question": "Who is the mayor?"}, headers=auth()).status_code == 200
            http.cookies.clear()
            assert http.get(f"/api/articles?token={ACCESS}x").status_code == 401
            assert http.get("/api/articles", headers=auth(ACCESS + "wrong")).status_code == 401
            assert http.post("/api/articles", json={"id": "t-1", "text": "A ferry."}, headers=auth(ADMIN)).status_code == 201
            assert http.delete("/api/articles/t-1", headers=auth(ADMIN)).status_code == 200
            assert http.get(f"/api/articles/no-such?token={ADMIN}", headers=auth()).status_code == 404
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    output = log.read_text(errors="replace")
    assert "GET /embed?token=[redacted]" in output, output[-2000:]  # the access log is on
    assert ACCESS not in output and ADMIN not in output
