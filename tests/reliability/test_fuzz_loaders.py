"""Hostile input to the loaders (hypothesis): random bytes, broken HTML, huge lines, deep
nesting, NUL bytes, invalid JSON, wrong types in JSON fields. Every input is added (a
valid Article) or rejected with a reason naming where; nothing raises.

Short form: a few hundred examples; soak: ``BYLINE_FUZZ_EXAMPLES`` per loader (1500)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.article import Article
from corpus.loaders import (ArticleFactory, LoadResult, article_from_record, load_html, load_json,
                            load_stdin, load_text)
from reliability_helpers import FUZZ_EXAMPLES

FACTORY = ArticleFactory(max_bytes=200_000)
SEEN: Counter = Counter()

# JSON values of every type, nested, with odd strings (NUL, surrogates, RTL, emoji).
odd_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "a\udc00b", "\u202eevil", "<script>alert(1)</script>", "..", "../../etc/passwd",
     "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧", "e\u0301", "\r\n\r\n", "\ufeffBOM"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | odd_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4),
    max_leaves=12)
FIELDS = ["id", "title", "text", "url", "published", "publish_date", "source"]
words = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200)
near_valid = st.fixed_dictionaries(
    {"text": words | json_values},
    optional={"id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,30}", fullmatch=True) | json_values,
              "title": words | json_values, "url": st.just("https://news.example/a") | json_values,
              "published": st.sampled_from(["2024-03-14", "March 14, 2024", "2024-02-30", "yesterday"]) | json_values,
              "source": words | json_values})
records = near_valid | st.dictionaries(st.sampled_from(FIELDS) | odd_text, json_values, max_size=8) | json_values


def _deep(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


broken_bytes = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=4), st.integers(1, 3000)),
    st.sampled_from([_deep(50_000), _deep(3000, '{"a":', "}"), b"\x00" * 100, b"\xff\xfe" + b"\x00\xd8" * 10,
                     b"\xef\xbb\xbf" + b"{}", b'{"text": "' + b"a" * 300_000 + b'"}',
                     b"<" * 20_000, b"<div>" * 20_000, b"<html><body><p>" + b"x" * 100_000 + b"\n",
                     b"\xfe\xff\x00<\x00h", b"<?xml version='1.0' encoding='utf-16'?><html><p>hi</p></html>",
                     b"<!DOCTYPE html><html><script>alert(1)</script><body onload=x><article><p>"
                     + b"Real words in a sentence. " * 30 + b"</p></article></body></html>"]),
)
html_docs = st.builds(
    lambda tags, text, tail: ("<html><body>" + "".join(f"<{t}>" for t in tags) + text + tail).encode("utf-8", "surrogatepass"),
    st.lists(st.sampled_from(["div", "p", "article", "script", "table", "td", "b", "img src=x onerror=alert(1)",
                              "a href='javascript:alert(1)'", "!--", "![CDATA[", "svg", "math", "style"]), max_size=40),
    odd_text, st.sampled_from(["", "</p>", "</html>", "<", "</div" * 50, "\x00", "&#0;&#xD800;&bogus;"]))


def check(results: list[LoadResult], kind: str) -> None:
    assert results, "a loader yields at least one result per input"
    for r in results:
        assert isinstance(r, LoadResult)
        if r.article is not None:
            assert isinstance(r.article, Article) and r.reason is None
            assert r.article.text.strip() and "\x00" not in r.article.text
            r.article.text.encode("utf-8")  # storable
            r.article.title.encode("utf-8")
            SEEN[kind + ":added"] += 1
        else:
            assert isinstance(r.reason, str) and r.reason.startswith(r.where.split(":")[0][:10]), r
            SEEN[kind + ":rejected"] += 1


def _fuzz(examples: int) -> None:
    common = dict(deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))

    @settings(max_examples=examples, **common)
    @given(records)
    def json_records(record) -> None:
        data = json.dumps(record, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")
        check(list(load_json(data, "in.json", FACTORY, lines=False)), "json")
        check(list(load_json(data.replace(b"\n", b" ") + b"\n" + data.replace(b"\n", b" "), "in.jsonl", FACTORY,
                             lines=True)), "jsonl")
        try:
            article_from_record(record, "rec", FACTORY)
        except ValueError as exc:  # RejectedInput
            assert "rec" in str(exc)

    @settings(max_examples=examples, **common)
    @given(broken_bytes)
    def raw_bytes(data: bytes) -> None:
        check(list(load_json(data, "in.json", FACTORY, lines=False)), "json")
        check(list(load_json(data, "in.jsonl", FACTORY, lines=True)), "jsonl")
        check([load_text(data, "in.txt", FACTORY, id_origin="/in.txt")], "text")
        check(list(load_stdin(data, FACTORY)), "stdin")

    @settings(max_examples=max(examples // 3, 20), **common)
    @given(html_docs | broken_bytes)
    def html(data: bytes) -> None:
        check([load_html(data, "in.html", FACTORY, id_origin="/in.html")], "html")

    json_records()
    raw_bytes()
    html()


def test_fixed_hostile_inputs() -> None:
    cases = {
        "deep JSON": (_deep(100_000), "nested too deeply"),
        "title of the wrong type": (b'{"text": "Some words.", "title": 5}', "field 'title' must be a string"),
        "lone surrogate in text": (b'{"text": "bad \\ud800 text"}', "invalid Unicode"),
        "lone surrogate in title": (b'{"text": "ok", "title": "\\udc00"}', "invalid Unicode"),
        "NUL in text": (b'{"text": "a\\u0000b"}', "NUL"),
        "text of the wrong type": (b'{"text": ["a"]}', "field 'text' must be a string"),
        "invalid JSON": (b'{"text": ', "malformed JSON"),
        "id with ..": (b'{"text": "ok", "id": "../../etc/passwd"}', "invalid article id"),
    }
    for name, (data, reason) in cases.items():
        for lines in (False, True):
            [result] = list(load_json(data, "case.json", FACTORY, lines=lines))
            assert result.article is None and reason in result.reason, (name, lines, result)


@pytest.mark.slow
def test_fuzz_loaders_short() -> None:
    SEEN.clear()
    _fuzz(300)
    print("\nfuzzed inputs:", sum(SEEN.values()), dict(SEEN))
    assert sum(v for k, v in SEEN.items() if k.endswith(":added")) > 0
    assert sum(v for k, v in SEEN.items() if k.endswith(":rejected")) > 0


@pytest.mark.soak
@pytest.mark.slow
def test_fuzz_loaders_soak() -> None:
    SEEN.clear()
    _fuzz(FUZZ_EXAMPLES)
    print("\nfuzzed inputs:", sum(SEEN.values()), dict(SEEN))
