"""Small records and the interface every index backend offers.

The default backend (:class:`index.archive.Archive`) keeps article and chunk records in
SQLite, chunk vectors in FAISS and the lexical index in SQLite FTS5. A second backend
(e.g. a vector database) implements :class:`IndexBackend` and nothing in ``retrieval/``
or ``app.py`` changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Literal, Protocol, Sequence

from corpus.article import Article

if TYPE_CHECKING:  # pragma: no cover - numpy only in annotations (a command through the server
    import numpy as np  # imports this module and must stay light)

AddStatus = Literal["added", "unchanged", "updated", "rejected"]


class ArchiveError(RuntimeError):
    """The index cannot be used as it is; the message says what to run."""


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval to an outlet (exact, case-insensitive) and/or a publication
    date range (inclusive). Articles without a date never pass a date filter."""

    source: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"filter since ({self.since}) is after until ({self.until})")

    @classmethod
    def from_mapping(cls, values: dict[str, object] | None) -> "SearchFilters":
        """Filters from a JSON object ``{"source", "since", "until"}`` (dates as
        YYYY-MM-DD). Raises ``ValueError`` naming the field."""
        values = values or {}
        unknown = set(values) - {"source", "since", "until"}
        if unknown:
            raise ValueError(f"filters: unknown field(s) {', '.join(sorted(unknown))} (source, since, until)")
        dates: dict[str, dt.date | None] = {}
        for name in ("since", "until"):
            raw = values.get(name)
            if raw in (None, ""):
                dates[name] = None
                continue
            try:
                dates[name] = dt.date.fromisoformat(str(raw))
            except ValueError:
                raise ValueError(f"filters.{name}: not a date: {raw!r} (use YYYY-MM-DD)") from None
        source = values.get("source")
        if source is not None and not isinstance(source, str):
            raise ValueError("filters.source: must be a string")
        return cls(source=source or None, since=dates["since"], until=dates["until"])

    @property
    def active(self) -> bool:
        """True when any filter is set."""
        return bool(self.source or self.since or self.until)


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk: ``article.text[start:end] == text``."""

    chunk_id: int
    article_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ArticleSummary:
    """An article's metadata without its text, for listings."""

    id: str
    title: str
    url: str
    published: dt.date | None
    source: str
    chunks: int
    chars: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return {"id": self.id, "title": self.title, "url": self.url,
                "published": self.published.isoformat() if self.published else None,
                "source": self.source, "chunks": self.chunks, "chars": self.chars}


@dataclass(frozen=True)
class AddResult:
    """What happened to one input of ``add``."""

    where: str
    article_id: str | None
    status: AddStatus
    chunks: int = 0
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The ``byline add --json`` record."""
        return {"source": self.where, "article_id": self.article_id, "status": self.status,
                "chunks": self.chunks, "reason": self.reason}


@dataclass
class Stats:
    """Counts and identity of an index."""

    articles: int
    chunks: int
    dense_vectors: int
    lexical_rows: int
    generation: int
    embedder: str
    dimension: int
    faiss_type: str
    data_dir: str
    disk_bytes: int
    sources: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return dict(self.__dict__)


class IndexBackend(Protocol):
    """What retrieval and the app need of an index. Scores: higher is better."""

    def add(self, articles: Iterable[Article]) -> list[AddResult]: ...  # pragma: no cover
    def remove(self, article_ids: Sequence[str]) -> list[str]: ...  # pragma: no cover
    def get(self, article_id: str) -> Article | None: ...  # pragma: no cover
    def list_articles(self) -> list[ArticleSummary]: ...  # pragma: no cover
    def summaries(self, article_ids: Sequence[str]) -> list[ArticleSummary]: ...  # pragma: no cover
    def texts(self, article_ids: Iterable[str]) -> dict[str, str]: ...  # pragma: no cover
    def dense_search(self, vector: np.ndarray, k: int,
                     filters: SearchFilters | None = None) -> list[tuple[int, float]]: ...  # pragma: no cover
    def lexical_search(self, query: str, k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]: ...  # pragma: no cover
    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]: ...  # pragma: no cover
    def count(self) -> int: ...  # pragma: no cover
    def verify(self) -> list[str]: ...  # pragma: no cover
    def index_health(self) -> dict[str, object]: ...  # pragma: no cover
    def refresh(self) -> bool: ...  # pragma: no cover
