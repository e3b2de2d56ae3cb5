"""``.txt`` / ``.md`` articles: the headline on line 1, a blank line, then the body."""

from __future__ import annotations

from corpus.article import Article
from corpus.loaders.base import (ArticleFactory, LoadResult, RejectedInput, _given_id, _result, _split_headline,
                                 decode_text, has_visible_text, normalise_newlines)

__all__ = ["load_text"]


def load_text(data: bytes, where: str, factory: ArticleFactory, *, id_origin: str | None,
              id_hint: str = "") -> LoadResult:
    """A ``.txt``/``.md`` article: headline on line 1, a blank line, then the body.

    A file holding only a headline (one line of text) is rejected: it has no body."""
    def build() -> Article:
        text = normalise_newlines(decode_text(data, where))
        title, body = _split_headline(text)
        visible_lines = [line for line in text.split("\n") if has_visible_text(line)]
        if len(visible_lines) == 1 and not factory.overrides.title:
            hidden = " (the rest holds only invisible characters)" if body.strip() and body != title else ""
            raise RejectedInput(f"{where}: headline only, no article body{hidden} (line 1 is the headline, "
                                "then a blank line, then the body)")
        return factory.build(where, article_id=None, title=title, text=body,
                             id_origin=id_origin, id_hint=id_hint or title[:40])
    return _result(where, build, _given_id(factory))

