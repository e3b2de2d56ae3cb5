"""HTML rendering of answers and sources: exact highlighted spans, escaping of article
markup, citation references with odd ids, safe links."""

from __future__ import annotations

import html
import re

from web.present import answer_in_quote, best_sentence
from web.render import (abstention_html, answer_html, article_html, cite_ref, esc, parse_cite_ref,
                        parse_cite_target, quote_html, safe_url)

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
    answer = {"answer": "<b>2,300</b>", "abstained": False, "text": "<b>2,300</b> [1]. (another figure is given: second [2])",
              "citations": [
        {"n": 1, "article_id": "x/1", "title": "<i>Strike</i>", "url": "", "start": 0, "end": 5, "quote": HOSTILE},
        {"n": 2, "article_id": "x/2", "title": "Other", "url": "", "start": 5, "end": 9, "quote": "second quote"}],
        "passages": []}
    out = answer_html(answer, {"x/1": {"source": "Ledger", "published": "2024-03-14"}, "x/2": {"source": "Post"}})
    assert "\n" not in out and "<script" not in out and "<b>2,300" not in out and "<i>Strike" not in out
    assert out.count('href="#byline-cite:') == 4  # [1] and [2] after their sentences and in the sources
    assert "Ledger, 2024-03-14" in out
    assert "Another figure is given by Post: second" in out
    assert '<mark class="byline-answer">second</mark> quote' in out
    assert "<ol" not in out  # numbered once, by the [n] markers


def test_abstention_lists_closest_distinct_articles() -> None:
    passages = [{"article_id": i, "title": f"Title {i}", "start": 0, "end": 3, "score": 1.0}
                for i in ("a", "a", "b", "c", "d")]
    out = abstention_html({"abstained": True, "passages": passages})
    assert "do not say" in out
    assert [t for t in ("Title a", "Title b", "Title c", "Title d") if t in out] == ["Title a", "Title b", "Title c"]
    assert "no article" in abstention_html({"abstained": True, "passages": []})


def _answer(text: str, citations: list[dict], answer: str = "2,300", status: str = "answered") -> dict:
    return {"question": "How many?", "answer": answer, "text": text, "status": status,
            "abstained": status != "answered", "citations": citations, "passages": []}


def _cite(n: int, article_id: str, quote: str, start: int = 100, title: str = "T") -> dict:
    return {"n": n, "article_id": article_id, "title": title, "url": "", "start": start,
            "end": start + len(quote), "quote": quote}


def test_the_answer_is_marked_inside_the_quote_and_the_link_carries_its_span() -> None:
    quote = "About 2,300 dockworkers walked off the job."
    out = answer_html(_answer("2,300 [1].", [_cite(1, "a", quote, start=40)]))
    assert '<blockquote class="byline-sentence">“About <mark class="byline-answer">2,300</mark> dockworkers' in out
    ref = re.search(r'href="(#byline-cite:[^"]+)"', out).group(1)
    assert parse_cite_target(ref) == ("a", 40, 40 + len(quote), (46, 51))
    assert parse_cite_ref(ref) == ("a", 40, 40 + len(quote))


def test_sources_list_each_article_once_without_see_also_or_boilerplate() -> None:
    cites = [_cite(1, "a", "About 2,300 walked out.", title="Strike"),
             _cite(2, "a", "Another 2,000 said so.", start=300, title="Strike"),
             _cite(3, "b", "Thieves take two paintings.", title="Museum theft"),
             _cite(4, "a", "Related: more port news", start=500, title="Strike")]
    out = answer_html(_answer("2,300 [1]. (another figure is given: 2,000 [2]) See also [3], [4].", cites))
    assert out.count("byline-source-item") == 1 and out.count(">Strike<") == 1
    assert "Museum theft" not in out and "Thieves" not in out and "Related:" not in out
    assert out.count("[1]".replace("[", "&#91;").replace("]", "&#93;")) == 2  # after the quote and in the source


def test_quote_keeps_a_closing_quotation_mark_single() -> None:
    assert quote_html('a terrorist “diaspora.”') == "“a terrorist “diaspora.”"
    assert quote_html("said “no.”", (6, 8)).endswith("no</mark>.”")


def test_uncertain_is_labelled_and_never_bold() -> None:
    out = answer_html(_answer("The archive may say: 2,300 [1].", [_cite(1, "a", "About 2,300 walked out.")],
                              status="uncertain"))
    assert 'class="byline-reply byline-uncertain"' in out and "Uncertain" in out
    assert "<strong" not in out and "<b>" not in out and "byline-short" not in out
    assert '<mark class="byline-answer">2,300</mark>' in out


def test_abstention_is_not_bold_and_links_each_article_to_its_best_sentence() -> None:
    text = ("The council met on Monday. The budget was approved. "
            "Marrowby has a population of 12,000 according to the census. Rain fell.")
    passages = [{"article_id": "a", "title": "Council", "start": 0, "end": len(text), "score": 1.0}]
    answer = {"question": "What is the population of Marrowby?", "status": "abstained", "abstained": True,
              "answer": None, "citations": [], "passages": passages}
    out = answer_html(answer, texts={"a": text})
    assert "<strong" not in out and "do not say" in out
    start = text.index("Marrowby has")
    end = text.index("census.") + len("census.")
    assert f'href="{cite_ref("a", start, end)}"' in out
    assert best_sentence(text, 0, len(text), "What is the population of Marrowby?") == (start, end)


def test_source_panel_marks_the_answer_inside_the_sentence() -> None:
    text = "Intro. About 2,300 <b>dockworkers</b> walked off. Outro."
    start, end = text.index("About"), text.index("off.") + 4
    a = text.index("2,300")
    out = article_html({"id": "a", "title": "T", "text": text}, start, end, (a, a + 5))
    assert ('<mark id="byline-hl" class="byline-hl">About <mark class="byline-answer">2,300</mark> '
            "&lt;b&gt;dockworkers") in out
    assert "<mark class" not in article_html({"id": "a", "title": "T", "text": text}, start, end, (0, 5))


def test_answer_in_quote_tolerates_case_and_white_space() -> None:
    assert answer_in_quote("About 2,300\nworkers", "about 2,300 workers") == (0, 19)
    assert answer_in_quote("no such thing", "2,300") is None
