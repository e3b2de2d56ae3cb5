"""Small records and the interface every index backend offers.

The default backend (:class:`index.archive.Archive`) keeps article and chunk records in
SQLite, chunk vectors in FAISS and the lexical index in SQLite FTS5. A second backend
(e.g. a vector database) implements :class:`IndexBackend` and nothing in ``retrieval/``
or ``app.py`` changes.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Protocol, Sequence

from corpus.article import Article

if TYPE_CHECKING:  # pragma: no cover - only in annotations (a command through the server
    import numpy as np  # imports this module and must stay light)

    from config.settings import Settings
    from corpus.chunking import Chunker
    from corpus.loaders import LoadResult
    from index.embedder import Embedder

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
    claims: int = 0  # attributed claims stored

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict."""
        return dict(self.__dict__)


class IndexBackend(Protocol):
    """What retrieval, the CLI and the app need of an index (scores: higher is better).

    :class:`index.archive.Archive` (SQLite + FAISS + a lexical index) and
    :class:`index.milvus.MilvusArchive` implement it; :func:`index.factory.open_backend`
    opens the configured one. Writers hold :meth:`write_lock`; reads are thread-safe.
    """

    settings: Settings
    """The settings the backend was opened with."""
    data_dir: Path
    """Where the index lives on this machine (for Milvus Lite, its ``.db`` path)."""

    @property
    def embedder(self) -> Embedder:
        """The embedding model of chunks and queries (made from settings on first use)."""
        ...  # pragma: no cover

    @property
    def chunker(self) -> Chunker:
        """The chunker that cuts articles into embedded chunks."""
        ...  # pragma: no cover

    @property
    def claims_index(self) -> Any:
        """The attributed claims stored with the articles, as :mod:`retrieval.claims` and
        :mod:`retrieval.claim_answers` read them: :class:`index.claims_store.SQLiteClaims`
        or :class:`index.milvus.claims.MilvusClaims` (``ready()``, ``candidates(filters)``,
        ``bm25(query, limit)``, ``with_siblings(id)``, ``with_articles(ids)``,
        ``of_articles(article_ids)``)."""
        ...  # pragma: no cover

    # -- writing ---------------------------------------------------------------------------
    def add(self, articles: Iterable[Article | LoadResult], *, progress: bool = False,
            on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
        """Add articles or loader results: one :class:`AddResult` per input, in input order
        (``added``, ``unchanged``, ``updated`` or ``rejected`` with a reason); each article
        is committed wholly or not at all. ``progress``: a progress bar on stderr;
        ``on_result`` sees each result as it is committed."""
        ...  # pragma: no cover

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles; returns the ids that were present."""
        ...  # pragma: no cover

    def rebuild(self, *, progress: bool = False) -> int:
        """Re-chunk and re-embed every article with the configured model (also repairs
        derived indexes and leftovers). Returns the number of chunks."""
        ...  # pragma: no cover

    def write_lock(self, wait_message: Callable[[], None] | None = None) -> AbstractContextManager[None]:
        """``with backend.write_lock():`` this writer alone changes the index;
        ``wait_message`` is called once if another writer has to finish first."""
        ...  # pragma: no cover

    def close(self) -> None:
        """Release this thread's connection (the backend reconnects when used again)."""
        ...  # pragma: no cover

    # -- articles --------------------------------------------------------------------------
    def get(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        ...  # pragma: no cover

    def list_articles(self) -> list[ArticleSummary]:
        """Every article's metadata, newest first (undated last)."""
        ...  # pragma: no cover

    def summaries(self, article_ids: Sequence[str]) -> list[ArticleSummary]:
        """Metadata of the stored ones among ``article_ids``, newest first."""
        ...  # pragma: no cover

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """``{article_id: text}`` for the stored ones among ``article_ids``."""
        ...  # pragma: no cover

    def sources(self) -> dict[str, int]:
        """``{outlet: article count}``, most articles first."""
        ...  # pragma: no cover

    # -- search ----------------------------------------------------------------------------
    def read_snapshot(self) -> AbstractContextManager[None]:
        """``with backend.read_snapshot():`` this thread's reads see one committed state
        (a no-op where readers check versions themselves)."""
        ...  # pragma: no cover

    def refresh(self) -> bool:
        """Catch up with changes committed by other processes; True if something changed."""
        ...  # pragma: no cover

    def count(self) -> int:
        """Number of chunks (0: nothing to search)."""
        ...  # pragma: no cover

    def dense_search(self, vector: np.ndarray, k: int,
                     filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, similarity)`` for a query embedding ``(dimension,)``."""
        ...  # pragma: no cover

    def lexical_search(self, query: str, k: int,
                       filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` for a text query ([] when it has no content word)."""
        ...  # pragma: no cover

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunk records by id (removed or uncommitted ones are absent)."""
        ...  # pragma: no cover

    # -- health ----------------------------------------------------------------------------
    def stats(self) -> Stats:
        """Counts, embedding model and disk use."""
        ...  # pragma: no cover

    def verify(self) -> list[str]:
        """Check that every part of the index agrees; returns the problems (empty: healthy)."""
        ...  # pragma: no cover

    def index_health(self) -> dict[str, object]:
        """``/healthz``'s index state without waiting for a lock: ``{"status": "ok" |
        "repaired" | "rebuilding" | "degraded", "lexical": ..., "repairs": [...]}``."""
        ...  # pragma: no cover
