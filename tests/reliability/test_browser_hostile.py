"""Markup and script in an article's title, text and URL render as text in the chat, the
source panel and the widget (headless Chromium): no dialog fires, no script runs; the
widget's highlight is exact after emoji (offsets count code points, JS strings UTF-16
units); a page of a foreign origin cannot call the API from the browser.

Extends tests/browser (which covers the chat's source panel and a mocked embed source)
with a real hostile article through the widget, dialogs, and cross-origin fetches."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from reliability_helpers import REPO_ROOT, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
ADMIN = "rel-browser-admin"
TITLE = "<img src=x onerror=\"alert('title');window.__pwned=1\"> Quay <script>alert('t')</script>"
TEXT = ("🚢👩‍👩‍👧 Harbour notes. <script>alert('text');window.__pwned=2</script> "
        "<img src=x onerror=\"alert('img');window.__pwned=3\"> [click](javascript:alert('md')) "
        "The Quaymoor ferry carried 3,917 passengers on its first day of service.")
QUESTION = "How many passengers did the Quaymoor ferry carry on its first day?"


class Site:
    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0], "not found").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    host, other = Site(), Site()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("browser-hostile")
    code = ("import app\nfrom config.settings import load_settings\n"
            f"app.serve(load_settings(data_dir={str(data_dir)!r}, server={{'allowed_origins': [{host.origin!r}], "
            f"'admin_token': {ADMIN!r}}}), host='127.0.0.1', port={port})\n")
    penv = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    penv.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=penv, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 240
        while True:
            assert proc.poll() is None, (data_dir / "server.log").read_text(errors="replace")[-2000:]
            try:
                if httpx.get(base + "/healthz", timeout=2).json().get("ready"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.time() < deadline, "server not ready"
            time.sleep(0.5)
        r = httpx.post(base + "/api/articles", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120,
                       json={"id": "rel/hostile:1", "title": TITLE, "text": TEXT, "source": "<b>Quay</b> Post",
                             "published": "2024-05-01", "url": "javascript:alert('url')"})
        assert r.status_code == 201, r.text
        host.pages["/host.html"] = (f'<!doctype html><title>host</title><p>Intranet</p>'
                                    f'<script src="{base}/widget.js" async></script>')
        other.pages["/evil.html"] = "<!doctype html><title>evil</title><p>evil</p>"
        yield {"base": base, "host": host, "other": other, "browser": browser}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        host.httpd.shutdown()
        other.httpd.shutdown()


@pytest.fixture
def page(env: dict[str, Any]) -> Iterator[tuple[Any, list[str]]]:
    context = env["browser"].new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    context.on("page", lambda p: p.on("dialog", on_dialog))
    yield pg, dialogs
    context.close()


def test_hostile_article_in_the_widget(env: dict[str, Any], page) -> None:
    pg, dialogs = page
    pg.goto(env["host"].origin + "/host.html")
    pg.locator("#byline-widget button.byline-launcher").click()
    frame = pg.frame_locator("#byline-widget iframe")
    frame.locator("#question").fill(QUESTION)
    frame.locator("#send").click()
    frame.locator(".msg.bot .short").last.wait_for(timeout=60_000)
    assert "3,917" in frame.locator(".msg.bot .short").last.inner_text()
    cites = frame.locator(".msg.bot .cites .cite")
    assert TITLE in frame.locator(".msg.bot").last.inner_text()  # the title shown as text
    cites.first.click()
    mark = frame.locator("#source-text #hl")
    mark.wait_for(timeout=15_000)
    quote = httpx.post(env["base"] + "/api/ask", json={"question": QUESTION}, timeout=120).json()["citations"][0]
    assert mark.inner_text() == quote["quote"]  # exact after emoji (code points, not UTF-16 units)
    assert frame.locator("#source-text").inner_text() == TEXT
    assert frame.locator("#source-title").inner_text() == TITLE
    assert frame.locator("#source-text img, #source-text script, #source-title img, .msg img").count() == 0
    assert frame.locator("#source-meta a").count() == 0  # the javascript: URL is not a link
    for el in frame.locator(".msg.bot a, #source-meta a").all():
        assert not (el.get_attribute("href") or "").lower().startswith("javascript")
    pg.wait_for_timeout(500)
    embed = next(f for f in pg.frames if "/embed" in f.url)
    assert embed.evaluate("() => window.__pwned") is None
    assert pg.evaluate("() => window.__pwned") is None
    assert dialogs == []


def test_hostile_article_in_the_chat(env: dict[str, Any], page) -> None:
    pg, dialogs = page
    pg.goto(env["base"] + "/")
    pg.wait_for_selector("#byline-question textarea", timeout=60_000)
    pg.locator("#byline-question textarea").fill(QUESTION)
    pg.locator("#byline-ask").click()
    answer = pg.locator("#byline-chat .byline-answered").last
    answer.wait_for(timeout=60_000)
    assert TITLE in answer.inner_text()
    answer.locator('a[href*="#byline-cite:"]').first.click()
    text = pg.locator("#byline-source-panel .byline-source-text")
    text.wait_for(timeout=15_000)
    pg.wait_for_timeout(500)
    assert text.inner_text().strip() == TEXT
    assert pg.locator("#byline-source-panel mark.byline-hl").inner_text() in TEXT
    assert pg.locator("#byline-chat img, #byline-chat script, #byline-source-panel img, "
                      "#byline-source-panel script").count() == 0
    for el in pg.locator("#byline-chat a, #byline-source-panel a").all():
        assert not (el.get_attribute("href") or "").lower().startswith("javascript")
    assert pg.evaluate("() => window.__pwned") is None
    assert dialogs == []


def test_foreign_origin_cannot_call_the_api(env: dict[str, Any], page) -> None:
    pg, _ = page
    pg.goto(env["other"].origin + "/evil.html")
    outcome = pg.evaluate("""async (base) => {
        try {
            const r = await fetch(base + '/api/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                      body: JSON.stringify({question: 'Who?'})});
            return 'read ' + r.status + ' ' + (await r.text());
        } catch (e) { return 'blocked ' + e.name; }
    }""", env["base"])
    assert outcome.startswith("blocked"), outcome
    simple = pg.evaluate("""async (base) => {
        try { const r = await fetch(base + '/api/articles'); return 'read ' + r.status; }
        catch (e) { return 'blocked ' + e.name; }
    }""", env["base"])
    assert simple.startswith("blocked"), simple
    # the server refused them (403), not only the browser: a direct request shows why
    r = httpx.get(env["base"] + "/api/articles", headers={"Origin": env["other"].origin})
    assert r.status_code == 403 and "origin not allowed" in r.json()["error"]
