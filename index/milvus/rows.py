"""Rows of the Milvus collections and back: deterministic chunk ids, an article's text cut
into VARCHAR-sized parts, the chunk, part and head rows of one article version, and
articles and summaries read from head rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from corpus.article import Article
from index.base import ArticleSummary
from index.milvus.schema import DUMMY_DIM, VARCHAR_MAX

# Text is split into parts of at most this many UTF-8 bytes (a margin below VARCHAR_MAX).
PART_BYTES = 60_000
HEAD_FIELDS = ["article_id", "content_hash", "title", "url", "source", "published", "chunk_count",
               "chars", "parts", "added_at"]


def chunk_id(article_id: str, content_hash: str, index: int) -> int:
    """The deterministic 63-bit id of chunk ``index`` of one version of an article."""
    digest = hashlib.blake2b(f"{article_id}\x00{content_hash}\x00{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def split_parts(text: str, limit: int | None = None) -> list[str]:
    """``text`` cut into ordered pieces of at most ``limit`` (default :data:`PART_BYTES`)
    UTF-8 bytes; joined, they are ``text``."""
    limit = limit or PART_BYTES
    if len(text.encode("utf-8")) <= limit:
        return [text]
    parts: list[str] = []
    start = 0
    while start < len(text):
        # At most `limit` characters, then shrink until the bytes fit (4 bytes per char at most).
        end = min(len(text), start + limit)
        while len(text[start:end].encode("utf-8")) > limit:
            end = start + max(1, (end - start) * 3 // 4) if end - start > limit // 4 else end - 1
        parts.append(text[start:end])
        start = end
    return parts


def truncate_bytes(text: str, limit: int = VARCHAR_MAX) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (whole characters)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def ordinal(day: dt.date | None) -> int:
    """A date as its proleptic ordinal (0 = no date), as stored in ``published``."""
    return day.toordinal() if day else 0


def date(value: int | None) -> dt.date | None:
    """The date of a stored ``published`` ordinal (None for 0)."""
    return dt.date.fromordinal(int(value)) if value else None


def too_long_field(article: Article) -> str | None:
    """The first of title, url and source that does not fit a VARCHAR, or None."""
    for name in ("title", "url", "source"):
        if len(getattr(article, name).encode("utf-8")) > VARCHAR_MAX:
            return name
    return None


@dataclass
class VersionRows:
    """The rows of article versions to write: chunks, extra text parts and heads."""

    chunks: list[dict[str, Any]] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    heads: list[dict[str, Any]] = field(default_factory=list)

    def add(self, article: Article, spans: Sequence[tuple[int, int, int]], vectors: np.ndarray,
            added_at: float, now: float) -> None:
        """Add the rows of one version: a chunk row per ``(index, start, end)`` span with its
        vector, a part row per text part after the first, and the head (the first part)."""
        source_key = article.source.lower()
        published = ordinal(article.published)
        for (index, start, end), vector in zip(spans, vectors):
            self.chunks.append({"id": chunk_id(article.id, article.content_hash, index), "article_id": article.id,
                                "content_hash": article.content_hash, "idx": int(index), "start_char": int(start),
                                "end_char": int(end), "text": truncate_bytes(article.text[start:end]),
                                "vector": np.asarray(vector, dtype=np.float32).tolist(),
                                "source_key": source_key, "published": published})
        parts = split_parts(article.text)
        common = {"article_id": article.id, "content_hash": article.content_hash, "parts": len(parts),
                  "title": article.title, "url": article.url, "source": article.source,
                  "source_key": source_key, "published": published, "chunk_count": len(spans),
                  "chars": len(article.text), "updated_at": now, "v": [0.0] * DUMMY_DIM}
        for number, part in enumerate(parts[1:], start=1):
            self.parts.append({**common, "key": f"p:{article.content_hash}:{number}:{article.id}",
                               "head": False, "part": number, "added_at": added_at, "text": part})
        self.heads.append({**common, "key": "a:" + article.id, "head": True, "part": 0,
                           "added_at": added_at, "text": parts[0]})


def article_of(head: dict[str, Any], text: str) -> Article:
    """The article of a head row and its whole text."""
    return Article(id=head["article_id"], title=head["title"], text=text, url=head["url"],
                   published=date(head["published"]), source=head["source"], content_hash=head["content_hash"])


def summary_of(row: dict[str, Any]) -> ArticleSummary:
    """The listing record of a head row."""
    return ArticleSummary(row["article_id"], row["title"], row["url"], date(row["published"]),
                          row["source"], int(row["chunk_count"]), int(row["chars"]))


def newest_first(summaries: list[ArticleSummary]) -> list[ArticleSummary]:
    """As SQLite's ``ORDER BY published DESC, id``: undated articles last."""
    return sorted(summaries, key=lambda s: (s.published is None,
                                            -(s.published.toordinal() if s.published else 0), s.id))
