"""The Claims view in headless Chromium, in the chat and in the widget: ask a sample
question, open the Claims view, see claims with their speakers (claims about one
quantity grouped), click one and see its article with the highlighted span equal to the
claim's quote; article markup in a claim never renders."""

from __future__ import annotations

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


def test_chat_claims_view_opens_the_claim_in_its_article(server: str, recorded) -> None:
    claims = api_claims(server, WHEAT)
    page = recorded.page
    page.goto(server + "/")
    page.wait_for_selector("#byline-question textarea", timeout=30_000)
    page.locator("#byline-question textarea").fill(WHEAT)
    page.locator("#byline-ask").click()
    page.locator("#byline-chat .byline-answered, #byline-chat .byline-uncertain, #byline-chat .byline-abstain"
                 ).last.wait_for(timeout=60_000)
    page.locator("#byline-claims-acc").get_by_text("Claims: who said what").click()
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
