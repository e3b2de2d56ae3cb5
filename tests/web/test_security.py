"""Access and admin tokens, CORS for allowed origins only, frame-ancestors and other
security headers, request size limits and serving under a root path."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

ALLOWED = "http://intranet.example"
ADMIN = "admin-secret"
ACCESS = "reader-secret"


@pytest.fixture(scope="module")
def locked(make_client):
    """An app that needs the access token, with an admin token."""
    return make_client(access_token=ACCESS, admin_token=ADMIN, allowed_origins=[ALLOWED])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_json_error(r, status: int, needle: str = "") -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["status"] == status and needle in r.json()["error"]


# -- access token ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/articles", "/", "/embed", "/widget.js", "/docs", "/openapi.json",
                                  "/config", "/byline-web/embed.js"])
def test_access_token_is_required(locked, path) -> None:
    locked.cookies.clear()
    r = locked.get(path)
    assert_json_error(r, 401, "access token required")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_access_token_by_header_query_or_cookie(locked) -> None:
    locked.cookies.clear()
    assert locked.get("/api/articles", headers=bearer(ACCESS)).status_code == 200
    assert locked.get("/api/articles", headers=bearer("wrong")).status_code == 401
    assert locked.get("/healthz").status_code == 200
    r = locked.get(f"/embed?token={ACCESS}")
    assert r.status_code == 200
    assert "byline_token=" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    assert locked.get("/api/articles").status_code == 200  # the cookie now
    locked.cookies.clear()
    assert locked.get(f"/widget.js?token={ACCESS}").status_code == 200
    locked.cookies.clear()
    assert locked.get("/api/articles").status_code == 401


def test_admin_token_for_writes(locked, make_client) -> None:
    article = {"id": "sec-1", "title": "T", "text": "Some text about a ferry."}
    assert_json_error(locked.post("/api/articles", json=article), 401, "admin token required")
    assert_json_error(locked.post("/api/articles", json=article, headers=bearer(ACCESS)), 401, "admin token")
    assert_json_error(locked.delete("/api/articles/sec-1", headers=bearer(ACCESS)), 401, "admin token")
    r = locked.post("/api/articles", json=article, headers=bearer(ADMIN))
    assert r.status_code == 201
    # The admin token also grants read access.
    assert locked.get("/api/articles/sec-1", headers=bearer(ADMIN)).status_code == 200
    assert locked.delete("/api/articles/sec-1", headers=bearer(ADMIN)).status_code == 200
    # Without an admin token in the settings, writes are disabled.
    open_app = make_client()
    assert_json_error(open_app.post("/api/articles", json=article), 403, "admin_token")
    assert_json_error(open_app.delete("/api/articles/sec-1"), 403, "admin_token")
    assert open_app.get("/api/articles").status_code == 200


# -- origins --------------------------------------------------------------------------------------
def test_cors_for_allowed_origins_only(client) -> None:
    r = client.get("/api/articles", headers={"Origin": ALLOWED})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in r.headers["vary"]
    pre = client.options("/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "authorization, content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Authorization" in pre.headers["access-control-allow-headers"]
    for evil in ("http://evil.example", "http://intranet.example.evil.com", "null"):
        r = client.post("/api/ask", json={"question": "Who?"}, headers={"Origin": evil})
        assert_json_error(r, 403, "origin not allowed")
        assert "access-control-allow-origin" not in r.headers
        pre = client.options("/api/ask", headers={"Origin": evil, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers


def test_same_origin_requests_pass_without_cors_headers(client) -> None:
    r = client.get("/api/articles", headers={"Origin": "http://testserver"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    # Behind a proxy: the public host arrives as X-Forwarded-Host.
    r = client.get("/api/articles", headers={"Origin": "https://byline.example", "X-Forwarded-Host": "byline.example"})
    assert r.status_code == 200


def test_preflight_from_allowed_origin_needs_no_token(locked) -> None:
    locked.cookies.clear()
    pre = locked.options("/api/ask", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204
    r = locked.post("/api/ask", json={"question": "Who?"}, headers={"Origin": ALLOWED})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ALLOWED


# -- headers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/embed", "/api/articles", "/widget.js", "/healthz", "/docs"])
def test_security_headers(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {ALLOWED}" in csp
    assert "connect-src 'self'" in csp
    assert r.headers.get_list("content-security-policy") == [csp]


def test_embed_csp_is_strict_and_widget_is_javascript(client) -> None:
    csp = client.get("/embed").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    r = client.get("/widget.js")
    assert r.headers["content-type"].startswith("application/javascript")
    assert "byline:close" in r.text
    assert client.get("/api/articles").headers["cache-control"] == "no-store"


def test_frame_ancestors_default_is_self_only(make_client) -> None:
    c = make_client()
    assert c.get("/embed").headers["content-security-policy"].endswith("frame-ancestors 'self'")


def test_bad_allowed_origin_is_a_settings_error(service) -> None:
    from app import create_app
    from config.settings import load_settings

    settings = load_settings(data_dir=service.settings.data_dir, server={"allowed_origins": ["intranet"]})
    with pytest.raises(ValueError, match="allowed_origins"):
        create_app(settings, service=service)


# -- limits ---------------------------------------------------------------------------------------
def test_request_size_limit(make_client) -> None:
    c = make_client(max_request_bytes=2000, admin_token=ADMIN)
    assert_json_error(c.post("/api/ask", json={"question": "Who?", "history": [["q" * 3000, "a"]]}), 413, "limit of 2000")
    big = {"id": "big", "title": "Big", "text": "word " * 1000}
    assert_json_error(c.post("/api/articles", json=big, headers=bearer(ADMIN)), 413)

    def chunked():  # no Content-Length: counted while reading
        for _ in range(10):
            yield b"x" * 500

    assert_json_error(c.post("/api/articles", content=chunked(), headers={**bearer(ADMIN), "Content-Type": "text/plain"}), 413)


# -- root path ------------------------------------------------------------------------------------
def test_root_path(make_client) -> None:
    c = make_client(root_path="/qa")
    # A proxy that strips the prefix and one that does not.
    assert c.get("/api/articles").status_code == 200
    assert c.get("/qa/api/articles").status_code == 200
    assert c.get("/qa/healthz").json()["status"] == "ok"
    spec = c.get("/qa/openapi.json").json()
    assert spec["servers"] == [{"url": "/qa"}]
    page = c.get("/qa/")
    assert page.status_code == 200
    assert '"root": "http://testserver/qa"' in page.text or '"root":"http://testserver/qa"' in page.text
    embed = c.get("/qa/embed").text
    assert 'src="byline-web/embed.js"' in embed  # relative: resolves under /qa/
    assert c.get("/qa/byline-web/embed.js").status_code == 200
    assert c.get("/qa/widget.js").status_code == 200
