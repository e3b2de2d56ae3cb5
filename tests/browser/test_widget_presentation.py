"""The widget presents answers as the chat does (issue 13): the answer marked inside its
quote and in the source view, one source entry per article, the uncertain and abstained
states, the host page's data-color on the header and the Ask button, and an explanation
naming server.allowed_origins when the host page's origin may not frame the chat."""

from __future__ import annotations

import json

import pytest
from byline_contrast import contrast_failures
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCKWORKERS = "How many dockworkers walked off the job at the Port of Calloway?"
PORT = "harbor-ledger-2024-03-port-strike"
WIDGET_TEXT = [".bar .brand", ".bar .sub", ".msg.user", ".msg.bot .short", ".msg.bot blockquote", "mark.byline-answer",
               ".cite", ".where", ".sources-label", ".source-name", ".badge", ".uncertain-label", ".hint",
               ".abstain-label", ".closest-label", "#send", "#hl"]
QUOTE = ("About 2,300 dockworkers at the Port of Calloway walked off the job on Wednesday morning after contract "
         "negotiations with terminal operators broke down, halting cargo operations at the region’s busiest harbor.")


def widget_page(server: str, site, name: str, attrs: str = "") -> str:
    site.pages[f"/{name}.html"] = (f'<!doctype html><html><head><title>{name}</title></head><body><h1>Intranet</h1>'
                                   f'<script src="{server}/widget.js" {attrs} async></script></body></html>')
    return f"{site.origin}/{name}.html"


def sse(answer: dict) -> str:
    return f"event: answer\ndata: {json.dumps(answer)}\n\n"


def test_widget_marks_the_answer_and_uses_the_host_colour(server: str, host_site, recorded) -> None:
    page = recorded.page
    page.goto(widget_page(server, host_site, "coloured", 'data-color="#aa3300" data-open="true"'))
    frame = page.frame_locator("#byline-widget iframe")
    frame.locator("#question").fill(DOCKWORKERS)
    frame.locator("#question").press("Enter")
    mark = frame.locator(".msg.bot blockquote.sentence mark.byline-answer").last
    mark.wait_for(timeout=60_000)
    assert "2,300" in mark.inner_text()
    reply = frame.locator(".msg.bot").last
    ids = [b.get_attribute("data-article") for b in reply.locator(".sources li").all()
           for b in [b.locator(".cite").first]]
    assert ids and len(ids) == len(set(ids))
    assert reply.locator("ol").count() == 0
    expect(reply.locator(".sources .where").first).to_contain_text("The Harbor Ledger")
    assert frame.locator(".bar").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(170, 51, 0)"
    assert frame.locator("#send").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(170, 51, 0)"
    assert contrast_failures(page.frame(url=lambda u: "/embed" in u), WIDGET_TEXT) == []
    reply.locator(".sources .cite").first.click()
    strong = frame.locator("#source-text #hl mark.byline-answer")
    strong.wait_for(timeout=15_000)
    assert "2,300" in strong.inner_text()
    assert strong.inner_text() in frame.locator("#source-text #hl").inner_text()
    expect(frame.get_by_role("button", name="Back to the answer")).to_be_visible()
    page.keyboard.press("Escape")
    expect(frame.locator("#source")).to_be_hidden()
    assert recorded.foreign_requests(server, host_site.origin) == []


def test_widget_uncertain_and_abstained_states(server: str, recorded) -> None:
    page = recorded.page
    uncertain = {"question": "q", "answer": "2,300", "text": "The archive may say: 2,300 [1].", "status": "uncertain",
                 "abstained": True, "confidence": 0.4, "reader": "offline", "fallback": False, "passages": [],
                 "standalone_question": None,
                 "citations": [{"n": 1, "article_id": PORT, "title": "Strike", "url": "", "start": 0,
                                "end": len(QUOTE), "quote": QUOTE}]}
    abstained = {**uncertain, "answer": None, "status": "abstained", "citations": [],
                 "question": "How many terminal operators run the Calloway port?", "text": "The articles do not say.",
                 "passages": [{"article_id": PORT, "title": "Strike", "start": 0, "end": 1045, "score": 0.03}]}
    replies = [uncertain, abstained]
    page.route("**/api/ask/stream", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=sse(replies.pop(0))))
    page.goto(server + "/embed")
    page.locator("#question").fill("q")
    page.locator("#send").click()
    box = page.locator(".msg.bot.uncertain")
    box.wait_for(timeout=10_000)
    assert box.locator(".badge").inner_text().lower() == "uncertain"
    assert box.locator(".short, strong, b").count() == 0
    assert box.locator("blockquote.sentence mark.byline-answer").inner_text() == "2,300"
    page.locator("#question").fill("How many terminal operators run the Calloway port?")
    page.locator("#send").click()
    box = page.locator(".msg.bot.abstain")
    box.wait_for(timeout=10_000)
    assert "do not say" in box.inner_text() and box.locator(".short, strong, b").count() == 0
    assert contrast_failures(page, WIDGET_TEXT) == []
    box.locator(".closest .cite").first.click()
    hl = page.locator("#source-text #hl")
    hl.wait_for(timeout=10_000)
    page.wait_for_timeout(200)
    text = hl.inner_text()
    assert "terminal operators" in text.lower() and len(text) < 400, text  # one sentence, not the passage


def test_widget_explains_an_origin_that_is_not_allowed(server: str, other_site, recorded) -> None:
    page = recorded.page
    page.goto(widget_page(server, other_site, "refused", 'data-open="true" data-timeout="2500"'))
    message = page.locator("#byline-widget .byline-load-error")
    message.wait_for(timeout=15_000)
    expect(message).to_contain_text("server.allowed_origins")
    expect(message).to_contain_text(other_site.origin)
    expect(message.locator(".byline-load-why")).to_contain_text("is running", timeout=10_000)
    assert recorded.foreign_requests(server, other_site.origin) == []


def test_widget_on_an_allowed_origin_shows_no_load_error(server: str, host_site, recorded) -> None:
    page = recorded.page
    page.goto(widget_page(server, host_site, "fine", 'data-open="true" data-timeout="8000"'))
    page.frame_locator("#byline-widget iframe").locator("#question").wait_for(timeout=15_000)
    page.wait_for_function("() => window.Byline && window.Byline.ready", timeout=15_000)  # the handshake
    assert page.locator("#byline-widget .byline-load-error").count() == 0  # and it can no longer appear
