"""Behind a reverse proxy: with ``root_path`` set, a proxy that strips the prefix reaches
the same static files and pages as one that keeps it, and a browser's same-origin request
passes when the proxy rewrote ``Host`` without ``X-Forwarded-Host``; other origins are
still refused."""

from __future__ import annotations


def test_stripped_prefix_serves_static_files_and_docs(make_client) -> None:
    c = make_client(root_path="/qa")
    for path in ("/byline-web/embed.js", "/byline-web/embed.css", "/byline-web/docs.css", "/docs", "/embed",
                 "/widget.js", "/healthz"):
        assert c.get(path).status_code == 200, path            # the proxy stripped /qa
        assert c.get("/qa" + path).status_code == 200, path    # the proxy kept it


def test_same_origin_by_sec_fetch_site_when_host_is_rewritten(client) -> None:
    public = {"Origin": "https://news.example", "Host": "127.0.0.1:7860"}
    r = client.get("/api/articles", headers={**public, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    for site in ("cross-site", "same-site", None):
        headers = {**public, **({"Sec-Fetch-Site": site} if site else {})}
        assert client.post("/api/ask", json={"question": "Who?"}, headers=headers).status_code == 403, site
