"""Byline behind a reverse proxy under ``/qa`` (``byline serve --root-path /qa``): the chat,
the widget and ``/docs`` work behind a proxy that keeps the prefix, one that strips it,
and one that rewrites ``Host`` to the upstream's, with and without ``X-Forwarded-Host`` /
``X-Forwarded-Proto`` (see the README's nginx and Caddy snippets)."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from byline_proxy import ReverseProxy

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCKWORKERS = "How many dockworkers walked off the job at the Port of Calloway?"
SETUPS = {
    "keeps-prefix": {"strip": False, "rewrite_host": False, "forwarded": False},
    "strips-prefix": {"strip": True, "rewrite_host": True, "forwarded": True},
    "rewrites-host": {"strip": False, "rewrite_host": True, "forwarded": False},
}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, server_launcher) -> Iterator[tuple[dict, object]]:
    """One server under ``/qa``, the three proxies in front of it, and an intranet origin
    allowed to embed the widget."""
    launch_server, static_site = server_launcher
    site = static_site({})
    gen = launch_server(tmp_path_factory, "proxied", {"root_path": "/qa", "allowed_origins": [site.origin]})
    upstream = next(gen)
    proxies = {name: ReverseProxy(upstream, "/qa", **opts) for name, opts in SETUPS.items()}
    try:
        yield proxies, site
    finally:
        for p in proxies.values():
            p.close()
        site.close()
        gen.close()


@pytest.mark.parametrize("setup", list(SETUPS))
def test_chat_widget_and_docs_behind_the_proxy(setup: str, proxied, recorded) -> None:
    proxies, site = proxied
    proxy = proxies[setup]
    page = recorded.page
    page.goto(proxy.base + "/")
    box = page.locator("#byline-question textarea")
    box.wait_for(timeout=30_000)
    box.fill(DOCKWORKERS)
    box.press("Enter")
    answer = page.locator("#byline-chat .byline-answered mark.byline-answer").first
    answer.wait_for(timeout=60_000)
    assert "2,300" in answer.inner_text()
    page.locator("#byline-chat .byline-answered a.byline-cite").first.click()
    page.locator("#byline-source-panel mark.byline-answer").wait_for(timeout=15_000)
    assert recorded.foreign_requests(proxy.origin) == []

    docs = httpx.get(proxy.base + "/docs", timeout=30)
    assert docs.status_code == 200 and "byline-web/docs.css" in docs.text
    assert httpx.get(proxy.base + "/byline-web/docs.css", timeout=30).status_code == 200
    assert httpx.get(proxy.base + "/openapi.json", timeout=30).status_code == 200

    site.pages["/intranet.html"] = (f'<!doctype html><title>intranet</title><h1>Intranet</h1>'
                                    f'<script src="{proxy.base}/widget.js" data-open="true" async></script>')
    page.goto(site.origin + "/intranet.html")
    frame = page.frame_locator("#byline-widget iframe")
    frame.locator("#question").fill(DOCKWORKERS)
    frame.locator("#question").press("Enter")
    mark = frame.locator(".msg.bot mark.byline-answer").first
    mark.wait_for(timeout=60_000)
    assert "2,300" in mark.inner_text()
    expect(page.locator("#byline-widget .byline-load-error")).to_have_count(0)
    assert recorded.foreign_requests(proxy.origin, site.origin) == []
