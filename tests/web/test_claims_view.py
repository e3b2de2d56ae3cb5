"""The chat's Claims view (web/claims_view.py): every field escaped, each claim a link to
its content span, claims of one group together and flagged when their figures differ,
a plain notice when there is nothing to list."""

from __future__ import annotations

from typing import Any

from web.claims_view import (NO_CLAIMS_STORED, claims_html, claims_notice, claims_panel, figures_differ,
                              group_runs)
from web.render import parse_cite_target
from web.service import RequestError


def hit(group: int, speaker: str, content: str, figures: tuple[str, ...] = (), start: int = 10,
        article_id: str = "a/1", role: str | None = None, differ: bool = False) -> dict[str, Any]:
    return {"group": group, "figures_differ": differ, "speaker": speaker, "role": role, "cue": "estimated", "content": content,
            "figures": [{"text": f} for f in figures], "date": "2024-03-14",
            "citation": {"article_id": article_id, "title": "T", "source": "The Ledger", "start": start,
                         "end": start + len(content), "quote": content}}


def test_each_claim_shows_its_fields_and_links_to_its_content_span() -> None:
    html = claims_html([hit(1, "Priya Hallenbeck", "a stoppage would cost $1.2 billion", ("$1.2 billion",),
                            start=1700, article_id="harbor/2024 strike", role="an economist")], "port strike")
    for text in ("Priya Hallenbeck", "an economist", "estimated", "a stoppage would cost &#36;1.2 billion",
                 "2024-03-14", "The Ledger", "port strike"):
        assert text in html
    href = html.split('href="', 1)[1].split('"', 1)[0]
    assert parse_cite_target(href) == ("harbor/2024 strike", 1700, 1700 + len("a stoppage would cost $1.2 billion"),
                                       None)


def test_everything_is_escaped() -> None:
    evil = '<img src=x onerror=alert(1)>'
    html = claims_html([hit(1, evil, evil + " {{x}} `y` $z", (evil,), role=evil)], evil)
    assert "<img" not in html and "{{" not in html and "`" not in html and "$z" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in claims_notice(evil)


def test_claims_of_one_group_are_together_and_disagreement_is_flagged() -> None:
    hits = [hit(1, "A", "as many as 5,000", ("5,000",), differ=True), hit(2, "B", "sunny"),
            hit(1, "C", "far lower", ("500",), differ=True),
            hit(3, "D", "about 40", ("40",)), hit(3, "E", "about 40 again", ("40",))]
    assert [[h["speaker"] for h in g] for g in group_runs(hits)] == [["A", "C"], ["B"], ["D", "E"]]
    assert figures_differ(group_runs(hits)[0]) and not figures_differ(group_runs(hits)[2])
    html = claims_html(hits, "q")
    assert html.count('class="byline-claim-group') == 2 and html.count("byline-disagree") == 1
    assert "2 claims about the same quantity: the figures differ" in html
    assert html.index(">A<") < html.index(">C<") < html.index(">B<")


def test_no_claims_says_so_plainly() -> None:
    assert "no attributed claims about" in claims_html([], "the moon")
    assert "stores no attributed claims" in claims_notice(NO_CLAIMS_STORED)


class FakeService:
    def __init__(self, result: Any) -> None:
        self.result, self.asked = result, []

    def claims(self, q: str) -> list[dict[str, Any]]:
        self.asked.append(q)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_panel_says_plainly_when_the_backend_stores_no_claims() -> None:
    assert claims_panel(FakeService(RequestError("no claims", 501)), "q") == claims_notice(NO_CLAIMS_STORED)
    assert "no attributed claims about" in claims_panel(FakeService([]), "the moon")
    none_yet = FakeService([])
    assert claims_panel(none_yet, "") == claims_notice() and none_yet.asked == []
    assert "q: empty" in claims_panel(FakeService(RequestError("q: empty")), " ")
    assert "Priya" in claims_panel(FakeService([hit(1, "Priya", "x")]), "q")
