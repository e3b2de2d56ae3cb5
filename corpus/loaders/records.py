"""JSON and JSON Lines records (``id, title, text, url, published, source``)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from corpus.article import Article
from corpus.loaders.base import (ArticleFactory, LoadResult, RejectedInput, _given_id, _result, decode_text,
                                 normalise_newlines)

__all__ = ["article_from_record", "load_json"]


def article_from_record(record: Any, where: str, factory: ArticleFactory) -> Article:
    """An article from a JSON object with ``id, title, text, url, published|publish_date,
    source`` (the format of ``articles.jsonl``). Raises :class:`RejectedInput`."""
    if not isinstance(record, dict):
        raise RejectedInput(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "text" not in record:
        raise RejectedInput(f"{where}: missing field 'text'")
    published = record.get("published") or record.get("publish_date")
    url = record.get("url") or ""
    title = record.get("title") or ""
    return factory.build(where, article_id=record.get("id"), title=title,
                         text=record["text"], url=url, published=published,
                         source=record.get("source") or "",
                         id_origin=url if isinstance(url, str) and url else None,
                         id_hint=title[:40] if isinstance(title, str) else "")


def _parse(text: str, label: str, whole_file: bool) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, reason)`` naming ``label`` and where the JSON error
    is (the line within a whole file; the column within a JSON Lines line)."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        at = f"line {exc.lineno}, column {exc.colno}" if whole_file else f"column {exc.colno}"
        return None, f"{label}: malformed JSON: {exc.msg} ({at})"
    except RecursionError:
        return None, f"{label}: malformed JSON: nested too deeply"


def _record_result(record: Any, label: str, factory: ArticleFactory) -> LoadResult:
    return _result(label, lambda: article_from_record(record, label, factory), _given_id(factory, record))


def load_json(data: bytes, where: str, factory: ArticleFactory, *, lines: bool) -> Iterator[LoadResult]:
    """JSON (one object or a list) or JSON Lines (one object per line; blank lines skipped).

    A malformed line is rejected with its line number; the valid lines still load.
    """
    try:
        text = normalise_newlines(decode_text(data, where))
    except RejectedInput as exc:
        yield LoadResult(where, reason=str(exc))
        return
    if not lines:
        parsed, reason = _parse(text, where, whole_file=True)
        if reason is not None:
            yield LoadResult(where, reason=reason)
            return
        records = parsed if isinstance(parsed, list) else [parsed]
        if not records:
            yield LoadResult(where, reason=f"{where}: empty JSON list, no article")
            return
        for i, record in enumerate(records):
            yield _record_result(record, where if len(records) == 1 else f"{where}[{i}]", factory)
        return
    if not text.strip():
        yield LoadResult(where, reason=f"{where}: empty file, no JSON lines")
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        label = f"{where}:{number}"
        record, reason = _parse(line, label, whole_file=False)
        yield LoadResult(label, reason=reason) if reason is not None else _record_result(record, label, factory)
