"""Loading articles from HTML pages, ``http(s)://`` URLs and RSS/Atom feeds (trafilatura,
httpx, feedparser: imported on use). Like the rest of :mod:`corpus.loaders`, every loader yields or
returns :class:`~corpus.loaders.LoadResult` items and never raises for bad input.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator

from corpus.article import Article
from corpus.loaders.base import (ArticleFactory, LoadResult, Overrides, RejectedInput, _given_id, _result,
                                 decode_text, has_visible_text, normalise_newlines, parse_date)
from corpus.loaders.records import load_json
from corpus.loaders.text import load_text


def load_html(data: bytes, where: str, factory: ArticleFactory, *, url: str = "",
              id_origin: str | None = None, id_hint: str = "") -> LoadResult:
    """An HTML page: main text, title, date and outlet extracted with trafilatura."""
    def build() -> Article:
        import trafilatura

        html = decode_text(data, where)
        doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True,
                                          include_comments=False, favor_precision=True)
        if doc is None:
            raise RejectedInput(f"{where}: HTML with no article text")
        get = doc.get if isinstance(doc, dict) else (lambda k, d=None: getattr(doc, k, d))
        title = get("title") or ""
        text = _html_body_text(get("body"), title) or get("text") or ""
        if not has_visible_text(text):
            raise RejectedInput(f"{where}: HTML with no article text")
        return factory.build(where, article_id=None, title=title, text=text,
                             url=url or get("url") or "", published=_safe_date(get("date")),
                             source=get("sitename") or "", id_origin=id_origin,
                             id_hint=id_hint or title[:40])
    return _result(where, build, _given_id(factory))


def _html_body_text(body: Any, title: str) -> str:
    """The article text of trafilatura's extracted ``body`` element: one block (paragraph,
    heading, list, quote) per paragraph, separated by a blank line, without leading blocks
    that repeat the headline. Empty when there is no body element."""
    if body is None or not len(body):
        return ""
    from trafilatura.xml import xmltotxt

    blocks = []
    for child in body:
        block = normalise_newlines(xmltotxt(child, include_formatting=False) or "").strip()
        if has_visible_text(block):
            blocks.append(block)
    headline = " ".join(title.split()).casefold()
    while blocks and headline and " ".join(blocks[0].split()).casefold() == headline:
        blocks.pop(0)
    return "\n\n".join(blocks)


def _safe_date(value: Any) -> dt.date | None:
    try:
        return parse_date(value)
    except RejectedInput:
        return None


def fetch(url: str, *, timeout: float, max_bytes: int) -> tuple[bytes, str]:
    """GET ``url`` with httpx (redirects followed); returns ``(body, content_type)``.

    Raises :class:`RejectedInput` when the URL is unreachable, answers an error status or
    sends more than ``max_bytes``.
    """
    import httpx

    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True,
                          headers={"User-Agent": "Byline/0.1 (+article ingest)"}) as response:
            if response.status_code >= 400:
                raise RejectedInput(f"{url}: HTTP {response.status_code}")
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise RejectedInput(f"{url}: response over the size limit of {max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise RejectedInput(f"{url}: unreachable ({type(exc).__name__}: {exc})") from None


def load_url(url: str, factory: ArticleFactory, *, timeout: float) -> Iterator[LoadResult]:
    """An article page (HTML via trafilatura), or JSON/text served at ``url``."""
    try:
        data, content_type = fetch(url, timeout=timeout, max_bytes=factory.max_bytes)
    except RejectedInput as exc:
        yield LoadResult(url, reason=str(exc))
        return
    if "json" in content_type:
        yield from load_json(data, url, factory, lines="jsonl" in content_type or "ndjson" in content_type)
    elif content_type.startswith("text/plain"):
        yield load_text(data, url, factory, id_origin=url, id_hint=url_hint(url))
    else:
        yield load_html(data, url, factory, url=url, id_origin=url, id_hint=url_hint(url))


def url_hint(url: str) -> str:
    """The readable part of an id derived from ``url``: its last path segment."""
    path = re.sub(r"[?#].*$", "", url).rstrip("/")
    return path.rsplit("/", 1)[-1][:40]


def load_feed(feed_url: str, factory: ArticleFactory, *, timeout: float) -> Iterator[LoadResult]:
    """Every entry of an RSS/Atom feed (parsed with feedparser): the linked article page,
    or the entry's own content when the page cannot be fetched or has no text."""
    import feedparser

    try:
        data, _ = fetch(feed_url, timeout=timeout, max_bytes=factory.max_bytes)
    except RejectedInput as exc:
        yield LoadResult(feed_url, reason=str(exc))
        return
    feed = feedparser.parse(data)
    if not feed.entries:
        reason = f"{feed_url}: not an RSS/Atom feed or no entries"
        if getattr(feed, "bozo", False):
            reason += f" ({feed.get('bozo_exception')})"
        yield LoadResult(feed_url, reason=reason)
        return
    outlet = feed.feed.get("title", "")
    entry_factory = ArticleFactory(Overrides(source=factory.overrides.source or outlet or None,
                                             title=factory.overrides.title,
                                             published=factory.overrides.published),
                                   factory.max_bytes)
    for number, entry in enumerate(feed.entries, start=1):
        link = entry.get("link", "")
        where = f"{feed_url}#entry{number}"
        published = entry.get("published") or entry.get("updated")
        result = None
        if link:
            page = list(load_url(link, entry_factory, timeout=timeout))
            result = page[0] if page else None
            if result and result.article and published and result.article.published is None:
                art = result.article
                result = LoadResult(result.where, article=Article(
                    id=art.id, title=art.title or entry.get("title", ""), text=art.text, url=art.url,
                    published=_feed_date(entry), source=art.source))
        if result is None or result.article is None:
            content = ""
            if entry.get("content"):
                content = entry["content"][0].get("value", "")
            content = content or entry.get("summary", "")
            if content.strip():
                text = _html_to_text(content)
                result = _result(where, lambda t=text, e=entry, w=where, u=link: entry_factory.build(
                    w, article_id=None, title=e.get("title", ""), text=t, url=u,
                    published=_feed_date(e), source=outlet, id_origin=u or e.get("id") or None,
                    id_hint=url_hint(u) if u else ""))
            elif result is None:
                result = LoadResult(where, reason=f"{where}: entry has no link and no content")
        yield result


def _feed_date(entry: Any) -> dt.date | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed:
        return dt.date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def _html_to_text(fragment: str) -> str:
    if "<" not in fragment:
        return fragment
    from lxml import etree
    from lxml import html as lxml_html

    try:
        return lxml_html.fromstring(fragment).text_content()
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):  # broken or empty fragments
        return re.sub(r"<[^>]+>", " ", fragment)
