"""The Gradio chat in headless Chromium: ask a sample question, see the streamed answer
with a citation, click it, see the source with the cited span highlighted; markup in
articles never renders; no request leaves the server's origin."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCKWORKERS = "How many dockworkers walked off the job at the Port of Calloway?"


def ask(page, question: str) -> None:
    page.locator("#byline-question textarea").fill(question)
    page.locator("#byline-ask").click()


def test_ask_cite_and_highlight(server: str, recorded) -> None:
    page = recorded.page
    page.goto(server + "/")
    page.wait_for_selector("#byline-question textarea", timeout=30_000)
    ask(page, DOCKWORKERS)
    answer = page.locator("#byline-chat .byline-answered").last
    answer.wait_for(timeout=30_000)
    assert "2,300" in answer.locator(".byline-short").inner_text()
    cite = answer.locator('a[href*="#byline-cite:"]').first
    assert cite.inner_text().strip() == "[1]"
    recorded.screenshot("chat-answer.png")
    cite.click()
    mark = page.locator("#byline-source-panel mark.byline-hl")
    mark.wait_for(timeout=15_000)
    quote = page.locator("#byline-chat .byline-sentence").last.inner_text()
    assert mark.inner_text().strip() in quote
    assert "2,300" in mark.inner_text()
    title = page.locator("#byline-source-panel .byline-source-title").inner_text()
    assert "Calloway" in title or "port" in title.lower()
    meta = page.locator("#byline-source-panel .byline-source-meta").inner_text()
    assert "The Harbor Ledger" in meta and "2024-03-14" in meta
    assert mark.is_visible()
    page.wait_for_timeout(300)
    recorded.screenshot("chat-source.png")
    assert page.url.startswith(server)  # the click did not navigate
    assert recorded.foreign_requests(server) == []


def test_new_conversation_and_filters(server: str, recorded) -> None:
    page = recorded.page
    page.goto(server + "/")
    page.wait_for_selector("#byline-question textarea", timeout=30_000)
    ask(page, DOCKWORKERS)
    page.locator("#byline-chat .byline-answered").last.wait_for(timeout=30_000)
    page.locator("#byline-new").click()
    page.wait_for_function("() => !document.querySelector('#byline-chat .byline-answered')", timeout=10_000)
    # A date range with no article: the reply says there is no answer.
    page.get_by_text("Filters").click()
    page.locator("#byline-since input, #byline-since textarea").first.fill("2030-01-01")
    ask(page, DOCKWORKERS)
    abstain = page.locator("#byline-chat .byline-abstain").last
    abstain.wait_for(timeout=30_000)
    assert "do not say" in abstain.inner_text()
    # A malformed date is reported, not sent.
    page.locator("#byline-since input, #byline-since textarea").first.fill("soon")
    ask(page, DOCKWORKERS)
    page.get_by_text(re.compile("filters.since")).first.wait_for(timeout=10_000)
    recorded.screenshot("chat-filters.png")
    assert recorded.foreign_requests(server) == []


def test_example_question_is_asked_on_click(server: str, recorded) -> None:
    page = recorded.page
    page.goto(server + "/")
    page.wait_for_selector("#byline-question textarea", timeout=30_000)
    page.get_by_text("Who is Northfield's finance director?").first.click()
    from playwright.sync_api import expect

    chat = page.locator("#byline-chat")
    expect(chat).to_contain_text("Who is Northfield's finance director?", timeout=30_000)
    expect(chat).to_contain_text("Maria Okafor", timeout=60_000)


HOSTILE_TEXT = ("The Brindlewick ferry carried 4,812 passengers on its first day. "
                "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> "
                "Captain {{value}} ${1+1} *Ilse Marrow* said the crossing took [nine](javascript:x) minutes.")


def test_article_markup_never_renders_in_the_chat(server: str, recorded) -> None:
    r = httpx.post(server + "/api/articles", headers={"Authorization": "Bearer browser-admin"}, timeout=60,
                   json={"id": "test/hostile:1", "title": "<b>Ferry</b> <script>x()</script>", "text": HOSTILE_TEXT,
                         "source": "Brindlewick <i>Post</i>", "published": "2024-05-01",
                         "url": "javascript:alert(1)"})
    assert r.status_code == 201, r.text
    try:
        page = recorded.page
        page.goto(server + "/")
        page.wait_for_selector("#byline-question textarea", timeout=30_000)
        ask(page, "How many passengers did the Brindlewick ferry carry on its first day?")
        reply = page.locator("#byline-chat .byline-answered, #byline-chat .byline-abstain").last
        reply.wait_for(timeout=30_000)
        link = reply.locator('a[href*="#byline-cite:"]').first
        link.click()
        text = page.locator("#byline-source-panel .byline-source-text")
        text.wait_for(timeout=15_000)
        page.wait_for_timeout(300)
        assert text.inner_text().strip() == HOSTILE_TEXT
        assert page.locator("#byline-source-panel .byline-source-title").inner_text() == "<b>Ferry</b> <script>x()</script>"
        assert "Brindlewick <i>Post</i>" in page.locator("#byline-source-panel .byline-source-meta").inner_text()
        assert page.locator("#byline-source-panel script, #byline-source-panel img, #byline-chat img").count() == 0
        assert page.locator("#byline-source-panel a[href^='javascript']").count() == 0
        assert page.evaluate("() => window.__pwned") is None
        recorded.screenshot("chat-hostile-article.png")
    finally:
        httpx.delete(server + "/api/articles/test/hostile:1", headers={"Authorization": "Bearer browser-admin"})
