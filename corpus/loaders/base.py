"""What every loader shares: the result type, the article factory (ids, dates, limits),
text decoding and the rejection error."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from corpus.article import Article, validate_article_id

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES


@dataclass(frozen=True)
class LoadResult:
    """One loaded article, or one rejected input with the reason.

    ``where`` names the input: a path, ``path:line`` for JSON Lines, a URL or ``<stdin>``.
    ``article_id`` is the id a rejected input was given (``--id``, a JSON ``id``), if any.
    """

    where: str
    article: Article | None = None
    reason: str | None = None
    article_id: str | None = None


@dataclass(frozen=True)
class Overrides:
    """Metadata given on the command line; ``id`` only applies to a single article."""

    id: str | None = None
    title: str | None = None
    source: str | None = None
    published: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class RejectedInput(ValueError):
    """Raised inside loaders for input that must be rejected; carries the reason."""


def normalise_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``; a leading byte-order mark is removed."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_binary(data: bytes) -> bool:
    """True for data that is not text: NUL bytes, or many control bytes in the first 8 KiB."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control / len(head) > 0.05


def decode_text(data: bytes, where: str) -> str:
    """Decode bytes as UTF-8 (with or without BOM), else cp1252, else Latin-1.

    cp1252 covers what Windows editors save (``©``, curly quotes); Latin-1 never fails.
    Raises :class:`RejectedInput` for binary data.
    """
    # UTF-16 (with BOM) is checked first: its NUL bytes would look binary.
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise RejectedInput(f"{where}: binary file, not text") from None
    if looks_binary(data):
        raise RejectedInput(f"{where}: binary file, not text")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RejectedInput(f"{where}: cannot decode text")  # pragma: no cover - latin-1 decodes all


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%Y%m%d")


def parse_date(value: Any, where: str = "published") -> dt.date | None:
    """Parse a publication date: ISO 8601 (date or datetime), ``YYYY/MM/DD`` or
    ``March 14, 2024``-style. ``None``/empty gives ``None``; anything else raises
    :class:`RejectedInput` naming ``where``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text[:40], fmt).date()
        except ValueError:
            continue
    match = re.match(r"^(\d{4})[-/](\d{2})[-/](\d{2})", text)
    if match:
        try:
            return dt.date(*map(int, match.groups()))
        except ValueError:
            pass
    raise RejectedInput(f"{where}: not a date: {text[:40]!r} (use YYYY-MM-DD)")


def _slug(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:limit].strip("-") or "article"


def derive_id(origin: str, hint: str = "") -> str:
    """A stable article id from an origin (absolute path, URL, or content hash):
    a readable slug of ``hint`` plus the first 10 hex digits of SHA-1 of ``origin``."""
    digest = hashlib.sha1(origin.encode("utf-8")).hexdigest()[:10]
    return f"{_slug(hint)}-{digest}" if hint else f"a-{digest}"


def _split_headline(text: str) -> tuple[str, str]:
    """Line 1 is the headline, then a blank line, then the body (Byline's .txt format)."""
    text = text.strip("\n")
    lines = text.split("\n", 1)
    if len(lines) == 2 and lines[1].startswith("\n") and lines[0].strip():
        title = lines[0].strip().lstrip("#").strip()
        return title, lines[1].strip()
    return "", text.strip()


class ArticleFactory:
    """Builds validated :class:`Article` objects and applies command-line overrides."""

    def __init__(self, overrides: Overrides | None = None, max_bytes: int = 5_000_000) -> None:
        self.overrides = overrides or Overrides()
        self.max_bytes = max_bytes

    def build(self, where: str, *, article_id: str | None, title: str, text: str, url: str = "",
              published: Any = None, source: str = "", id_origin: str | None = None,
              id_hint: str = "") -> Article:
        """Validate fields and return an Article; raises :class:`RejectedInput` naming the field."""
        if not isinstance(text, str):
            raise RejectedInput(f"{where}: field 'text' must be a string")
        text = normalise_newlines(text).strip()
        if not text:
            raise RejectedInput(f"{where}: empty article (field 'text' has no text)")
        if not has_visible_text(text):
            raise RejectedInput(f"{where}: empty article (field 'text' holds only invisible characters: "
                                "no-break or zero-width spaces, byte-order marks, control characters)")
        if not _encodable(text):
            # JSON "\ud800" escapes decode to lone surrogates, which are not text.
            raise RejectedInput(f"{where}: field 'text' holds invalid Unicode (a lone surrogate)")
        if len(text.encode("utf-8")) > self.max_bytes:
            raise RejectedInput(f"{where}: article text over the size limit of {self.max_bytes} bytes")
        if "\x00" in text:
            raise RejectedInput(f"{where}: field 'text' contains NUL characters (binary data?)")
        for name, value in (("title", title), ("url", url), ("source", source)):
            if value is not None and not isinstance(value, str):
                raise RejectedInput(f"{where}: field '{name}' must be a string")
        for name, value in (("title", title), ("url", url), ("source", source),
                            ("id", article_id if isinstance(article_id, str) else None)):
            if value and not _encodable(value):
                # JSON "\ud800" escapes decode to lone surrogates, which are not text.
                raise RejectedInput(f"{where}: field '{name}' holds invalid Unicode (a lone surrogate)")
        title = normalise_newlines(title or "").strip().replace("\n", " ")
        ov = self.overrides
        title = ov.title or title
        source = ov.source or (source or "").strip()
        published_date = ov.published or parse_date(published, f"{where}: field 'published'")
        chosen_id = ov.id or article_id
        if chosen_id is not None and not isinstance(chosen_id, str):
            chosen_id = str(chosen_id)
        if not chosen_id:
            chosen_id = derive_id(id_origin or hashlib.sha256(text.encode()).hexdigest(),
                                  id_hint or title[:40])
        try:
            validate_article_id(chosen_id)
        except ValueError as exc:
            raise RejectedInput(f"{where}: field 'id': {exc}") from None
        if not title:
            title = text.split("\n", 1)[0][:120]
        return Article(id=chosen_id, title=title, text=text, url=(url or "").strip(),
                       published=published_date, source=source)


def has_visible_text(text: str) -> bool:
    """True if ``text`` has a character that shows: not whitespace (no-break spaces
    included), not a format character (zero-width spaces and joiners, byte-order marks,
    direction marks) and not a control character."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp", "Co", "Cn")
               for ch in text)


def _given_id(factory: ArticleFactory, record: Any = None) -> str | None:
    """The id an input was given (``--id``, else a JSON record's ``id``) when it is a
    valid id, else None: kept on the rejected input's result."""
    given = factory.overrides.id or (record.get("id") if isinstance(record, dict) else None)
    if isinstance(given, int) and not isinstance(given, bool):
        given = str(given)
    try:
        return validate_article_id(given) if isinstance(given, str) else None
    except ValueError:
        return None


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _result(where: str, build: Any, given_id: str | None = None) -> LoadResult:
    try:
        return LoadResult(where, article=build())
    except RejectedInput as exc:
        return LoadResult(where, reason=str(exc), article_id=given_id)

