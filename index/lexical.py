"""The lexical index: BM25 over chunk texts in tantivy, derived from the article store.

Why tantivy (https://github.com/quickwit-oss/tantivy-py, the official Python bindings of
the Rust engine): its top-k BM25 skips most postings of common terms with block-max WAND
(Ding & Suel, SIGIR 2011), so an OR-query keeps **every** content word of the question at
a million chunks and still answers in milliseconds, where SQLite FTS5 scores every chunk
matching any term (~650 ms p50 at 1M chunks, docs/benchmarks.md). Segment-based commits
make incremental adds cheap.

Analysis is ours and is the FTS5 path's (``porter unicode61 remove_diacritics``, bm25s's
English stop words): text is split on Unicode letters and digits, lower-cased, stripped
of diacritics, stop words and one-letter words are dropped, and each word is reduced by
the Porter stemmer (PyStemmer, the stemmer FTS5's ``porter`` tokenizer implements). The
stems are indexed space-separated with tantivy's ``whitespace`` tokenizer, and queries
are built from the same function, so index and query can never analyse differently.
Scoring is tantivy's BM25 (k1 = 1.2, b = 0.75, Lucene's IDF), the FTS5 defaults.

Consistency model: SQLite is the source of truth; this index is derived data like the
FAISS snapshot. Each tantivy commit carries one *state* document
``{"archive_id", "generation", "chunks"}`` written in the same commit as the chunk
documents, so the index always says which store generation it reflects.
:class:`index.archive.Archive` replays later generations from SQLite (idempotently:
chunks are deleted by id before they are added) and rebuilds the index when it is
missing, unreadable, from another archive, or holds another number of chunks.
Writes happen only under the archive's ``write.lock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import shutil
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from index.base import ArchiveError, SearchFilters

log = logging.getLogger(__name__)

LEXICAL_DIR = "lexical-tantivy"
# Index layout version: bump when the schema or the analysis changes, so that an index
# built by another Byline is rebuilt instead of being searched with other stems.
LAYOUT_VERSION = 1
# tantivy's indexing memory budget (bytes, shared by its threads; its minimum is 15 MB
# per thread). 200 MB keeps a 1M-chunk rebuild to a handful of segments.
WRITER_HEAP_BYTES = 200_000_000

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STATE_KIND = "state"


def _stopwords() -> frozenset[str]:
    try:
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)
    except ImportError:  # pragma: no cover - bm25s is a dependency
        return frozenset({"the", "a", "an", "of", "to", "in", "and", "or", "is", "was", "who", "what"})


STOPWORDS = _stopwords()


def _fold(text: str) -> str:
    """Lower-case and strip diacritics (FTS5 unicode61 ``remove_diacritics``)."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def query_terms(text: str) -> list[str]:
    """The content words of ``text``, lower-cased, diacritics removed, in order, once each
    (stop words and one-letter words other than digits dropped). Not stemmed."""
    terms: list[str] = []
    seen: set[str] = set()
    for token in _WORD.findall(_fold(text)):
        if token in STOPWORDS or token in seen or (len(token) == 1 and not token.isdigit()):
            continue
        seen.add(token)
        terms.append(token)
    return terms


class _Stemmer:
    """Porter stems with a cache (news repeats its words; the cache makes a 1M-chunk
    rebuild's analysis mostly dictionary lookups)."""

    def __init__(self) -> None:
        import Stemmer

        self._stemmer = Stemmer.Stemmer("porter")
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def stems(self, words: Sequence[str]) -> list[str]:
        cache = self._cache
        missing = [w for w in words if w not in cache]
        if missing:
            with self._lock:
                if len(cache) > 2_000_000:
                    cache.clear()
                for word, stem in zip(missing, self._stemmer.stemWords(missing)):
                    cache[word] = stem
        return [cache[w] for w in words]


_STEMMER: _Stemmer | None = None


def _stemmer() -> _Stemmer:
    global _STEMMER
    if _STEMMER is None:
        _STEMMER = _Stemmer()
    return _STEMMER


