""":class:`MilvusArchive`: the Milvus backend's :class:`~index.base.IndexBackend` (opening,
the add / remove / rebuild commit protocol described in :mod:`index.milvus`, and reads)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from config.settings import Settings
from corpus.article import Article
from corpus.claims import Claim
from corpus.chunking import Chunker
from corpus.loaders import LoadResult
from index.base import AddResult, ArchiveError, ArticleSummary, ChunkRecord, SearchFilters, Stats
from index.batching import add_in_batches
from index.embedder import Embedder
from index.milvus import search
from index.milvus.claims import MilvusClaims, claim_rows
from index.milvus.client import INSERT_BATCH, QUERY_BATCH, check_prefix, connect, ids_expr, q, resolve_uri
from index.milvus.rows import (HEAD_FIELDS, VersionRows, article_of, newest_first, summary_of,
                               too_long_field)
from index.milvus.schema import CHUNK_FIELDS, SCHEMA_VERSION, VARCHAR_MAX, Collections
from index.shared import EmbeddingComponents, chunk_count

log = logging.getLogger(__name__)

Version = tuple[Article, Sequence[tuple[int, int, int]], np.ndarray]
"""An article version to write: the article, its chunk spans and their vectors."""
Claims = Mapping[str, Sequence[Claim]]
"""``{article_id: its claims}`` of extracted versions (an article absent: not extracted)."""


class MilvusArchive(EmbeddingComponents):
    """An archive whose chunks, vectors, BM25 index and articles live in Milvus.

    Construct with :meth:`open`. Offers the methods of :class:`index.archive.Archive`
    that the CLI, the web app and retrieval use.
    """

    def __init__(self, settings: Settings, client: Any, uri: str, lite: bool, prefix: str,
                 embedder: Embedder | None) -> None:
        self.settings = settings
        self.db = Collections(client, uri, lite, prefix, settings.index)
        self.client = client
        self.uri = uri
        self.lite = lite
        self.data_dir = Path(uri) if lite else Path(settings.data_dir)
        self.prefix = prefix
        self.chunks_name = self.db.chunks_name
        self.articles_name = self.db.articles_name
        self.meta_name = self.db.meta_name
        self._embedder = embedder
        self._chunker: Chunker | None = None
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, data_dir: Path | str | None = None,
             embedder: Embedder | None = None, create: bool = True,
             check_embedder: bool = True, migrate: bool = False) -> "MilvusArchive":
        """Connect to Milvus (starting Milvus Lite for a ``.db`` path) and check the
        collections. Raises :class:`ArchiveError` with what to do. ``migrate`` is accepted
        for the embedded archive's signature (this schema has one version)."""
        cfg = settings.index.milvus
        check_prefix(cfg.collection_prefix)
        uri, lite = resolve_uri(settings, data_dir)
        client = connect(settings, uri, lite, create)
        archive = cls(settings, client, uri, lite, cfg.collection_prefix, embedder)
        archive.db.prepare(create)
        archive.db.settle()  # Milvus Lite replays its log into the memtable on start
        meta = archive.meta()
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise ArchiveError(f"Milvus collections {cfg.collection_prefix}_* have schema version {version}, "
                               f"newer than this Byline ({SCHEMA_VERSION}): upgrade Byline")
        if check_embedder:
            archive.check_embedder_stamp(meta, f"the Milvus index {uri} ({cfg.collection_prefix})")
        return archive

    def close(self) -> None:
        """Close the client connection."""
        with contextlib.suppress(Exception):
            self.client.close()

    def meta(self) -> dict[str, str]:
        """All metadata keys (schema_version, generation, embedder_*, dimension)."""
        return self.db.meta()

    @contextlib.contextmanager
    def write_lock(self, wait_message: Callable[[], None] | None = None) -> Iterator[None]:
        """Serialise this process's writers (Milvus Lite is single-process anyway; writers
        on several servers converge because every write is idempotent)."""
        with self._lock:
            yield

    def refresh(self) -> bool:
        """Nothing to catch up with: every read goes to Milvus (strong consistency)."""
        return False

    def read_snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Milvus has no read transactions; readers check content hashes instead."""
        return contextlib.nullcontext()

    # -- article heads and texts -----------------------------------------------------------------
    def heads(self, article_ids: Sequence[str], with_text: bool = False) -> dict[str, dict[str, Any]]:
        """``{article_id: head row}`` of the stored ones among ``article_ids``."""
        fields = HEAD_FIELDS + (["text"] if with_text else [])
        keys = ["a:" + a for a in article_ids]
        return {r["article_id"]: r for r in self.db.query_in(self.articles_name, "key", keys, fields)}

    def all_heads(self) -> dict[str, dict[str, Any]]:
        """Every article's head row, with its first text part."""
        return {r["article_id"]: r for r in self.db.query(self.articles_name, "head == true", HEAD_FIELDS + ["text"])}

    def full_texts(self, heads: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The whole texts of the articles of ``heads`` (read with their text): the head's
        part and the part rows of the same content hash. Raises :class:`ArchiveError` when
        a part is missing."""
        texts = {aid: h["text"] for aid, h in heads.items()}
        multi = [aid for aid, h in heads.items() if int(h["parts"]) > 1]
        if multi:
            rows = self.db.query_in(self.articles_name, "article_id", multi,
                                    ["article_id", "content_hash", "part", "text"], extra="head == false")
            by_article: dict[str, list[tuple[int, str]]] = {}
            for r in rows:
                if r["content_hash"] == heads[r["article_id"]]["content_hash"]:
                    by_article.setdefault(r["article_id"], []).append((int(r["part"]), r["text"]))
            for aid in multi:
                parts = sorted(by_article.get(aid, []))
                if len(parts) != int(heads[aid]["parts"]) - 1:
                    raise ArchiveError(f"article {aid!r}: text parts missing in Milvus; run `byline verify`")
                texts[aid] = heads[aid]["text"] + "".join(t for _, t in parts)
        return texts

    # -- writing -----------------------------------------------------------------------------------
    def add(self, articles: Iterable[Article | LoadResult], *, progress: bool = False,
            on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
        """Add articles (or loader results); statuses as :meth:`index.archive.Archive.add`."""
        with self.write_lock():
            results = add_in_batches(articles, self._add_batch, batch_size=self.settings.ingest.batch_articles,
                                     progress=progress, on_result=on_result)
            if any(r.status in ("added", "updated") for r in results):
                self.db.settle()
        return results

    def _add_batch(self, batch: list[tuple[str, Article]], emit: Callable[[AddResult], None], bar) -> None:
        heads = self.heads([a.id for _, a in batch])
        todo: list[tuple[str, Article, str]] = []
        for where, article in batch:
            head = heads.get(article.id)
            if head is not None and head["content_hash"] == article.content_hash:
                emit(AddResult(where, article.id, "unchanged", int(head["chunk_count"])))
                continue
            too_long = too_long_field(article)
            if too_long:
                emit(AddResult(where, article.id, "rejected",
                               reason=f"{where}: {too_long} longer than Milvus allows ({VARCHAR_MAX} bytes)"))
                continue
            todo.append((where, article, "updated" if head is not None else "added"))
        if todo:
            embedded, claims = self._embed_and_extract([a for _, a, _ in todo])
            self.stamp_embedder(self.embedder.fingerprint, self.embedder.name, self.embedder.dimension)
            self.write_versions([(article, spans, vectors) for (_, article, _), (spans, vectors)
                                 in zip(todo, embedded)], heads, claims)
            for (where, article, status), (spans, _) in zip(todo, embedded):
                emit(AddResult(where, article.id, status, len(spans)))
        if bar is not None:
            bar.update(len(batch))

    def stamp_embedder(self, fingerprint: str, name: str, dimension: int) -> None:
        """Record the embedder of the vectors about to be written (the first time; creates
        the chunks collection with ``dimension``). Raises :class:`ArchiveError` when the
        index records another one."""
        meta = self.meta()
        if meta.get("embedder_fingerprint") and meta["embedder_fingerprint"] != fingerprint:
            raise ArchiveError(f"the Milvus index was built with {meta.get('embedder_name')} "
                               f"({meta['embedder_fingerprint']}), not {name} ({fingerprint})")
        if not self.db.chunks_ready():
            self.db.create_chunks(dimension)
        if "embedder_fingerprint" not in meta:
            self.db.upsert_meta({"embedder_fingerprint": fingerprint, "embedder_name": name,
                                 "dimension": dimension})

    def write_versions(self, items: list[Version], heads: dict[str, dict[str, Any]],
                       claims: Claims | None = None) -> None:
        """Write new versions: clean leftovers, chunks, text parts and claims, heads
        (commit), then delete the previous versions' rows. ``heads``: the stored heads of
        these articles; ``claims``: the extracted claims of (some of) them (None: claims
        off). Raises :class:`~corpus.claims.ClaimSpanError` for a claim not exact in its
        article before anything is written."""
        claim_batch = [row for article, spans, _ in items if claims is not None and article.id in claims
                       for row in claim_rows(article, spans, claims[article.id])]
        # 1. Rows of a content hash that is not committed are leftovers of an interrupted write.
        stale = " or ".join(
            f"(article_id == {q(a.id)}" + (f" and content_hash != {q(heads[a.id]['content_hash'])})"
                                           if a.id in heads else ")")
            for a, _, _ in items)
        self.client.delete(self.chunks_name, filter=stale)
        self.client.delete(self.articles_name, filter=f"head == false and ({stale})")
        self.client.delete(self.db.claims_name, filter=stale)
        # 2. Chunks, extra text parts and claims of the new versions.
        now = time.time()
        rows = VersionRows()
        for article, spans, vectors in items:
            head = heads.get(article.id)
            rows.add(article, spans, vectors, added_at=float(head["added_at"]) if head else now, now=now)
        for start in range(0, len(rows.chunks), INSERT_BATCH):
            self.client.upsert(self.chunks_name, rows.chunks[start:start + INSERT_BATCH])
        for start in range(0, len(rows.parts), 8):
            self.client.upsert(self.articles_name, rows.parts[start:start + 8])
        for start in range(0, len(claim_batch), INSERT_BATCH):
            self.client.upsert(self.db.claims_name, claim_batch[start:start + INSERT_BATCH])
        # 3. Commit: the heads.
        for start in range(0, len(rows.heads), 64):
            self.client.upsert(self.articles_name, rows.heads[start:start + 64])
        # 4. The previous versions' chunks and parts.
        old = " or ".join(f"(article_id == {q(a.id)} and content_hash != {q(a.content_hash)})"
                          for a, _, _ in items if a.id in heads)
        if old:
            self.client.delete(self.chunks_name, filter=old)
            self.client.delete(self.articles_name, filter=f"head == false and ({old})")
            self.client.delete(self.db.claims_name, filter=old)
        self.db.bump_generation()

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles (head first, then chunks, parts and claims); returns those present."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return []
        with self.write_lock():
            present = self.heads(ids)
            removed = [a for a in ids if a in present]
            for start in range(0, len(ids), QUERY_BATCH):
                part = ids[start:start + QUERY_BATCH]
                if any(a in present for a in part):
                    self.client.delete(self.articles_name, filter=ids_expr("key", ["a:" + a for a in part]))
                if self.db.chunks_ready():
                    self.client.delete(self.chunks_name, filter=ids_expr("article_id", part))
                self.client.delete(self.articles_name, filter=ids_expr("article_id", part))
                self.client.delete(self.db.claims_name, filter=ids_expr("article_id", part))
            if removed:
                self.db.bump_generation()
                self.db.settle()
        return removed

    def import_embedded(self, source: Any, *, progress: bool = False,
                        on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
        """Copy an embedded :class:`~index.archive.Archive` into Milvus without re-embedding
        (:func:`index.milvus.migrate.import_embedded`)."""
        from index.milvus.migrate import import_embedded

        return import_embedded(self, source, progress=progress, on_result=on_result)

    def rebuild(self, *, progress: bool = False) -> int:
        """Re-chunk and re-embed every article with the configured model and re-extract its
        claims: the chunks and claims collections are recreated (searches find nothing
        until it finishes), leftovers are dropped. Returns the number of chunks."""
        with self.write_lock():
            heads = self.all_heads()
            texts = self.full_texts(heads) if heads else {}
            articles = [article_of(h, texts[aid]) for aid, h in sorted(heads.items())]
            embedded, claims = self._embed_and_extract(articles, show_progress=progress)
            self.db.drop_chunks()
            self.db.drop_claims()
            self.client.delete(self.meta_name, filter=ids_expr("key", ["embedder_fingerprint", "embedder_name", "dimension"]))
            self.stamp_embedder(self.embedder.fingerprint, self.embedder.name, self.embedder.dimension)
            # Orphan heads' leftovers: every part row not of a head's hash.
            live = {(aid, h["content_hash"]) for aid, h in heads.items()}
            parts = self.db.query(self.articles_name, "head == false", ["key", "article_id", "content_hash"])
            dead = [r["key"] for r in parts if (r["article_id"], r["content_hash"]) not in live]
            for start in range(0, len(dead), QUERY_BATCH):
                self.client.delete(self.articles_name, filter=ids_expr("key", dead[start:start + QUERY_BATCH]))
            versions = [(article, spans, vectors) for article, (spans, vectors) in zip(articles, embedded)]
            batch = self.settings.ingest.batch_articles
            for start in range(0, len(versions), batch):
                self.write_versions(versions[start:start + batch], {}, claims)
            self.db.settle()
            return chunk_count(embedded)

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        heads = self.heads([article_id], with_text=True)
        head = heads.get(article_id)
        if head is None:
            return None
        return article_of(head, self.full_texts(heads)[article_id])

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """``{article_id: text}`` for stored articles among ``article_ids``."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        return self.full_texts(self.heads(ids, with_text=True))

    def list_articles(self) -> list[ArticleSummary]:
        """Every article's metadata, newest first."""
        rows = self.db.query(self.articles_name, "head == true", HEAD_FIELDS)
        return newest_first([summary_of(r) for r in rows])

    def summaries(self, article_ids: Sequence[str]) -> list[ArticleSummary]:
        """Metadata of the stored ones among ``article_ids``."""
        return newest_first([summary_of(r) for r in self.heads(list(article_ids)).values()])

    def count(self) -> int:
        """Number of chunks."""
        if not self.db.chunks_ready():
            return 0
        rows = self.client.query(self.chunks_name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunk records by id: only chunks of an article's committed version; the
        text equals ``article.text[start:end]``."""
        ids = [int(c) for c in chunk_ids]
        if not ids or not self.db.chunks_ready():
            return {}
        rows = self.db.query_in(self.chunks_name, "id", ids, CHUNK_FIELDS)
        heads = self.heads(sorted({r["article_id"] for r in rows}))
        live = [r for r in rows if r["article_id"] in heads
                and heads[r["article_id"]]["content_hash"] == r["content_hash"]]
        truncated = {r["article_id"] for r in live if len(r["text"]) != r["end_char"] - r["start_char"]}
        full = self.texts(truncated) if truncated else {}
        out: dict[int, ChunkRecord] = {}
        for r in live:
            start, end = int(r["start_char"]), int(r["end_char"])
            text = full[r["article_id"]][start:end] if r["article_id"] in full else r["text"]
            out[int(r["id"])] = ChunkRecord(int(r["id"]), r["article_id"], int(r["idx"]), start, end, text)
        return out

    @property
    def claims_index(self) -> MilvusClaims:
        """The stored claims as claim search reads them (:class:`~index.milvus.claims.MilvusClaims`)."""
        return MilvusClaims(self)

    filter_expr = staticmethod(search.filter_expr)

    def dense_search(self, vector: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, inner product)`` by Milvus ANN search."""
        return search.dense_search(self.db, vector, k, filters)

    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` by Milvus full-text search (the BM25 function)."""
        return search.lexical_search(self.db, query, k, filters)

    def sources(self) -> dict[str, int]:
        """``{outlet: article count}``, most articles first."""
        counts: dict[str, int] = {}
        for row in self.db.query(self.articles_name, "head == true", ["source"]):
            counts[row["source"]] = counts.get(row["source"], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def stats(self) -> Stats:
        """Counts, model and disk use (disk for Milvus Lite only)."""
        meta = self.meta()
        heads = self.db.query(self.articles_name, "head == true", ["source"])
        sources: dict[str, int] = {}
        for row in heads:
            sources[row["source"]] = sources.get(row["source"], 0) + 1
        chunks = self.count()
        disk = 0
        if self.lite:
            disk = sum(p.stat().st_size for p in Path(self.uri).rglob("*") if p.is_file())
        index_type, _ = self.db.dense_index()
        return Stats(articles=len(heads), chunks=chunks, dense_vectors=chunks, lexical_rows=chunks,
                     generation=int(meta.get("generation", 0)), embedder=meta.get("embedder_name", ""),
                     dimension=int(meta.get("dimension", 0)), faiss_type=f"milvus {index_type}",
                     data_dir=f"{self.uri} ({self.prefix}_*)", disk_bytes=disk,
                     sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])),
                     claims=self.claims_index.count())

    def index_health(self) -> dict[str, object]:
        """``/healthz``'s index state: Milvus holds vectors and BM25 itself, so nothing
        derived is kept on this machine (always ``{"status": "ok", "lexical": "milvus"}``)."""
        return {"status": "ok", "lexical": "milvus", "repairs": []}

    def verify(self) -> list[str]:
        """Check that article heads, text parts, chunks and claims agree; returns the
        problems (:func:`index.milvus.verify.verify`)."""
        from index.milvus.verify import verify

        return verify(self)
