"""HTML rendering of answers and sources: exact highlighted spans, escaping of article
markup, citation references with odd ids, safe links."""

from __future__ import annotations

import html

from web.render import (abstention_html, answer_html, article_html, cite_ref, esc, parse_cite_ref,
                        safe_url)

HOSTILE = '<script>alert(1)</script><img src=x onerror="x()"> {{value}} ${1+1} *b* [l](javascript:x)'


def test_esc_round_trips_and_leaves_no_markup() -> None:
    out = esc(HOSTILE)
    assert html.unescape(out) == HOSTILE
    for bad in ("<", ">", '"', "{", "}", "$", "*", "[", "]"):
        assert bad not in out


def test_article_html_highlights_the_exact_span_and_escapes() -> None:
    text = "Intro. " + HOSTILE + " The cited sentence. Outro <b>bold</b>."
    start = text.index("The cited")
    end = start + len("The cited sentence.")
    out = article_html({"id": "a", "title": "<i>T</i>", "text": text, "url": "https://x.example/a",
                        "published": "2024-01-02", "source": "Gazette"}, start, end)
    assert '<mark id="byline-hl" class="byline-hl">The cited sentence.</mark>' in out
    assert "<script>" not in out and "<img" not in out and "<b>bold" not in out and "<i>T" not in out
    body = out.split('<div class="byline-source-text">', 1)[1].rsplit("</div>", 1)[0]
    assert html.unescape(body.replace('<mark id="byline-hl" class="byline-hl">', "").replace("</mark>", "")) == text
    assert "Gazette · 2024-01-02" in out and 'href="https://x.example/a"' in out


def test_article_html_ignores_bad_offsets_and_unsafe_urls() -> None:
    out = article_html({"id": "a", "title": "T", "text": "short", "url": "javascript:alert(1)"}, 3, 99)
    assert "<mark" not in out and "javascript" not in out
    assert safe_url("http://a.example/x") and not safe_url("data:text/html,x") and not safe_url("/relative")


def test_cite_ref_round_trip_with_odd_ids() -> None:
    for article_id in ("gazette.example/2024/03:lighthouse+keeper", "a@b=c", "plain"):
        ref = cite_ref(article_id, 10, 20)
        assert ref.startswith("#byline-cite:10:20:") and "/" not in ref
        assert parse_cite_ref(ref) == (article_id, 10, 20)


def test_answer_html_escapes_quotes_and_links_citations() -> None:
    answer = {"answer": "<b>2,300</b>", "abstained": False, "citations": [
        {"n": 1, "article_id": "x/1", "title": "<i>Strike</i>", "url": "", "start": 0, "end": 5, "quote": HOSTILE},
        {"n": 2, "article_id": "x/2", "title": "Other", "url": "", "start": 5, "end": 9, "quote": "second quote"}],
        "passages": []}
    out = answer_html(answer, {"x/1": {"source": "Ledger", "published": "2024-03-14"}})
    assert "\n" not in out and "<script" not in out and "<b>2,300" not in out and "<i>Strike" not in out
    assert out.count('href="#byline-cite:') == 3  # [1] after the sentence and both list items
    assert "Ledger, 2024-03-14" in out and "second quote" in out


def test_abstention_lists_closest_distinct_articles() -> None:
    passages = [{"article_id": i, "title": f"Title {i}", "start": 0, "end": 3, "score": 1.0}
                for i in ("a", "a", "b", "c", "d")]
    out = abstention_html({"abstained": True, "passages": passages})
    assert "do not say" in out
    assert [t for t in ("Title a", "Title b", "Title c", "Title d") if t in out] == ["Title a", "Title b", "Title c"]
    assert "no article" in abstention_html({"abstained": True, "passages": []})
