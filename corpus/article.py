"""The :class:`Article`: the unit a user adds, removes and reads citations in."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,199}$")


def content_hash(title: str, text: str) -> str:
    """SHA-256 hex digest of an article's title and text (what decides ``unchanged``)."""
    digest = hashlib.sha256()
    digest.update(title.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def validate_article_id(article_id: str) -> str:
    """Return ``article_id`` if it is a usable id, else raise ``ValueError``.

    Ids are 1-200 characters of letters, digits and ``. _ : @ / + = -``, starting with a
    letter or digit, and never contain ``..`` (they appear in URLs of the HTTP API).
    """
    if not isinstance(article_id, str) or not _ID_OK.match(article_id) or ".." in article_id:
        raise ValueError(
            f"invalid article id {article_id!r}: use 1-200 letters, digits or . _ : @ / + = -"
        )
    return article_id


@dataclass(frozen=True)
class Article:
    """One news article as stored and shown to users.

    ``text`` is exactly what users see later: every chunk, passage and citation offset
    in Byline is a Python ``str`` index into it. ``published`` is a date (no time zone);
    ``source`` is the outlet's name. ``content_hash`` is computed from title and text.
    """

    id: str
    title: str
    text: str
    url: str = ""
    published: dt.date | None = None
    source: str = ""
    content_hash: str = field(default="")

    def __post_init__(self) -> None:
        validate_article_id(self.id)
        if not self.text.strip():
            raise ValueError(f"article {self.id!r} has no text")
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self.title, self.text))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict with ``id, title, text, url, published, source``."""
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "url": self.url,
            "published": self.published.isoformat() if self.published else None,
            "source": self.source,
        }
