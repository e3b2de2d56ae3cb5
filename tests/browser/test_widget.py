"""The widget on a host page of another origin (examples/intranet.html): the launcher
opens /embed in an iframe, a question gets an answer with citations, a citation shows
the highlighted source; an origin that is not allowed cannot frame the chat; no request
leaves the two local origins."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCKWORKERS = "How many dockworkers walked off the job at the Port of Calloway?"


def test_widget_on_intranet_page(server: str, host_site, intranet_page: str, recorded) -> None:
    page = recorded.page
    page.goto(intranet_page)
    launcher = page.locator("#byline-widget button.byline-launcher")
    launcher.wait_for(timeout=15_000)
    assert launcher.inner_text() == "Ask the archive"
    recorded.screenshot("widget-closed.png")
    launcher.click()
    frame_el = page.locator("#byline-widget iframe")
    frame_el.wait_for(timeout=10_000)
    frame = page.frame_locator("#byline-widget iframe")
    frame.locator("#question").fill(DOCKWORKERS)
    frame.locator("#send").click()
    answer = frame.locator(".msg.bot .short").last
    answer.wait_for(timeout=30_000)
    assert "2,300" in answer.inner_text()
    recorded.screenshot("widget-answer.png")
    frame.locator(".msg.bot .cites .cite").first.click()
    mark = frame.locator("#source-text #hl")
    mark.wait_for(timeout=10_000)
    assert "2,300" in mark.inner_text()
    assert "The Harbor Ledger" in frame.locator("#source-meta").inner_text()
    recorded.screenshot("widget-source.png")
    frame.locator("#back").click()
    frame.locator("#close").click()
    page.wait_for_function("() => document.querySelector('#byline-widget').shadowRoot"
                           ".querySelector('#byline-panel').style.display === 'none'", timeout=5_000)
    assert recorded.foreign_requests(server, host_site.origin) == []


def test_article_markup_never_runs_in_embed(server: str, recorded) -> None:
    """Article text with markup is shown as text in the embed page's source view."""
    page = recorded.page
    page.goto(server + "/embed")
    hostile = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
    # Render a source directly through the page's own code path via a fake article response.
    page.route("**/api/articles/**", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body='{"id": "x", "title": "<b>T</b>", "text": ' + __import__("json").dumps("Intro. " + hostile + " End.")
             + ', "url": "javascript:alert(1)", "published": null, "source": "S"}'))
    page.evaluate("""() => { const b = document.createElement('button'); b.className = 'cite'; }""")
    page.locator("#question").fill(DOCKWORKERS)
    page.locator("#send").click()
    page.locator(".msg.bot .cites .cite").first.wait_for(timeout=30_000)
    page.locator(".msg.bot .cites .cite").first.click()
    page.locator("#source-text").wait_for()
    page.wait_for_timeout(300)
    assert page.locator("#source-title").inner_text() == "<b>T</b>"
    assert hostile in page.locator("#source-text").inner_text()
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#source-meta a").count() == 0  # javascript: links are not shown


def test_disallowed_origin_cannot_frame_the_chat(server: str, other_site, recorded) -> None:
    other_site.pages["/page.html"] = (f'<!doctype html><title>other</title><iframe id="f" src="{server}/embed" '
                                      'width="400" height="400"></iframe>')
    page = recorded.page
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(other_site.origin + "/page.html")
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert frame.locator("#question").count() == 0
    assert blocked, "Chromium should report the frame-ancestors violation"
