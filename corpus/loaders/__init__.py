"""Loading articles from files, folders, JSON Lines, stdin, URLs and RSS/Atom feeds.

Every loader yields :class:`LoadResult` items: an :class:`~corpus.article.Article`, or a
rejection whose ``reason`` names the file, line or field. Loaders never raise for bad
input; they raise only for programming errors.

Modules: :mod:`~corpus.loaders.base` (the result, the factory, decoding),
:mod:`~corpus.loaders.text` (``.txt``/``.md``), :mod:`~corpus.loaders.records` (JSON and
JSON Lines), :mod:`~corpus.loaders.web` (HTML pages, URLs, feeds: trafilatura, httpx
and feedparser are imported on use), :mod:`~corpus.loaders.sources` (files, folders,
uploads, stdin and URLs, dispatched by format).

The stored text is the article text as users will see it: newlines are normalised to
``\\n`` and a byte-order mark is dropped, but quotes, dashes and other characters are kept.
"""

from __future__ import annotations

from typing import Any

from corpus.loaders.base import (HTML_SUFFIXES, JSON_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES, ArticleFactory,
                                 LoadResult, Overrides, RejectedInput, decode_text, derive_id, has_visible_text,
                                 looks_binary, normalise_newlines, parse_date)
from corpus.loaders.records import article_from_record, load_json
from corpus.loaders.sources import load_bytes, load_inputs, load_path, load_stdin
from corpus.loaders.text import load_text

__all__ = [
    "HTML_SUFFIXES", "JSON_SUFFIXES", "SUPPORTED_SUFFIXES", "TEXT_SUFFIXES",
    "ArticleFactory", "LoadResult", "Overrides", "RejectedInput",
    "article_from_record", "decode_text", "derive_id", "has_visible_text", "load_bytes", "load_inputs",
    "load_json", "load_path", "load_stdin", "load_text", "looks_binary", "normalise_newlines", "parse_date",
]

_WEB = {"load_html", "fetch", "load_url", "url_hint", "load_feed"}


def __getattr__(name: str) -> Any:
    """HTML, URL and feed loaders live in :mod:`corpus.loaders.web` (imported on use:
    trafilatura, httpx and feedparser are not needed for files and JSON)."""
    if name in _WEB:
        from corpus.loaders import web

        return getattr(web, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