def analyze(text: str) -> list[str]:
    """The stems tantivy indexes for ``text`` (every content word, repeats kept, in order)."""
    words = [w for w in _WORD.findall(_fold(text))
             if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return _stemmer().stems(words)


def query_stems(text: str) -> list[str]:
    """The distinct stems of the content words of a query (what :func:`analyze` indexes)."""
    return list(dict.fromkeys(_stemmer().stems(query_terms(text))))


def is_panic(exc: BaseException) -> bool:
    """True for a Rust panic raised through pyo3 (``pyo3_runtime.PanicException``, a
    BaseException): tantivy panics on some damaged files instead of returning an error."""
    return type(exc).__name__ == "PanicException"


@dataclass(frozen=True)
class LexicalRow:
    """One chunk as the lexical index holds it: ``published`` as days since 1970-01-01
    (None: undated), ``source`` lower-cased for the case-insensitive outlet filter."""

    chunk_id: int
    text: str
    source: str
    published: dt.date | None


@dataclass(frozen=True)
class LexicalState:
    """What a commit of the lexical index reflects: the archive it belongs to, the store
    generation and the number of chunk documents."""

    archive_id: str
    generation: int
    chunks: int
    layout: int = LAYOUT_VERSION


_EPOCH = dt.date(1970, 1, 1)


def _schema():  # a tantivy.Schema
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("chunk_id", stored=False, indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("source", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("published", stored=False, indexed=True, fast=True)
    builder.add_text_field("kind", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("state", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


class TantivyIndex:
    """A tantivy index in ``path`` holding one document per chunk plus the state document.

    Construct with :meth:`open` (raises :class:`ArchiveError` when the folder holds no
    readable index) or :meth:`create` (replaces whatever is there). Searching is
    thread-safe; :meth:`reload` makes later searches see the newest commit. Writes
    (:meth:`apply`) must be made under the archive's write lock.
    """

    def __init__(self, path: Path, index, schema) -> None:  # tantivy objects
        self.path = path
        self._index = index
        self._schema = schema
        self._searcher = index.searcher()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> "TantivyIndex":
        """Open the index in ``path``; :class:`ArchiveError` if missing or unreadable."""
        import tantivy

        if not (path / "meta.json").exists():
            raise ArchiveError(f"no lexical index in {path}")
        schema = _schema()
        try:
            index = tantivy.Index.open(str(path))
            searcher = index.searcher()
            searcher.num_docs  # noqa: B018 - touch the segments: damaged files fail here
        except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild"
            raise ArchiveError(f"lexical index in {path} cannot be read: {exc}") from None
        except BaseException as exc:  # a Rust panic on damaged files (pyo3 PanicException)
            if not is_panic(exc):
                raise
            raise ArchiveError(f"lexical index in {path} is damaged: {exc}") from None
        return cls(path, index, schema)

    @classmethod
    def create(cls, path: Path) -> "TantivyIndex":
        """An empty index in ``path`` (anything there before is deleted).

        The old folder is first renamed aside (atomic), then deleted: a tantivy writer of
        another ``TantivyIndex`` on the same folder (another archive object or process
        that has not closed yet) may still write merged segments into it, and deleting it
        in place then fails with "Directory not empty" (seen in CI). What cannot be deleted
        now is deleted by the next ``create``."""
        import tantivy

        for stale in path.parent.glob(f".{path.name}.old-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if path.exists():
            aside = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:12]}")
            path.rename(aside)
            shutil.rmtree(aside, ignore_errors=True)
            if aside.exists():
                log.info("lexical index: %s could not be deleted yet; the next rebuild deletes it", aside)
        path.mkdir(parents=True)
        schema = _schema()
        return cls(path, tantivy.Index(schema, path=str(path), reuse=False), schema)

    # -- reading ----------------------------------------------------------------------------
    def reload(self) -> None:
        """See the newest commit (cheap when nothing changed)."""
        with self._lock:
            self._index.reload()
            self._searcher = self._index.searcher()

    def state(self) -> LexicalState | None:
        """The state document of the current commit, or None (an index without one was not
        written by Byline, or its first commit never finished)."""
        import tantivy

        searcher = self._searcher
        hits = searcher.search(tantivy.Query.term_query(self._schema, "kind", _STATE_KIND), 2, count=False).hits
        if len(hits) != 1:
            return None
        try:
            raw = json.loads(searcher.doc(hits[0][1])["state"][0])
            return LexicalState(str(raw["archive_id"]), int(raw["generation"]), int(raw["chunks"]),
                                int(raw.get("layout", 0)))
        except (KeyError, ValueError, TypeError, IndexError):
            return None

    def num_chunks(self) -> int:
        """Chunk documents in the current commit (the state document not counted)."""
        return max(0, int(self._searcher.num_docs) - 1)

    def count_ids(self, chunk_ids: Sequence[int]) -> int:
        """How many of ``chunk_ids`` the current commit holds (for consistency checks)."""
        import tantivy

        ids = [int(c) for c in chunk_ids]
        if not ids:
            return 0
        result = self._searcher.search(tantivy.Query.term_set_query(self._schema, "chunk_id", ids), 1, count=True)
        return int(result.count)

    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` for the content words of ``query`` (every one of
        them, OR-ed), best first; ``[]`` when the query has no content word. ``filters``
        (outlet, date range) are applied inside the index."""
        import tantivy

        stems = query_stems(query)
        if not stems or k <= 0:
            return []
        schema = self._schema
        terms = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", s)) for s in stems]
        query_obj = tantivy.Query.boolean_query(terms)
        if filters is not None and filters.active:
            clauses = [(tantivy.Occur.Must, query_obj)]
            if filters.source:
                clauses.append((tantivy.Occur.Must,
                                tantivy.Query.term_query(schema, "source", filters.source.lower())))
            if filters.since or filters.until:
                low = (filters.since - _EPOCH).days if filters.since else -10**9
                high = (filters.until - _EPOCH).days if filters.until else 10**9
                clauses.append((tantivy.Occur.Must, tantivy.Query.range_query(
                    schema, "published", tantivy.FieldType.Integer, low, high)))
            query_obj = tantivy.Query.boolean_query(clauses)
        searcher = self._searcher
        # count=False lets tantivy prune with block-max WAND (counting visits every match).
        hits = searcher.search(query_obj, k, count=False).hits
        if not hits:
            return []
        ids = searcher.fast_field_values("chunk_id", [address for _, address in hits])
        return [(int(cid), float(score)) for (score, _), cid in zip(hits, ids) if cid is not None]

    def exhaustive_search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The same BM25 top ``k`` without pruning (every matching chunk is scored): the
        reference that ``bench/lexical_scale.py`` compares :meth:`search` against."""
        import tantivy

        stems = query_stems(query)
        if not stems:
            return []
        query_obj = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "text", s)) for s in stems])
        hits = self._searcher.search(query_obj, k, count=True).hits
        ids = self._searcher.fast_field_values("chunk_id", [a for _, a in hits])
        return [(int(cid), float(score)) for (score, _), cid in zip(hits, ids) if cid is not None]

    # -- writing (under the archive's write lock) ---------------------------------------------
    def apply(self, *, removed: Iterable[int], added: Iterable[LexicalRow], state: LexicalState,
              clear: bool = False) -> None:
        """Delete ``removed`` chunk ids, (re)add ``added`` rows and record ``state``, all in
        one tantivy commit, then wait for segment merges so that a short-lived process
        leaves a compact index. Without ``clear``, ``added`` must be a sequence: its ids are
        deleted before it is added (a tantivy delete applies only to documents added
        before it), so a replay is idempotent and a reused SQLite rowid never leaves the
        old chunk behind. ``clear`` deletes every document first (a rebuild; ``added`` may
        then be a lazy iterable)."""
        import tantivy

        schema = self._schema
        writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=2)
        try:
            # A process killed inside a commit leaves files that no commit references, named
            # by the opstamp this commit will reuse (``<segment>.<opstamp>.del``); tantivy
            # deletes such files only after a *successful* commit, so without this the
            # commit fails with FileAlreadyExists (seen in the SIGKILL ingest trials).
            writer.garbage_collect_files()
            if clear:
                writer.delete_all_documents()
            else:
                added = list(added)
                doomed = [*map(int, removed), *(row.chunk_id for row in added)]
                for start in range(0, len(doomed), 10_000):
                    writer.delete_documents_by_query(
                        tantivy.Query.term_set_query(schema, "chunk_id", doomed[start:start + 10_000]))
            writer.delete_documents_by_query(tantivy.Query.term_query(schema, "kind", _STATE_KIND))
            for row in added:
                writer.add_document(_document(row))
            doc = tantivy.Document()
            doc.add_text("kind", _STATE_KIND)
            doc.add_text("state", json.dumps({"archive_id": state.archive_id, "generation": state.generation,
                                              "chunks": state.chunks, "layout": state.layout}))
            writer.add_document(doc)
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise
        self.reload()


def _document(row: LexicalRow):  # a tantivy.Document
    import tantivy

    doc = tantivy.Document()
    doc.add_unsigned("chunk_id", row.chunk_id)
    doc.add_text("text", " ".join(analyze(row.text)))
    doc.add_text("source", (row.source or "").lower())
    if row.published is not None:
        doc.add_integer("published", (row.published - _EPOCH).days)
    return doc
