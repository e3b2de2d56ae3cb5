"""The Claims view in headless Chromium, in the chat and in the widget: ask a sample
question, open the Claims view, see claims with their speakers (claims about one
quantity grouped), click one and see its article with the highlighted span equal to the
claim's quote; article markup in a claim never renders."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The sample corpus's wheat-forecast article holds two claims about one figure (a group).
WHEAT = "How large a wheat harvest did the state Department of Agriculture project?"


def api_claims(server: str, q: str) -> list[dict]:
    r = httpx.get(server + "/api/claims", params={"q": q}, timeout=60)
    assert r.status_code == 200, r.text
    claims = r.json()["claims"]
    assert claims, "the sample corpus should hold claims about " + q
    return claims


def open_claims(page) -> None:
    """Open the chat's Claims panel (a tap while the reply still grows can miss: again)."""
    panel = page.locator("#byline-claims-panel")
    for _ in range(3):
        page.locator("#byline-claims-acc").get_by_text("Claims: who said what").click()
        try:
            panel.wait_for(timeout=3_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: try again
            continue
    panel.wait_for(timeout=1_000)


def test_chat_claims_view_opens_the_claim_in_its_article(server: str, recorded) -> None:
    claims = api_claims(server, WHEAT)
    page = recorded.page
    page.goto(server + "/")
    page.wait_for_selector("#byline-question textarea", timeout=30_000)
    page.locator("#byline-question textarea").fill(WHEAT)
    page.locator("#byline-ask").click()
    page.locator("#byline-chat .byline-answered, #byline-chat .byline-uncertain, #byline-chat .byline-abstain"
                 ).last.wait_for(timeout=60_000)
    page.wait_for_timeout(2_000)  # the claims arrive while the panel is closed: opening it shows them
    open_claims(page)
    first = page.locator("#byline-claims-panel li.byline-claim").first
    first.wait_for(timeout=30_000)
    assert page.locator("#byline-claims-panel li.byline-claim").count() == len(claims)
    assert first.locator(".byline-claim-speaker").inner_text() == claims[0]["speaker"]
    assert page.locator("#byline-claims-panel li.byline-claim-group").count() >= 1  # grouping is visible
    page.locator("#byline-claims-panel li.byline-claim-group").first.scroll_into_view_if_needed()
    recorded.screenshot("chat-claims.png")
    first.locator("a.byline-claim-link").click()
    mark = page.locator("#byline-source-panel mark.byline-hl")
    mark.wait_for(timeout=15_000)
    assert mark.inner_text() == claims[0]["citation"]["quote"]
    assert claims[0]["citation"]["title"] in page.locator("#byline-source-panel .byline-source-title").inner_text()
    recorded.screenshot("chat-claim-source.png")
    assert page.url.startswith(server)
    assert recorded.foreign_requests(server) == []


def test_chat_claims_on_a_phone_open_the_source_overlay(server: str, browser) -> None:
    from playwright.sync_api import expect

    claims = api_claims(server, WHEAT)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_selector("#byline-question textarea", timeout=30_000)
        open_claims(page)  # open before asking: it fills in when the answer is done
        page.get_by_text("Ask a question: who said").wait_for(timeout=5_000)
        page.locator("#byline-question textarea").fill(WHEAT)
        page.locator("#byline-ask").click()
        link = page.locator("#byline-claims-panel a.byline-claim-link").first
        link.wait_for(timeout=30_000)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        link.click()
        mark = page.locator("#byline-source-panel mark.byline-hl")
        mark.wait_for(timeout=15_000)
        assert mark.inner_text() == claims[0]["citation"]["quote"]
        expect(mark).to_be_in_viewport()
        page.get_by_role("button", name="Back to the answer").click()
        expect(page.locator("#byline-source-col")).to_be_hidden()
        assert page.evaluate("() => document.activeElement.classList.contains('byline-claim-link')")
    finally:
        context.close()


def test_widget_claims_view_opens_the_claim_in_its_article(server: str, host_site, intranet_page: str,
                                                          recorded) -> None:
    claims = api_claims(server, WHEAT)
    page = recorded.page
    page.goto(intranet_page)
    page.locator("#byline-widget button.byline-launcher").click()
    frame = page.frame_locator("#byline-widget iframe")
    frame.locator("#question").fill(WHEAT)
    frame.locator("#send").click()
    frame.locator(".msg.bot[data-status]").last.wait_for(timeout=60_000)
    frame.locator("#claims-open").click()
    first = frame.locator("#claims-body button.claim").first
    first.wait_for(timeout=30_000)
    assert frame.locator("#claims-body button.claim").count() == len(claims)
    assert first.locator(".claim-speaker").inner_text() == claims[0]["speaker"]
    assert frame.locator("#claims-body li.claim-group").count() >= 1  # grouping is visible
    recorded.screenshot("widget-claims.png")
    first.click()
    mark = frame.locator("#source-text #hl")
    mark.wait_for(timeout=15_000)
    assert mark.inner_text() == claims[0]["citation"]["quote"]
    assert frame.locator("#back").inner_text().endswith("Back to the claims")
    recorded.screenshot("widget-claim-source.png")
    frame.locator("#back").click()  # back to the claims, not to the answer
    assert frame.locator("#claims").is_visible() and not frame.locator("#source").is_visible()
    page.keyboard.press("Escape")  # closes the claims, not the widget
    frame.locator("#claims").wait_for(state="hidden", timeout=5_000)
    assert frame.locator("#question").is_visible()
    frame.locator("#claims-open").click()
    frame.locator("#claims-back").click()
    assert not frame.locator("#claims").is_visible()
    assert recorded.foreign_requests(server, host_site.origin) == []


def test_claim_markup_never_runs_in_embed_and_no_claims_is_said(server: str, recorded) -> None:
    page = recorded.page
    hostile = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>"
    claim = {"group": 1, "speaker": hostile, "role": hostile, "cue": "said", "content": hostile,
             "figures": [{"text": hostile}], "date": "2024-01-01",
             "citation": {"article_id": "x", "source": hostile, "start": 0, "end": 5, "quote": "Intro"}}
    answers = iter([{"claims": [claim]}, {"claims": []}])
    page.route("**/api/claims?**", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(next(answers))))
    page.goto(server + "/embed")
    page.locator("#question").fill(WHEAT)
    page.locator("#send").click()
    page.locator(".msg.bot[data-status]").last.wait_for(timeout=60_000)
    page.locator("#claims-open").click()
    page.locator("#claims-body button.claim").first.wait_for(timeout=15_000)
    assert hostile in page.locator("#claims-body .claim-speaker").inner_text()
    assert page.locator("#claims-body img, #claims-body script").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    page.locator("#claims-back").click()
    page.locator("#claims-open").click()
    page.get_by_text("The archive holds no attributed claims about").wait_for(timeout=15_000)
