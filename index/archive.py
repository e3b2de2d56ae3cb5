"""The default index backend: SQLite article store + FAISS dense index + FTS5 BM25.

Consistency model (see also :mod:`index.store` and :mod:`index.dense`):

- One writer at a time, by a file lock (filelock) on ``<data_dir>/write.lock``.
- Every add, update or removal commits in one SQLite transaction (articles, chunk offsets,
  vectors and lexical rows together), so a crash or ``kill -9`` leaves the previous or
  the new state: an article is wholly present or wholly absent.
- FAISS is derived from the stored vectors. It is loaded from the latest snapshot and
  brought up to date by replaying the chunks and tombstones of later generations, so
  readers (the web app) keep serving their state while a writer adds, and
  :meth:`Archive.refresh` picks up the new state without a restart or a full reload.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from config.settings import Settings
from corpus.article import Article
from corpus.chunking import Chunker
from corpus.loaders import LoadResult
from index.batching import add_in_batches
from index.claims_store import (SQLiteClaims, count_claims, delete_all_claims, ensure_claims_schema, insert_claims,
                                verify_claims)
from index.base import (AddResult, ArchiveError, ArticleSummary, ChunkRecord, SearchFilters,
                        Stats)
from index.dense import DenseIndex, choose_type
from index.dense_keeper import DenseKeeper
from index.embedder import Embedder
from index.lexical_keeper import LexicalKeeper
from index.shared import EmbeddingComponents, chunk_count
from index.store import SCHEMA_VERSION, ArticleStore
from index.store_checks import creation_interrupted, store_problems

log = logging.getLogger(__name__)

STORE_FILE = "byline.sqlite"
LOCK_FILE = "write.lock"


class Archive(EmbeddingComponents):
    """An archive of articles in one data directory, searchable densely and lexically.

    Construct with :meth:`open`. ``embedder`` is created from settings when not given and
    loads its model only when something needs embeddings. Methods are thread-safe for
    readers; writes take the inter-process write lock.
    """

    def __init__(self, settings: Settings, data_dir: Path, store: ArticleStore,
                 embedder: Embedder | None) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.store = store
        self._embedder = embedder
        self._chunker: Chunker | None = None
        self.dense_keeper = DenseKeeper(settings.index, data_dir, store, self._dimension, self.try_write_lock)
        self.lexical = (LexicalKeeper(data_dir, store, self.try_write_lock)
                        if settings.index.lexical == "tantivy" else None)

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, data_dir: Path | str | None = None,
             embedder: Embedder | None = None, create: bool = True,
             check_embedder: bool = True, migrate: bool = False) -> "Archive":
        """Open (and with ``create`` make) the archive in ``data_dir`` (default: settings).

        Raises :class:`ArchiveError` when the folder is missing (``create=False``), not
        writable for a new archive, of a newer schema, or built with another embedding
        model (unless ``check_embedder`` is False, as for ``rebuild``). An older schema is
        accepted with ``migrate`` (``rebuild`` rewrites everything and stamps the version).
        """
        path = Path(data_dir or settings.data_dir).expanduser()
        store_path = path / STORE_FILE
        if not store_path.exists():
            if not create:
                raise ArchiveError(f"no Byline index in {path} (add articles first: byline add ...)")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(f"cannot create data dir {path}: {exc.strerror}") from None
        store = ArticleStore(store_path, settings.index.fts_max_postings, settings.index.fts_min_terms)
        created = False
        if not store_path.exists() or creation_interrupted(store):
            # A crash (SIGKILL) while a new archive was being created leaves a file with
            # no schema stamp and no article; finishing the creation loses nothing.
            with cls._write_lock_for(path):
                store.create_schema()
            created = True
        meta = store.meta()
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise ArchiveError(
                f"{store_path} has schema version {version}, newer than this Byline ({SCHEMA_VERSION}): upgrade Byline")
        if version < SCHEMA_VERSION and not migrate:
            raise ArchiveError(
                f"{store_path} has old schema version {version}: run `byline rebuild` to migrate it")
        archive = cls(settings, path, store, embedder)
        if not store.read_only:  # an archive made before claims: add the (empty) tables
            ensure_claims_schema(store.connect())
        if created and archive.lexical is not None:
            with cls._write_lock_for(path):
                archive.lexical.create_empty()
        if check_embedder:
            archive.check_embedder_stamp(meta, f"the index in {path}")
        return archive

    def close(self) -> None:
        """Close this thread's SQLite connection (the archive reopens it when used again)."""
        self.store.close()

    @staticmethod
    def _write_lock_for(path: Path):
        from filelock import FileLock

        return FileLock(str(path / LOCK_FILE))

    @contextlib.contextmanager
    def write_lock(self, wait_message: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the inter-process write lock (waits for another writer to finish)."""
        from filelock import Timeout

        lock = self._write_lock_for(self.data_dir)
        try:
            lock.acquire(timeout=0.05)
        except Timeout:
            if wait_message:
                wait_message()
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def try_write_lock(self) -> contextlib.AbstractContextManager[None] | None:
        """The write lock if no other process or thread holds it (never waits), else None;
        None also for a read-only archive. For readers that repair derived indexes."""
        from filelock import Timeout

        if self.store.read_only:
            return None
        lock = self._write_lock_for(self.data_dir)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):
            return None

        @contextlib.contextmanager
        def held() -> Iterator[None]:
            try:
                yield
            finally:
                lock.release()

        return held()

    # -- components (embedder and chunker: index.shared.EmbeddingComponents) ---------------------
    def _dimension(self) -> int:
        meta = self.store.meta()
        if "dimension" in meta:
            return int(meta["dimension"])
        return self.embedder.dimension

    def dense(self) -> DenseIndex:
        """The FAISS index, loaded and checked on first use and kept up to date
        (:class:`~index.dense_keeper.DenseKeeper`)."""
        return self.dense_keeper.dense()

    def refresh(self) -> bool:
        """Catch up with changes committed by any process since this one last looked.
        Cheap when nothing changed (one SQLite read). Returns True if something changed."""
        return self.dense_keeper.refresh()

    # -- writing ---------------------------------------------------------------------------------
    def add(self, articles: Iterable[Article | LoadResult], *, progress: bool = False,
            on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
        """Add articles (or loader results, whose rejections are passed through).

        Per article: ``added``; ``unchanged`` when the same id holds the same content;
        ``updated`` when the same id holds other content (its chunks are replaced);
        ``rejected`` with a reason. Two different articles with one id in the same call:
        the later one is rejected. Commits every ``ingest.batch_articles`` articles, each
        article wholly or not at all.
        """
        with self.write_lock(lambda: log.warning("waiting for another writer to finish...")):
            results = add_in_batches(articles, self._add_batch, batch_size=self.settings.ingest.batch_articles,
                                     progress=progress, on_result=on_result)
            self._maybe_snapshot()
        return results

    def _add_batch(self, batch: list[tuple[str, Article]], emit: Callable[[AddResult], None], bar) -> None:
        stored = self.store.content_hashes([a.id for _, a in batch])
        todo: list[tuple[str, Article, str]] = []
        for where, article in batch:
            content_hash, chunk_count = stored.get(article.id, ("", 0))
            if content_hash == article.content_hash:
                emit(AddResult(where, article.id, "unchanged", chunk_count))
            else:
                todo.append((where, article, "updated" if article.id in stored else "added"))
        if not todo:
            if bar is not None:
                bar.update(len(batch))
            return
        embedded, claims = self._embed_and_extract([a for _, a, _ in todo])
        with self.store.transaction() as conn:
            generation = ArticleStore.next_generation(conn)
            self._stamp_embedder(conn)
            for (_, article, status), (spans, vectors) in zip(todo, embedded):
                added_at = ArticleStore.added_at(conn, article.id)
                if status == "updated":
                    ArticleStore.delete_article(conn, article.id, generation)
                ArticleStore.insert_article(conn, article, spans, vectors, generation, added_at)
                if claims is not None:
                    insert_claims(conn, article.id, article.text, claims[article.id])
            ArticleStore.set_meta(conn, "generation", generation)
        self._sync_lexical()
        for (where, article, status), (spans, _) in zip(todo, embedded):
            emit(AddResult(where, article.id, status, len(spans)))
        if bar is not None:
            bar.update(len(batch))

    def _sync_lexical(self) -> None:
        """Bring the tantivy index up to the store's state (under the write lock). SQLite
        has committed already, so a failure here costs lexical freshness, not data: the
        next writer or reader replays the missed generations."""
        if self.lexical is None:
            return
        try:
            self.lexical.sync()
        except (OSError, ValueError, RuntimeError, ArchiveError) as exc:
            log.warning("lexical index not brought up to date (%s); it will be replayed from the store", exc)

    def _stamp_embedder(self, conn, replace: bool = False) -> None:
        ArticleStore.stamp_embedder(conn, self.embedder.fingerprint, self.embedder.name, self.embedder.dimension,
                                    replace=replace)

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles from every index; returns the ids that were present."""
        removed: list[str] = []
        with self.write_lock():
            with self.store.transaction() as conn:
                generation = ArticleStore.next_generation(conn)
                for article_id in dict.fromkeys(article_ids):
                    if ArticleStore.has_article(conn, article_id):
                        ArticleStore.delete_article(conn, article_id, generation)
                        removed.append(article_id)
                if removed:
                    ArticleStore.set_meta(conn, "generation", generation)
            self._sync_lexical()
            self._maybe_snapshot()
        return removed

    def _maybe_snapshot(self, force: bool = False) -> None:
        """Write a FAISS snapshot when enough changed since the last one (under the lock)."""
        self.dense_keeper.maybe_snapshot(force)

    def write_snapshot(self) -> Path:
        """Write the current FAISS index as a snapshot and record it (under the write lock)."""
        return self.dense_keeper.write_snapshot()

    def rebuild(self, *, progress: bool = False) -> int:
        """Re-chunk and re-embed every article with the configured model, in one
        transaction, and write a fresh FAISS snapshot. Returns the number of chunks."""
        with self.write_lock():
            articles = list(self.store.iter_articles())
            embedded, claims = self._embed_and_extract(articles, show_progress=progress)
            with self.store.transaction() as conn:
                generation = ArticleStore.next_generation(conn)
                added = {a.id: ArticleStore.added_at(conn, a.id) for a in articles}
                for article in articles:
                    ArticleStore.delete_article(conn, article.id, generation)
                # Remove orphans a damaged store may hold, then re-insert everything.
                ArticleStore.clear_chunks(conn, generation)
                delete_all_claims(conn)
                for article, (spans, vectors) in zip(articles, embedded):
                    ArticleStore.insert_article(conn, article, spans, vectors, generation, added[article.id])
                    if claims is not None:
                        insert_claims(conn, article.id, article.text, claims[article.id])
                self._stamp_embedder(conn, replace=True)
                ArticleStore.set_meta(conn, "generation", generation)
                ArticleStore.set_meta(conn, "schema_version", SCHEMA_VERSION)
            self.dense_keeper.reset()
            self.write_snapshot()
            if self.lexical is not None:
                self.lexical.rebuild()
            return chunk_count(embedded)

    # -- reading ------------------------------------------------------------------------------------
    @property
    def claims_index(self) -> SQLiteClaims:
        """The stored claims as claim search reads them (:class:`~index.claims_store.SQLiteClaims`)."""
        return SQLiteClaims(self.store)

    def get(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        return self.store.get(article_id)

    def list_articles(self) -> list[ArticleSummary]:
        """Every article's metadata, newest first."""
        return self.store.summaries()

    def summaries(self, article_ids: Sequence[str]) -> list[ArticleSummary]:
        """Metadata of the stored ones among ``article_ids``."""
        return self.store.summaries(list(article_ids))

    def read_snapshot(self):  # a context manager
        """``with archive.read_snapshot():`` this thread's reads see one committed state."""
        return self.store.read_snapshot()

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """``{article_id: text}`` for stored articles among ``article_ids``."""
        return self.store.texts(article_ids)

    def count(self) -> int:
        """Number of chunks. Called per question by the retriever: when FAISS is loaded it
        is its live count after a refresh (one cheap read); otherwise one ``count(*)``
        (``store.counts()`` also counts the FTS5 rows: ~0.45 s at a million chunks)."""
        with self.dense_keeper.lock:
            dense = self.dense_keeper.loaded
            if dense is not None:
                self.refresh()
                return dense.ntotal
        return self.store.chunk_total()

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunk records by id (removed ones are absent)."""
        return self.store.chunks(chunk_ids)

    def dense_search(self, vector: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, cosine)`` for a query embedding ``(dimension,)``."""
        dense = self.dense()
        allowed = self.store.filtered_chunk_ids(filters) if filters is not None and filters.active else None
        return dense.search(vector, k, allowed)

    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` for a text query: tantivy BM25 over every content
        word (``index.lexical = "tantivy"``), or FTS5 (the setting, or while the tantivy
        index cannot be used: see :class:`~index.lexical_keeper.LexicalKeeper`)."""
        if self.lexical is not None:
            found = self.lexical.search(query, k, filters)
            if found is not None:
                return found
        return self.store.lexical_search(query, k, filters)

    def sources(self) -> dict[str, int]:
        """``{outlet: article count}``."""
        return self.store.sources()

    def stats(self) -> Stats:
        """Counts, model and disk use of this archive."""
        counts = self.store.counts()
        meta = self.store.meta()
        dense = self.dense() if counts["chunks"] else None
        disk = sum(p.stat().st_size for p in self.data_dir.iterdir() if p.is_file())
        return Stats(articles=counts["articles"], chunks=counts["chunks"],
                     dense_vectors=dense.ntotal if dense else 0, lexical_rows=counts["lexical"],
                     generation=int(meta.get("generation", 0)),
                     embedder=meta.get("embedder_name", self.embedder.name if counts["chunks"] else ""),
                     dimension=int(meta.get("dimension", 0)),
                     faiss_type=dense.faiss_type if dense else choose_type(self.settings.index.faiss_type, 0),
                     data_dir=str(self.data_dir), disk_bytes=disk, sources=self.sources(),
                     claims=count_claims(self.store.connect()))

    def index_health(self) -> dict[str, object]:
        """The derived indexes' state for ``/healthz``, without waiting for any lock:
        ``{"status": "ok" | "repaired" | "rebuilding" | "degraded", "lexical": "tantivy" |
        "fts5", "repairs": [what this process rebuilt, and why]}``. ``degraded``: the
        tantivy index cannot be used now and lexical search falls back to FTS5."""
        repairs = [*self.dense_keeper.events, *(self.lexical.events if self.lexical else [])]
        lexical_status = self.lexical.status if self.lexical is not None else "ok"
        if lexical_status == "fallback":
            status = "degraded"
        elif lexical_status == "rebuilding" or self.dense_keeper.rebuilding:
            status = "rebuilding"
        else:
            status = "repaired" if repairs else "ok"
        return {"status": status, "lexical": self.settings.index.lexical, "repairs": list(dict.fromkeys(repairs))}

    def verify(self) -> list[str]:
        """Check that SQLite, FTS5 and FAISS agree; returns the problems (empty = healthy).

        Checks: SQLite integrity; the embedder fingerprint; chunk, lexical and FAISS
        counts and id sets; every chunk's offsets lie inside its article and its lexical
        text equals ``article.text[start:end]``; per-article chunk counts; every claim's
        spans exact in its article (:func:`~index.claims_store.verify_claims`).
        """
        problems: list[str] = []
        conn = self.store.connect()
        meta = self.store.meta()
        counts = self.store.counts()
        if counts["chunks"] and meta.get("embedder_fingerprint") != self.embedder.fingerprint:
            problems.append(f"embedder mismatch: index {meta.get('embedder_fingerprint')}, configured "
                            f"{self.embedder.fingerprint}")
        if self.lexical is not None:
            problems.extend(self.lexical.verify())
        problems.extend(store_problems(conn, counts))
        problems.extend(verify_claims(conn, expect_extracted=self.settings.index.claims))
        if counts["chunks"] and meta.get("dimension"):
            problems.extend(self.dense_keeper.verify())
        return problems
