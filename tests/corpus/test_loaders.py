"""Loaders: text/Markdown, HTML, JSON/JSONL, folders, stdin, URLs and feeds (served from
127.0.0.1), text normalisation, and rejections that name the file, line or field."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from byline_testing import TOPICS, article_html, article_record, shared_path
from corpus.loaders import (ArticleFactory, LoadResult, Overrides, RejectedInput, derive_id,
                            load_inputs, parse_date)

BODY = ("The harbour bridge reopened on Thursday after eight months of repairs.\n\n"
        "Engineers replaced the corroded steel cables, the council said.")


def load(*inputs: str | Path, factory: ArticleFactory | None = None, **kwargs) -> list[LoadResult]:
    return list(load_inputs([str(i) for i in inputs], factory or ArticleFactory(), timeout=5.0, **kwargs))


def only_article(results: list[LoadResult]):
    assert len(results) == 1, results
    assert results[0].reason is None, results[0].reason
    return results[0].article


def only_rejection(results: list[LoadResult]) -> str:
    assert len(results) == 1, results
    assert results[0].article is None, results[0].article
    assert results[0].reason
    return results[0].reason


# -- text and Markdown -------------------------------------------------------------------

def test_txt_headline_blank_line_body(tmp_path: Path) -> None:
    path = tmp_path / "bridge.txt"
    path.write_text("Harbour Bridge Reopens\n\n" + BODY + "\n", encoding="utf-8")
    article = only_article(load(path))
    assert article.title == "Harbour Bridge Reopens"
    assert article.text == BODY
    assert article.id.startswith("bridge-")


def test_markdown_heading_becomes_title(tmp_path: Path) -> None:
    path = tmp_path / "story.md"
    path.write_text("# Harbour Bridge Reopens\n\n" + BODY, encoding="utf-8")
    article = only_article(load(path))
    assert article.title == "Harbour Bridge Reopens"
    assert article.text == BODY


def test_txt_without_blank_line_keeps_everything_as_text(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("One line\nand another line", encoding="utf-8")
    article = only_article(load(path))
    assert article.text == "One line\nand another line"
    assert article.title == "One line"  # falls back to the first line


def test_seed_article_loads_with_headline(tmp_path: Path) -> None:
    seed = shared_path("seeds", "000_5394cb9d20c982bd.txt")
    article = only_article(load(seed))
    assert article.title == "China Facing Its Own Terrorist 'Diaspora,' Report Says"
    assert article.text.startswith("China is not immune")
    assert "Imad Moustapha" in article.text
    raw = seed.read_text(encoding="utf-8")
    assert article.text == raw.split("\n", 1)[1].strip()


def test_newlines_normalised_and_bom_dropped(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes("\ufeffHeadline\r\n\r\nFirst line\r\nsecond line\rthird line\r\n".encode("utf-8"))
    article = only_article(load(path))
    assert article.title == "Headline"
    assert article.text == "First line\nsecond line\nthird line"
    assert "\r" not in article.text and "\ufeff" not in article.text + article.title


def test_cp1252_file_decoded(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    text = "Copyright note\r\n\r\n\u00a9 2024 Caf\u00e9 Press \u2014 \u201cquoted\u201d and \u2018single\u2019 \u2013 ok"
    path.write_bytes(text.encode("cp1252"))
    article = only_article(load(path))
    assert article.text == "\u00a9 2024 Caf\u00e9 Press \u2014 \u201cquoted\u201d and \u2018single\u2019 \u2013 ok"


def test_curly_quotes_and_dashes_untouched(tmp_path: Path) -> None:
    body = "\u201cWe\u2019re back,\u201d she said \u2014 twice \u2013 in 2024\u2026 \u00ab ok \u00bb"
    path = tmp_path / "quotes.txt"
    path.write_text("Head\n\n" + body, encoding="utf-8")
    assert only_article(load(path)).text == body


def test_utf16_file_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes("Head\r\n\r\nCaf\u00e9 \u201cnews\u201d".encode("utf-16"))
    article = only_article(load(path))
    assert (article.title, article.text) == ("Head", "Caf\u00e9 \u201cnews\u201d")


def test_derived_id_is_stable_and_depends_on_path(tmp_path: Path) -> None:
    a = tmp_path / "a" / "story.txt"
    b = tmp_path / "b" / "story.txt"
    for p in (a, b):
        p.parent.mkdir()
        p.write_text("Head\n\n" + BODY, encoding="utf-8")
    first, again, other = (only_article(load(p)).id for p in (a, a, b))
    assert first == again
    assert first != other
    assert first == derive_id(str(a.resolve()), "story")


def test_overrides_apply(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("Head\n\n" + BODY, encoding="utf-8")
    factory = ArticleFactory(Overrides(id="my-id", title="New title", source="Gazette",
                                       published=dt.date(2024, 1, 2)))
    article = only_article(load(path, factory=factory))
    assert (article.id, article.title, article.source, article.published) == (
        "my-id", "New title", "Gazette", dt.date(2024, 1, 2))


# -- HTML ----------------------------------------------------------------------------------

PARAGRAPHS = [
    "The harbour bridge reopened on Thursday after eight months of repairs, the city council "
    "said in a statement to residents.",
    "Engineers replaced the corroded steel cables and resurfaced the deck, at a total cost of "
    "12 million dollars, according to the council.",
    "Traffic is expected to return to normal levels by the end of the month, officials added.",
]


def test_html_title_date_outlet(tmp_path: Path) -> None:
    path = tmp_path / "bridge.html"
    path.write_text(article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS), encoding="utf-8")
    article = only_article(load(path))
    assert article.title == "Harbour Bridge Reopens After Repairs"
    assert article.published == dt.date(2024, 3, 14)
    assert article.source == "Coastal Gazette"
    for p in PARAGRAPHS:
        assert p in article.text
    assert "Contact the newsroom" not in article.text
    assert "Sport" not in article.text


def test_htm_suffix_is_html(tmp_path: Path) -> None:
    path = tmp_path / "bridge.htm"
    path.write_text(article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS), encoding="utf-8")
    assert PARAGRAPHS[1] in only_article(load(path)).text


def test_html_without_article_text_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>Menu</title><script>var x = 1;</script></head>"
                    "<body><div>  </div><img src='a.png'></body></html>", encoding="utf-8")
    reason = only_rejection(load(path))
    assert str(path) in reason
    assert "no article text" in reason


# -- JSON and JSON Lines --------------------------------------------------------------------

def test_jsonl_fields(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    records = [article_record("bridge", id="b-1"),
               article_record("chess", id="c-1", published=None, publish_date="2022/06/12",
                              source="Other Outlet")]
    third = article_record("orchard", id="o-1", publish_date="2022-06-13")
    del third["published"]  # the dev articles.jsonl format
    records.append(third)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    results = load(path)
    assert [r.where for r in results] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    first, second, third = (r.article for r in results)
    assert (first.id, first.title, first.url, first.published, first.source) == (
        "b-1", records[0]["title"], "https://news.example/bridge", dt.date(2024, 3, 14), "Test Gazette")
    assert first.text == records[0]["text"]
    assert (second.id, second.published, second.source) == ("c-1", dt.date(2022, 6, 12), "Other Outlet")
    assert (third.id, third.published) == ("o-1", dt.date(2022, 6, 13))


def test_json_single_object_and_list(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(article_record("bridge", id="one")), encoding="utf-8")
    assert only_article(load(one)).id == "one"
    many = tmp_path / "many.json"
    many.write_text(json.dumps([article_record("bridge", id="m1"), article_record("chess", id="m2")]),
                    encoding="utf-8")
    assert [r.article.id for r in load(many)] == ["m1", "m2"]


def test_jsonl_malformed_line_reported_valid_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([
        json.dumps(article_record("bridge", id="ok-1")),
        '{"id": "broken", "text": "unterminated',
        "",
        json.dumps(article_record("chess", id="ok-2")),
    ]), encoding="utf-8")
    results = load(path)
    assert [r.article.id for r in results if r.article] == ["ok-1", "ok-2"]
    bad = [r for r in results if r.article is None]
    assert len(bad) == 1
    assert bad[0].where == f"{path}:2"
    assert f"{path}:2" in bad[0].reason and "malformed JSON" in bad[0].reason


@pytest.mark.parametrize("record, field", [
    ({"id": "x1", "title": "T", "text": "   \n\t "}, "text"),
    ({"id": "x2", "title": "T"}, "text"),
    ({"id": "x3", "title": "T", "text": 42}, "text"),
    ({"id": "x4", "title": "T", "text": "Body", "published": "yesterday-ish"}, "published"),
    ({"id": "bad id!", "title": "T", "text": "Body"}, "id"),
    ({"id": "x5", "title": ["T"], "text": "Body"}, "title"),
])
def test_jsonl_bad_field_named(tmp_path: Path, record: dict, field: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    reason = only_rejection(load(path))
    assert f"{path}:1" in reason
    assert f"'{field}'" in reason


def test_json_non_object_rejected(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('["not", "an", "object"]\n', encoding="utf-8")
    reason = only_rejection(load(path))
    assert f"{path}:1" in reason and "JSON object" in reason


def test_dev_articles_file_loads(tmp_path: Path) -> None:
    path = shared_path("data", "dev", "articles.jsonl")
    results = load(path)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(results) == len(records)
    assert all(r.article is not None for r in results), [r.reason for r in results if r.reason][:3]
    for result, record in zip(results, records):
        assert result.article.id == record["id"]
        assert result.article.text == record["text"]  # gold spans index into this text
    dated = [(r.article, rec) for r, rec in zip(results, records) if rec.get("publish_date")]
    assert dated and all(a.published is not None for a, _ in dated)


# -- folders, stdin -------------------------------------------------------------------------

def test_folder_recursive_sorted_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("B head\n\nB body text.", encoding="utf-8")
    (root / "sub" / "a.md").write_text("A head\n\nA body text.", encoding="utf-8")
    (root / "sub" / "deeper" / "c.jsonl").write_text(
        json.dumps(article_record("chess", id="c-json")) + "\n", encoding="utf-8")
    (root / "notes.pdf").write_bytes(b"%PDF-1.4 binary")
    (root / ".hidden" / "x.txt").write_text("X\n\nhidden", encoding="utf-8")
    results = load(root)
    assert all(r.article for r in results), results
    assert [r.article.text for r in results] == ["B body text.", "A body text.", TOPICS["chess"][1]]
    assert results[2].article.id == "c-json"


def test_empty_folder_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "image.png").write_bytes(b"\x89PNG")
    reason = only_rejection(load(tmp_path / "empty"))
    assert str(tmp_path / "empty") in reason and "no supported files" in reason


def test_stdin_text_json_and_html() -> None:
    text = only_article(load("-", stdin=io.BytesIO(("Head\n\n" + BODY).encode())))
    assert (text.title, text.text) == ("Head", BODY)
    again = only_article(load("-", stdin=io.BytesIO(("Head\n\n" + BODY).encode())))
    assert again.id == text.id  # derived from the content
    record = article_record("bridge", id="from-stdin")
    assert only_article(load("-", stdin=io.BytesIO(json.dumps(record).encode()))).id == "from-stdin"
    lines = "\n".join(json.dumps(article_record(t, id=f"s-{t}")) for t in ("bridge", "chess"))
    assert [r.article.id for r in load("-", stdin=io.BytesIO(lines.encode()))] == ["s-bridge", "s-chess"]
    html = article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS).encode()
    assert PARAGRAPHS[0] in only_article(load("-", stdin=io.BytesIO(html))).text


def test_stdin_empty_rejected() -> None:
    reason = only_rejection(load("-", stdin=io.BytesIO(b"  \n\n ")))
    assert "<stdin>" in reason and "empty" in reason


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"   \n\t\n  ", b"\xef\xbb\xbf\r\n\r\n"])
def test_empty_or_whitespace_file_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    reason = only_rejection(load(path))
    assert str(path) in reason and "empty" in reason


def test_headline_without_body_rejected(tmp_path: Path) -> None:
    path = tmp_path / "head.txt"
    path.write_text("Just a headline\n\n   \n", encoding="utf-8")
    assert str(path) in only_rejection(load(path))


def test_binary_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    reason = only_rejection(load(path))
    assert str(path) in reason and "binary" in reason


def test_file_over_size_limit_rejected(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Head\n\n" + "word " * 100, encoding="utf-8")
    reason = only_rejection(load(path, factory=ArticleFactory(max_bytes=200)))
    assert str(path) in reason and "size limit" in reason and "200" in reason
    assert only_article(load(path, factory=ArticleFactory(max_bytes=10_000)))


def test_size_limit_from_settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import load_settings

    monkeypatch.setenv("BYLINE_INGEST__MAX_FILE_BYTES", "300")
    cfg = load_settings(data_dir=tmp_path / "d")
    assert cfg.ingest.max_file_bytes == 300
    big = tmp_path / "big.html"
    big.write_text(article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS), encoding="utf-8")
    reason = only_rejection(load(big, factory=ArticleFactory(max_bytes=cfg.ingest.max_file_bytes)))
    assert "size limit" in reason


def test_jsonl_article_over_size_limit_rejected_per_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join([json.dumps({"id": "small", "title": "T", "text": "short text"}),
                               json.dumps({"id": "large", "title": "T", "text": "x" * 500})]),
                    encoding="utf-8")
    results = load(path, factory=ArticleFactory(max_bytes=100))
    assert results[0].article and results[0].article.id == "small"
    assert results[1].article is None and f"{path}:2" in results[1].reason
    assert "size limit" in results[1].reason


def test_missing_path_rejected(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "missing.txt"
    reason = only_rejection(load(missing))
    assert str(missing) in reason and "no such file" in reason


def test_unsupported_suffix_rejected(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.4")
    reason = only_rejection(load(path))
    assert str(path) in reason and ".pdf" in reason


def test_parse_date_formats() -> None:
    assert parse_date("2024-03-14") == dt.date(2024, 3, 14)
    assert parse_date("2024-03-14T23:59:00Z") == dt.date(2024, 3, 14)
    assert parse_date("2022/06/12") == dt.date(2022, 6, 12)
    assert parse_date("March 14, 2024") == dt.date(2024, 3, 14)
    assert parse_date("") is None and parse_date(None) is None
    with pytest.raises(RejectedInput, match="not a date"):
        parse_date("someday", "x")


# -- URLs and feeds (local server) ---------------------------------------------------------------

def test_url_html_article(http_server) -> None:
    url = http_server.serve("/news/bridge-reopens", article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS))
    article = only_article(load(url))
    assert article.url == url
    assert article.title == "Harbour Bridge Reopens After Repairs"
    assert article.source == "Coastal Gazette"
    assert article.published == dt.date(2024, 3, 14)
    assert PARAGRAPHS[2] in article.text
    assert article.id.startswith("bridge-reopens-")
    assert only_article(load(url)).id == article.id


def test_url_plain_text_and_json(http_server) -> None:
    text_url = http_server.serve("/story.txt", "Head\r\n\r\n" + BODY, "text/plain; charset=utf-8")
    article = only_article(load(text_url))
    assert (article.title, article.text) == ("Head", BODY)
    json_url = http_server.serve("/api/a", json.dumps(article_record("chess", id="srv-1")), "application/json")
    assert only_article(load(json_url)).id == "srv-1"


def test_url_http_error_and_unreachable(http_server) -> None:
    missing = http_server.url("/missing")
    reason = only_rejection(load(missing))
    assert missing in reason and "404" in reason
    reason = only_rejection(load("http://127.0.0.1:1/"))
    assert "http://127.0.0.1:1/" in reason and "unreachable" in reason


def test_url_over_size_limit(http_server) -> None:
    url = http_server.serve("/big", article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS))
    reason = only_rejection(load(url, factory=ArticleFactory(max_bytes=100)))
    assert url in reason and "size limit" in reason


def _rss(items: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Valley Times</title><link>http://127.0.0.1/</link><description>d</description>"
            + "".join(items) + "</channel></rss>")


def test_rss_feed_follows_links_and_falls_back_to_content(http_server) -> None:
    page = http_server.serve("/p/bridge", article_html("Harbour Bridge Reopens After Repairs", PARAGRAPHS))
    dead = http_server.url("/p/gone")
    feed = http_server.serve("/feed.xml", _rss([
        f"<item><title>Harbour Bridge Reopens After Repairs</title><link>{page}</link>"
        "<pubDate>Thu, 14 Mar 2024 09:00:00 GMT</pubDate></item>",
        f"<item><title>Orchards hit by frost</title><link>{dead}</link>"
        "<pubDate>Fri, 15 Mar 2024 09:00:00 GMT</pubDate>"
        "<description>&lt;p&gt;A late frost damaged apple orchards across the valley.&lt;/p&gt;</description></item>",
        "<item><title>Nothing here</title></item>",
    ]), "application/rss+xml")
    results = load(feeds=[feed])
    assert len(results) == 3
    first, second, third = results
    assert first.article and first.article.url == page and PARAGRAPHS[0] in first.article.text
    assert second.article, second.reason
    assert second.article.text == "A late frost damaged apple orchards across the valley."
    assert second.article.title == "Orchards hit by frost"
    assert second.article.published == dt.date(2024, 3, 15)
    assert second.article.source == "Valley Times"
    assert third.article is None and "#entry3" in third.reason


def test_atom_feed(http_server) -> None:
    page = http_server.serve("/a/chess", article_html("Teenager Wins National Chess Title", [
        "A sixteen-year-old from Dunmore won the national chess championship on Sunday, "
        "defeating the defending champion in a six-hour final game."], site="Board Weekly"))
    feed = http_server.serve("/atom.xml", (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Board Weekly</title><id>urn:x</id><updated>2024-03-17T00:00:00Z</updated>"
        f'<entry><title>Teenager Wins</title><id>urn:1</id><link href="{page}"/>'
        "<updated>2024-03-17T00:00:00Z</updated></entry></feed>"), "application/atom+xml")
    article = only_article(load(feeds=[feed]))
    assert article.url == page and "Dunmore" in article.text


def test_feed_unreachable_or_not_a_feed(http_server) -> None:
    reason = only_rejection(load(feeds=["http://127.0.0.1:1/feed"]))
    assert "unreachable" in reason
    not_feed = http_server.serve("/plain", "just text, no feed", "text/plain")
    reason = only_rejection(load(feeds=[not_feed]))
    assert not_feed in reason and "feed" in reason


def test_load_bytes_dispatches_by_suffix_then_content_type() -> None:
    from corpus.loaders import load_bytes

    factory = ArticleFactory()
    record = b'{"id": "r1", "title": "Dam", "text": "The dam holds 38 million cubic metres."}\n'
    by_suffix = list(load_bytes(record, "upload:a.jsonl", factory, suffix=".JSONL"))
    by_type = list(load_bytes(record, "request body", factory, content_type="application/x-ndjson; charset=utf-8"))
    assert [r.article.id for r in by_suffix] == [r.article.id for r in by_type] == ["r1"]
    text = list(load_bytes(b"Dam opens\n\nThe dam opened on Tuesday.", "upload:n", factory, content_type="text/plain"))
    assert text[0].article.title == "Dam opens" and text[0].article.text == "The dam opened on Tuesday."
    unknown = list(load_bytes(b"%PDF-1.4", "upload:x.pdf", factory, suffix=".pdf"))
    assert unknown[0].article is None and unknown[0].reason.startswith("upload:x.pdf: unsupported file type '.pdf'")
