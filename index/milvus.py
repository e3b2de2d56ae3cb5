"""A Milvus index backend: the same :class:`~index.base.IndexBackend` as the embedded
archive, with all state in Milvus so that several app servers can serve one archive.

``index.backend = "milvus"`` selects it (see :func:`index.factory.open_backend`).
``index.milvus.uri`` is a local ``*.db`` path (Milvus Lite, in-process, one process at
a time) or ``http://host:19530`` (a Milvus server; the token is read from the
environment variable named by ``index.milvus.token_env``).

Collections (names start with ``index.milvus.collection_prefix``):

- ``<prefix>_chunks``: one row per chunk: a deterministic int64 id (from the article
  id, content hash and chunk index), the article id and content hash, chunk index and
  character offsets into the article text, the chunk text (an analysed VARCHAR; a
  Milvus BM25 ``Function`` turns it into the SPARSE_FLOAT_VECTOR ``sparse``), the dense
  ``vector``, and the article's ``source_key`` (lower-cased outlet) and ``published``
  (proleptic ordinal, 0 = no date) for scalar filters.
- ``<prefix>_articles``: one *head* row per article (metadata, content hash, chunk count
  and the first part of the text) and, for articles whose text exceeds a VARCHAR
  (65,535 bytes), extra *part* rows keyed by content hash and part number.
- ``<prefix>_meta``: key/value rows: schema version, embedder fingerprint, name and
  dimension, and a generation counter bumped by each change.

Consistency without transactions: the head row is the commit marker. An add writes the
chunks and text parts of the new content first, the head last, then deletes the rows of
the previous content. Readers only return chunks whose content hash equals their
article head's, so an interrupted add or update is invisible, and re-running it
converges (ids are deterministic; rows of a content hash that never got a head are
deleted first). Removal deletes the head first. ``verify`` reports leftovers;
``rebuild`` re-chunks and re-embeds everything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from config.settings import Settings
from corpus.article import Article
from corpus.chunking import Chunker
from corpus.loaders import LoadResult
from index.batching import add_in_batches
from index.base import (AddResult, ArchiveError, ArticleSummary, ChunkRecord, SearchFilters,
                        Stats)
from index.embedder import Embedder, chunker_for, embedder_from_settings
from index.lexical import STOPWORDS

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ADD_BATCH_ARTICLES = 32
# Milvus caps a VARCHAR at 65,535 bytes; text is split into parts of at most this many
# UTF-8 bytes (with a margin) and BM25 text of an (unusual) longer chunk is truncated.
VARCHAR_MAX = 65_535
PART_BYTES = 60_000
QUERY_BATCH = 1000       # ids per "in [...]" expression
INSERT_BATCH = 500       # rows per insert/upsert call
ITERATOR_BATCH = 1000
ID_MAX_LENGTH = 256
KEY_MAX_LENGTH = 512
HASH_LENGTH = 64
DUMMY_DIM = 2            # Milvus wants a vector field in every collection
# BM25 as in SQLite FTS5 (k1 = 1.2, b = 0.75). As there, documents keep their stop words
# (they count in the length normalisation) and queries drop them (see lexical_terms).
BM25_PARAMS = {"bm25_k1": 1.2, "bm25_b": 0.75}
# Porter-like stemming and accent folding as FTS5's "porter unicode61 remove_diacritics 2"
# on a Milvus server; Milvus Lite lower-cases but ignores these filters (no stemming).
ANALYZER = {"tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", {"type": "stemmer", "language": "english"}]}
# Reads see every write that was acknowledged before them (several app servers).
CONSISTENCY = "Strong"
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
_REMOTE = ("http://", "https://", "tcp://", "unix:", "grpc://")


def _q(value: str) -> str:
    """A Milvus string literal (double quotes; backslash and quote escaped)."""
    return json.dumps(value, ensure_ascii=False)


def _ids_expr(field: str, values: Sequence[Any]) -> str:
    items = ", ".join(_q(v) if isinstance(v, str) else str(int(v)) for v in values)
    return f"{field} in [{items}]"


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


def _truncate_bytes(text: str, limit: int = VARCHAR_MAX) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def lexical_terms(query: str) -> list[str]:
    """The content words of a query, as :func:`index.store.fts_query` picks them."""
    terms: list[str] = []
    # Milvus's own BM25 analyser indexes the raw words (no diacritic folding), so the
    # query keeps them as written (unlike index.lexical.query_terms).
    for token in re.findall(r"\w+", query.lower()):
        if token in STOPWORDS or token in terms or (len(token) == 1 and not token.isdigit()):
            continue
        terms.append(token)
    return terms


def _ordinal(day: dt.date | None) -> int:
    return day.toordinal() if day else 0


def _date(ordinal: int | None) -> dt.date | None:
    return dt.date.fromordinal(int(ordinal)) if ordinal else None


def resolve_uri(settings: Settings, data_dir: Path | str | None = None) -> tuple[str, bool]:
    """``(uri, is_lite)``: ``index.milvus.uri``, or ``<data_dir>/milvus.db`` when empty."""
    uri = settings.index.milvus.uri.strip()
    if uri.startswith(_REMOTE):
        return uri, False
    path = Path(uri).expanduser() if uri else Path(data_dir or settings.data_dir).expanduser() / "milvus.db"
    if path.suffix != ".db":
        raise ArchiveError(f"index.milvus.uri {uri!r}: a Milvus Lite path must end in .db "
                           "(or give http://host:19530 for a Milvus server)")
    return str(path.resolve()), True


class MilvusArchive:
    """An archive whose chunks, vectors, BM25 index and articles live in Milvus.

    Construct with :meth:`open`. Offers the methods of :class:`index.archive.Archive`
    that the CLI, the web app and retrieval use.
    """

    def __init__(self, settings: Settings, client: Any, uri: str, lite: bool, prefix: str,
                 embedder: Embedder | None) -> None:
        self.settings = settings
        self.client = client
        self.uri = uri
        self.lite = lite
        self.data_dir = Path(uri) if lite else Path(settings.data_dir)
        self.prefix = prefix
        self.chunks_name = f"{prefix}_chunks"
        self.articles_name = f"{prefix}_articles"
        self.meta_name = f"{prefix}_meta"
        self._embedder = embedder
        self._chunker: Chunker | None = None
        self._lock = threading.RLock()
        self._has_chunks: bool | None = None

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, data_dir: Path | str | None = None,
             embedder: Embedder | None = None, create: bool = True,
             check_embedder: bool = True, migrate: bool = False) -> "MilvusArchive":
        """Connect to Milvus (starting Milvus Lite for a ``.db`` path) and check the
        collections. Raises :class:`ArchiveError` with what to do. ``migrate`` is accepted
        for the embedded archive's signature (this schema has one version)."""
        cfg = settings.index.milvus
        if not _NAME_OK.match(cfg.collection_prefix):
            raise ArchiveError(f"index.milvus.collection_prefix {cfg.collection_prefix!r}: use letters, "
                               "digits and underscores, starting with a letter or underscore")
        uri, lite = resolve_uri(settings, data_dir)
        if lite and not Path(uri).exists():
            if not create:
                raise ArchiveError(f"no Byline index in {uri} (add articles first: byline add ...)")
            try:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(f"cannot create {Path(uri).parent}: {exc.strerror}") from None
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise ArchiveError("index.backend = \"milvus\" needs pymilvus (and milvus-lite for a .db path): "
                               "pip install 'byline[milvus]'") from None
        # Milvus Lite has no MVCC timestamps; pymilvus warns about it on every query iterator.
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        if lite:
            # pymilvus asks for AllocTimestamp after creating an index, which Milvus Lite's
            # in-process gRPC server does not implement (harmless; logged as an error).
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        token = os.environ.get(cfg.token_env, "") if cfg.token_env else ""
        options: dict[str, Any] = {}
        if lite:
            # Milvus Lite's in-process gRPC server refuses pings more often than every 5
            # minutes (GOAWAY "too_many_pings" while a long embedding batch runs).
            options["grpc_options"] = {"grpc.keepalive_time_ms": 600_000}
        try:
            client = MilvusClient(uri=uri, token=token, **options) if token else MilvusClient(uri=uri, **options)
        except Exception as exc:  # noqa: BLE001 - connection errors of any kind
            hint = (" (Milvus Lite serves one process at a time: stop the other Byline process, "
                    "or run a Milvus server)") if lite else ""
            raise ArchiveError(f"cannot connect to Milvus at {uri}: {exc}{hint}") from None
        archive = cls(settings, client, uri, lite, cfg.collection_prefix, embedder)
        archive._prepare(create)
        archive._settle()  # Milvus Lite replays its log into the memtable on start
        meta = archive.meta()
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise ArchiveError(f"Milvus collections {cfg.collection_prefix}_* have schema version {version}, "
                               f"newer than this Byline ({SCHEMA_VERSION}): upgrade Byline")
        if check_embedder and meta.get("embedder_fingerprint"):
            current = archive.embedder.fingerprint
            if meta["embedder_fingerprint"] != current:
                raise ArchiveError(
                    f"the Milvus index {uri} ({cfg.collection_prefix}) was built with embedding model "
                    f"{meta.get('embedder_name')} ({meta['embedder_fingerprint']}), but the configured model is "
                    f"{archive.embedder.name} ({current}): run `byline rebuild` to re-embed")
        return archive

    def _prepare(self, create: bool) -> None:
        existing = set(self.client.list_collections())
        if self.meta_name not in existing:
            if not create:
                raise ArchiveError(f"no Byline index in Milvus at {self.uri} (collections {self.prefix}_*): "
                                   "add articles first: byline add ...")
            self._create_meta()
            self._create_articles()
            self._upsert_meta({"schema_version": SCHEMA_VERSION, "generation": 0})
        elif self.articles_name not in existing:
            self._create_articles()
        for name in (self.meta_name, self.articles_name):
            self.client.load_collection(name)
        self._has_chunks = None
        self._chunks_ready()

    def _schema(self):  # noqa: ANN202
        return self.client.create_schema(auto_id=False, enable_dynamic_field=False)

    def _create(self, name: str, schema: Any, index: Any) -> None:
        """Create and load a collection. Milvus Lite builds an empty index at once; not
        waiting for it saves pymilvus's 0.5 s polling per index."""
        if self.lite:
            self.client.create_collection(name, schema=schema, consistency_level=CONSISTENCY)
            self.client.create_index(name, index, sync=False)
        else:
            self.client.create_collection(name, schema=schema, index_params=index, consistency_level=CONSISTENCY)
        self.client.load_collection(name)

    def _create_meta(self) -> None:
        from pymilvus import DataType

        schema = self._schema()
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("value", DataType.VARCHAR, max_length=4096)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
        index = self.client.prepare_index_params()
        index.add_index("v", index_type="FLAT", metric_type="L2")
        self._create(self.meta_name, schema, index)

    def _create_articles(self) -> None:
        from pymilvus import DataType

        schema = self._schema()
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=KEY_MAX_LENGTH)
        schema.add_field("article_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
        schema.add_field("head", DataType.BOOL)
        schema.add_field("part", DataType.INT64)
        schema.add_field("parts", DataType.INT64)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=HASH_LENGTH)
        schema.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("url", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("source", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("source_key", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("published", DataType.INT64)
        schema.add_field("chunk_count", DataType.INT64)
        schema.add_field("chars", DataType.INT64)
        schema.add_field("added_at", DataType.DOUBLE)
        schema.add_field("updated_at", DataType.DOUBLE)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
        index = self.client.prepare_index_params()
        index.add_index("v", index_type="FLAT", metric_type="L2")
        self._create(self.articles_name, schema, index)

    def _dense_index(self) -> tuple[str, dict[str, Any]]:
        cfg = self.settings.index
        kind = cfg.faiss_type
        if kind == "auto":
            kind = "flat" if self.lite else "hnsw"
        if kind == "hnsw":
            return "HNSW", {"M": cfg.hnsw_m, "efConstruction": max(200, cfg.hnsw_m * 4)}
        if kind == "ivf":
            return "IVF_FLAT", {"nlist": cfg.ivf_nlist or 1024}
        return "FLAT", {}

    def _create_chunks(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self._schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("article_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
        schema.add_field("content_hash", DataType.VARCHAR, max_length=HASH_LENGTH)
        schema.add_field("idx", DataType.INT64)
        schema.add_field("start_char", DataType.INT64)
        schema.add_field("end_char", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                         analyzer_params=ANALYZER)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("source_key", DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("published", DataType.INT64)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index_type, params = self._dense_index()
        index.add_index("vector", index_type=index_type, metric_type="IP", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=dict(BM25_PARAMS))
        self._create(self.chunks_name, schema, index)
        self._has_chunks = True

    def _chunks_ready(self) -> bool:
        if not self._has_chunks:
            self._has_chunks = self.client.has_collection(self.chunks_name)
            if self._has_chunks:
                self.client.load_collection(self.chunks_name)
        return bool(self._has_chunks)

    def _settle(self) -> None:
        """Milvus Lite: seal written rows into indexed segments (searches over its
        unsealed memtable scan every row in Python: 100x slower). A Milvus server seals
        and indexes by itself, and rate-limits explicit flushes, so this is Lite only."""
        if self.lite:
            for name in (self.articles_name, self.chunks_name):
                if name != self.chunks_name or self._chunks_ready():
                    self.client.flush(name)

    def close(self) -> None:
        """Close the client connection."""
        with contextlib.suppress(Exception):
            self.client.close()

    # -- meta ----------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """All metadata keys (schema_version, generation, embedder_*, dimension)."""
        rows = self.client.query(self.meta_name, filter='key != ""', output_fields=["key", "value"], limit=1000)
        return {r["key"]: r["value"] for r in rows}

    def _upsert_meta(self, values: dict[str, object]) -> None:
        self.client.upsert(self.meta_name, [{"key": k, "value": str(v), "v": [0.0] * DUMMY_DIM}
                                            for k, v in values.items()])

    def _bump_generation(self) -> None:
        self._upsert_meta({"generation": int(self.meta().get("generation", "0")) + 1})

    # -- components ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder (created from settings on first use; loads the model lazily)."""
        if self._embedder is None:
            self._embedder = embedder_from_settings(self.settings)
        return self._embedder

    @property
    def chunker(self) -> Chunker:
        """The chunker, sized like the embedded archive's."""
        if self._chunker is None:
            self._chunker = chunker_for(self.embedder, self.settings)
        return self._chunker

    @contextlib.contextmanager
    def write_lock(self, wait_message: Callable[[], None] | None = None) -> Iterator[None]:
        """Serialise this process's writers (Milvus Lite is single-process anyway; writers
        on several servers converge because every write is idempotent)."""
        with self._lock:
            yield

    def refresh(self) -> bool:
        """Nothing to catch up with: every read goes to Milvus (strong consistency)."""
        return False

    def read_snapshot(self):  # noqa: ANN201 - a context manager
        """Milvus has no read transactions; readers check content hashes instead."""
        return contextlib.nullcontext()

    # -- low-level reads -----------------------------------------------------------------------------
    def _query(self, name: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """All rows matching ``expr`` (iterates on a server; no result-window limit)."""
        if self.lite:
            # Milvus Lite has no query-result window, and no AllocTimestamp for iterators.
            return [dict(r) for r in self.client.query(name, filter=expr, output_fields=fields)]
        out: list[dict[str, Any]] = []
        iterator = self.client.query_iterator(name, batch_size=ITERATOR_BATCH, filter=expr, output_fields=fields)
        try:
            while True:
                rows = iterator.next()
                if not rows:
                    break
                out.extend(dict(r) for r in rows)
        finally:
            iterator.close()
        return out

    def _query_in(self, name: str, field: str, values: Sequence[Any], fields: list[str],
                  extra: str = "") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        values = list(dict.fromkeys(values))
        for start in range(0, len(values), QUERY_BATCH):
            expr = _ids_expr(field, values[start:start + QUERY_BATCH]) + (f" and {extra}" if extra else "")
            out.extend(dict(r) for r in self.client.query(name, filter=expr, output_fields=fields,
                                                          limit=16384))
        return out

    _HEAD_FIELDS = ["article_id", "content_hash", "title", "url", "source", "published", "chunk_count",
                    "chars", "parts", "added_at"]

    def _heads(self, article_ids: Sequence[str], with_text: bool = False) -> dict[str, dict[str, Any]]:
        fields = self._HEAD_FIELDS + (["text"] if with_text else [])
        keys = ["a:" + a for a in article_ids]
        return {r["article_id"]: r for r in self._query_in(self.articles_name, "key", keys, fields)}

    def _full_texts(self, heads: dict[str, dict[str, Any]]) -> dict[str, str]:
        texts = {aid: h["text"] for aid, h in heads.items()}
        multi = [aid for aid, h in heads.items() if int(h["parts"]) > 1]
        if multi:
            rows = self._query_in(self.articles_name, "article_id", multi, ["article_id", "content_hash", "part", "text"],
                                  extra="head == false")
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
            results = add_in_batches(articles, self._add_batch, batch_size=ADD_BATCH_ARTICLES,
                                     progress=progress, on_result=on_result)
            if any(r.status in ("added", "updated") for r in results):
                self._settle()
        return results

    def _add_batch(self, batch: list[tuple[str, Article]], emit: Callable[[AddResult], None], bar) -> None:  # noqa: ANN001
        heads = self._heads([a.id for _, a in batch])
        todo: list[tuple[str, Article, str]] = []
        for where, article in batch:
            head = heads.get(article.id)
            if head is not None and head["content_hash"] == article.content_hash:
                emit(AddResult(where, article.id, "unchanged", int(head["chunk_count"])))
                continue
            too_long = [name for name in ("title", "url", "source")
                        if len(getattr(article, name).encode("utf-8")) > VARCHAR_MAX]
            if too_long:
                emit(AddResult(where, article.id, "rejected",
                               reason=f"{where}: {too_long[0]} longer than Milvus allows ({VARCHAR_MAX} bytes)"))
                continue
            todo.append((where, article, "updated" if head is not None else "added"))
        if todo:
            spans: list[list[tuple[int, int, int]]] = []
            texts: list[str] = []
            for _, article, _ in todo:
                chunks = self.chunker.split(article.text)
                spans.append([(c.index, c.start, c.end) for c in chunks])
                texts.extend(c.text for c in chunks)
            vectors = self.embedder.embed(texts)
            self._stamp_embedder(self.embedder.fingerprint, self.embedder.name, self.embedder.dimension)
            items, offset = [], 0
            for (_, article, _), article_spans in zip(todo, spans):
                items.append((article, article_spans, vectors[offset:offset + len(article_spans)]))
                offset += len(article_spans)
            self._write(items, heads)
            for (where, article, status), article_spans in zip(todo, spans):
                emit(AddResult(where, article.id, status, len(article_spans)))
        if bar is not None:
            bar.update(len(batch))

    def _stamp_embedder(self, fingerprint: str, name: str, dimension: int) -> None:
        meta = self.meta()
        if meta.get("embedder_fingerprint") and meta["embedder_fingerprint"] != fingerprint:
            raise ArchiveError(f"the Milvus index was built with {meta.get('embedder_name')} "
                               f"({meta['embedder_fingerprint']}), not {name} ({fingerprint})")
        if not self._chunks_ready():
            self._create_chunks(dimension)
        if "embedder_fingerprint" not in meta:
            self._upsert_meta({"embedder_fingerprint": fingerprint, "embedder_name": name,
                               "dimension": dimension})

    def _write(self, items: list[tuple[Article, Sequence[tuple[int, int, int]], np.ndarray]],
               heads: dict[str, dict[str, Any]]) -> None:
        """Write new versions: clean leftovers, chunks and text parts, heads (commit), then
        delete the previous versions' rows."""
        # 1. Rows of a content hash that is not committed are leftovers of an interrupted write.
        stale = " or ".join(
            f"(article_id == {_q(a.id)}" + (f" and content_hash != {_q(heads[a.id]['content_hash'])})"
                                            if a.id in heads else ")")
            for a, _, _ in items)
        self.client.delete(self.chunks_name, filter=stale)
        self.client.delete(self.articles_name, filter=f"head == false and ({stale})")
        # 2. Chunks and extra text parts of the new versions.
        now = time.time()
        rows: list[dict[str, Any]] = []
        part_rows: list[dict[str, Any]] = []
        head_rows: list[dict[str, Any]] = []
        for article, spans, vectors in items:
            source_key = article.source.lower()
            published = _ordinal(article.published)
            for (index, start, end), vector in zip(spans, vectors):
                rows.append({"id": chunk_id(article.id, article.content_hash, index), "article_id": article.id,
                             "content_hash": article.content_hash, "idx": int(index), "start_char": int(start),
                             "end_char": int(end), "text": _truncate_bytes(article.text[start:end]),
                             "vector": np.asarray(vector, dtype=np.float32).tolist(),
                             "source_key": source_key, "published": published})
            parts = split_parts(article.text)
            common = {"article_id": article.id, "content_hash": article.content_hash, "parts": len(parts),
                      "title": article.title, "url": article.url, "source": article.source,
                      "source_key": source_key, "published": published, "chunk_count": len(spans),
                      "chars": len(article.text), "updated_at": now, "v": [0.0] * DUMMY_DIM}
            head = heads.get(article.id)
            added_at = float(head["added_at"]) if head else now
            for number, part in enumerate(parts[1:], start=1):
                part_rows.append({**common, "key": f"p:{article.content_hash}:{number}:{article.id}",
                                  "head": False, "part": number, "added_at": added_at, "text": part})
            head_rows.append({**common, "key": "a:" + article.id, "head": True, "part": 0,
                              "added_at": added_at, "text": parts[0]})
        for start in range(0, len(rows), INSERT_BATCH):
            self.client.upsert(self.chunks_name, rows[start:start + INSERT_BATCH])
        for start in range(0, len(part_rows), 8):
            self.client.upsert(self.articles_name, part_rows[start:start + 8])
        # 3. Commit: the heads.
        for start in range(0, len(head_rows), 64):
            self.client.upsert(self.articles_name, head_rows[start:start + 64])
        # 4. The previous versions' chunks and parts.
        old = " or ".join(f"(article_id == {_q(a.id)} and content_hash != {_q(a.content_hash)})"
                          for a, _, _ in items if a.id in heads)
        if old:
            self.client.delete(self.chunks_name, filter=old)
            self.client.delete(self.articles_name, filter=f"head == false and ({old})")
        self._bump_generation()

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles (head first, then chunks and parts); returns those present."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return []
        with self.write_lock():
            present = self._heads(ids)
            removed = [a for a in ids if a in present]
            for start in range(0, len(ids), QUERY_BATCH):
                part = ids[start:start + QUERY_BATCH]
                if any(a in present for a in part):
                    self.client.delete(self.articles_name, filter=_ids_expr("key", ["a:" + a for a in part]))
                if self._chunks_ready():
                    self.client.delete(self.chunks_name, filter=_ids_expr("article_id", part))
                self.client.delete(self.articles_name, filter=_ids_expr("article_id", part))
            if removed:
                self._bump_generation()
                self._settle()
        return removed

    def import_embedded(self, source: Any, *, progress: bool = False,
                        on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
        """Copy an embedded :class:`~index.archive.Archive` into Milvus without re-embedding:
        chunk offsets and vectors are read from its SQLite store (``ArticleStore.vectors``).
        Articles already in Milvus with the same content are ``unchanged``; re-running an
        interrupted migration converges."""
        store = source.store
        meta = store.meta()
        results: list[AddResult] = []
        if not store.counts()["articles"]:
            return results
        fingerprint, name = meta.get("embedder_fingerprint", ""), meta.get("embedder_name", "")
        dimension = int(meta.get("dimension", "0"))
        if not fingerprint or not dimension:
            raise ArchiveError(f"the index in {source.data_dir} has no embedder stamp: run `byline rebuild` there first")
        declared = {s.id: s.chunks for s in store.summaries()}
        pending: dict[str, list[tuple[int, int, int, int, np.ndarray]]] = {}
        ready: list[str] = [a for a, n in declared.items() if n == 0]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(declared), unit="article", desc="migrating", leave=False)

        done: set[str] = set()

        def flush(article_ids: list[str]) -> None:
            done.update(article_ids)
            heads = self._heads(article_ids)
            items = []
            for article_id in article_ids:
                article = store.get(article_id)
                rows = sorted(pending.pop(article_id, []))
                if article is None:
                    continue
                if article_id in heads and heads[article_id]["content_hash"] == article.content_hash:
                    result = AddResult(article_id, article_id, "unchanged")
                else:
                    spans = [(idx, start, end) for idx, start, end, _, _ in rows]
                    vectors = (np.stack([v for *_, v in rows]) if rows
                               else np.zeros((0, dimension), dtype=np.float32))
                    items.append((article, spans, vectors))
                    result = AddResult(article_id, article_id, "updated" if article_id in heads else "added", len(rows))
                results.append(result)
                if on_result:
                    on_result(result)
            if items:
                self._write(items, heads)
            if bar is not None:
                bar.update(len(article_ids))

        with self.write_lock():
            self._stamp_embedder(fingerprint, name, dimension)
            with store.read_snapshot():
                for ids, vectors in store.vectors(dimension):
                    records = store.chunks(ids.tolist())
                    for cid, vector in zip(ids.tolist(), vectors):
                        record = records.get(cid)
                        if record is None:
                            continue
                        rows = pending.setdefault(record.article_id, [])
                        rows.append((record.index, record.start, record.end, cid, vector))
                        if len(rows) == declared.get(record.article_id, -1):
                            ready.append(record.article_id)
                        if len(ready) >= ADD_BATCH_ARTICLES:
                            flush(ready)
                            ready = []
                # Articles whose chunks did not all turn up (a damaged store) go as they are.
                leftovers = [a for a in declared if a not in done and a not in ready]
                flush(ready + leftovers)
            self._settle()
        if bar is not None:
            bar.close()
        return results

    def rebuild(self, *, progress: bool = False) -> int:
        """Re-chunk and re-embed every article with the configured model: the chunks
        collection is recreated (searches find nothing until it finishes), leftovers are
        dropped. Returns the number of chunks."""
        with self.write_lock():
            heads = {r["article_id"]: r for r in self._query(self.articles_name, "head == true", self._HEAD_FIELDS + ["text"])}
            texts = self._full_texts(heads) if heads else {}
            articles = [Article(id=aid, title=h["title"], text=texts[aid], url=h["url"],
                                published=_date(h["published"]), source=h["source"],
                                content_hash=h["content_hash"]) for aid, h in sorted(heads.items())]
            spans: list[list[tuple[int, int, int]]] = []
            chunk_texts: list[str] = []
            for article in articles:
                chunks = self.chunker.split(article.text)
                spans.append([(c.index, c.start, c.end) for c in chunks])
                chunk_texts.extend(c.text for c in chunks)
            vectors = self.embedder.embed(chunk_texts, show_progress=progress)
            if self.client.has_collection(self.chunks_name):
                self.client.drop_collection(self.chunks_name)
            self._has_chunks = False
            self.client.delete(self.meta_name, filter=_ids_expr("key", ["embedder_fingerprint", "embedder_name", "dimension"]))
            self._stamp_embedder(self.embedder.fingerprint, self.embedder.name, self.embedder.dimension)
            # Orphan heads' leftovers: every part row not of a head's hash.
            live = {(aid, h["content_hash"]) for aid, h in heads.items()}
            parts = self._query(self.articles_name, "head == false", ["key", "article_id", "content_hash"])
            dead = [r["key"] for r in parts if (r["article_id"], r["content_hash"]) not in live]
            for start in range(0, len(dead), QUERY_BATCH):
                self.client.delete(self.articles_name, filter=_ids_expr("key", dead[start:start + QUERY_BATCH]))
            offset = 0
            batch: list[tuple[Article, Sequence[tuple[int, int, int]], np.ndarray]] = []
            for article, article_spans in zip(articles, spans):
                batch.append((article, article_spans, vectors[offset:offset + len(article_spans)]))
                offset += len(article_spans)
                if len(batch) >= ADD_BATCH_ARTICLES:
                    self._write(batch, {})
                    batch = []
            if batch:
                self._write(batch, {})
            self._settle()
            return len(chunk_texts)

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        heads = self._heads([article_id], with_text=True)
        head = heads.get(article_id)
        if head is None:
            return None
        text = self._full_texts(heads)[article_id]
        return Article(id=article_id, title=head["title"], text=text, url=head["url"],
                       published=_date(head["published"]), source=head["source"],
                       content_hash=head["content_hash"])

    def texts(self, article_ids: Iterable[str]) -> dict[str, str]:
        """``{article_id: text}`` for stored articles among ``article_ids``."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        return self._full_texts(self._heads(ids, with_text=True))

    @staticmethod
    def _summary(row: dict[str, Any]) -> ArticleSummary:
        return ArticleSummary(row["article_id"], row["title"], row["url"], _date(row["published"]),
                              row["source"], int(row["chunk_count"]), int(row["chars"]))

    @staticmethod
    def _newest_first(summaries: list[ArticleSummary]) -> list[ArticleSummary]:
        # As SQLite's ORDER BY published DESC, id: undated articles last.
        return sorted(summaries, key=lambda s: (s.published is None,
                                                -(s.published.toordinal() if s.published else 0), s.id))

    def list_articles(self) -> list[ArticleSummary]:
        """Every article's metadata, newest first."""
        rows = self._query(self.articles_name, "head == true", self._HEAD_FIELDS)
        return self._newest_first([self._summary(r) for r in rows])

    def summaries(self, article_ids: Sequence[str]) -> list[ArticleSummary]:
        """Metadata of the stored ones among ``article_ids``."""
        return self._newest_first([self._summary(r) for r in self._heads(list(article_ids)).values()])

    def count(self) -> int:
        """Number of chunks."""
        if not self._chunks_ready():
            return 0
        rows = self.client.query(self.chunks_name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Live chunk records by id: only chunks of an article's committed version; the
        text equals ``article.text[start:end]``."""
        ids = [int(c) for c in chunk_ids]
        if not ids or not self._chunks_ready():
            return {}
        rows = self._query_in(self.chunks_name, "id", ids,
                              ["id", "article_id", "content_hash", "idx", "start_char", "end_char", "text"])
        heads = self._heads(sorted({r["article_id"] for r in rows}))
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

    @staticmethod
    def filter_expr(filters: SearchFilters | None) -> str:
        """The Milvus scalar filter expression of ``filters`` ("" = none)."""
        if filters is None or not filters.active:
            return ""
        clauses = []
        if filters.source:
            clauses.append(f"source_key == {_q(filters.source.lower())}")
        if filters.since:
            clauses.append(f"published >= {filters.since.toordinal()}")
        if filters.until:
            clauses.append(f"published > 0 and published <= {filters.until.toordinal()}")
        return " and ".join(clauses)

    def dense_search(self, vector: np.ndarray, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, inner product)`` by Milvus ANN search."""
        if k <= 0 or not self._chunks_ready():
            return []
        cfg = self.settings.index
        index_type, _ = self._dense_index()
        params: dict[str, Any] = {}
        if index_type == "HNSW":
            params = {"ef": max(cfg.hnsw_ef_search, k)}
        elif index_type == "IVF_FLAT":
            params = {"nprobe": cfg.ivf_nprobe}
        hits = self.client.search(self.chunks_name, data=[np.asarray(vector, dtype=np.float32).tolist()],
                                  anns_field="vector", limit=min(k, 16384), filter=self.filter_expr(filters),
                                  output_fields=["id"], search_params={"metric_type": "IP", "params": params})
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]] if hits else []

    def lexical_search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
        """Top ``k`` ``(chunk_id, bm25)`` by Milvus full-text search (the BM25 function)."""
        terms = lexical_terms(query)
        if not terms or k <= 0 or not self._chunks_ready():
            return []
        hits = self.client.search(self.chunks_name, data=[" ".join(terms)], anns_field="sparse",
                                  limit=min(k, 16384), filter=self.filter_expr(filters), output_fields=["id"],
                                  search_params={"metric_type": "BM25"})
        # Milvus returns BM25 scores best first; Milvus Lite reports them negated.
        return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0]] if hits else []

    def sources(self) -> dict[str, int]:
        """``{outlet: article count}``, most articles first."""
        counts: dict[str, int] = {}
        for row in self._query(self.articles_name, "head == true", ["source"]):
            counts[row["source"]] = counts.get(row["source"], 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def stats(self) -> Stats:
        """Counts, model and disk use (disk for Milvus Lite only)."""
        meta = self.meta()
        heads = self._query(self.articles_name, "head == true", ["source"])
        sources: dict[str, int] = {}
        for row in heads:
            sources[row["source"]] = sources.get(row["source"], 0) + 1
        chunks = self.count()
        disk = 0
        if self.lite:
            disk = sum(p.stat().st_size for p in Path(self.uri).rglob("*") if p.is_file())
        index_type, _ = self._dense_index()
        return Stats(articles=len(heads), chunks=chunks, dense_vectors=chunks, lexical_rows=chunks,
                     generation=int(meta.get("generation", 0)), embedder=meta.get("embedder_name", ""),
                     dimension=int(meta.get("dimension", 0)), faiss_type=f"milvus {index_type}",
                     data_dir=f"{self.uri} ({self.prefix}_*)", disk_bytes=disk,
                     sources=dict(sorted(sources.items(), key=lambda kv: -kv[1])))

    def index_health(self) -> dict[str, object]:
        """``/healthz``'s index state: Milvus holds vectors and BM25 itself, so nothing
        derived is kept on this machine (always ``{"status": "ok", "lexical": "milvus"}``)."""
        return {"status": "ok", "lexical": "milvus", "repairs": []}

    def verify(self) -> list[str]:
        """Check that article heads, text parts and chunks agree; returns the problems.

        Checks: the embedder fingerprint and vector dimension; every article's text parts
        are complete and its length matches; each article's committed chunks match its
        declared count, lie inside its text and their stored text equals
        ``article.text[start:end]``; no chunk or part is left of an uncommitted or removed
        version.
        """
        problems: list[str] = []
        meta = self.meta()
        heads = {r["article_id"]: r for r in self._query(self.articles_name, "head == true", self._HEAD_FIELDS + ["text"])}
        chunk_rows = (self._query(self.chunks_name, 'article_id != ""',
                                  ["id", "article_id", "content_hash", "idx", "start_char", "end_char", "text"])
                      if self._chunks_ready() else [])
        if chunk_rows and meta.get("embedder_fingerprint") != self.embedder.fingerprint:
            problems.append(f"embedder mismatch: index {meta.get('embedder_fingerprint')}, configured "
                            f"{self.embedder.fingerprint}")
        if self._chunks_ready():
            fields = {f["name"]: f for f in self.client.describe_collection(self.chunks_name)["fields"]}
            dim = int((fields.get("vector", {}).get("params") or {}).get("dim", 0))
            if meta.get("dimension") and dim != int(meta["dimension"]):
                problems.append(f"vector field has dimension {dim}, the index records {meta['dimension']}")
        try:
            texts = self._full_texts(heads)
        except ArchiveError as exc:
            problems.append(str(exc))
            texts = {aid: h["text"] for aid, h in heads.items() if int(h["parts"]) == 1}
        for aid, text in texts.items():
            if len(text) != int(heads[aid]["chars"]):
                problems.append(f"article {aid!r}: text has {len(text)} characters, its record says {heads[aid]['chars']}")
        live: dict[str, int] = {}
        orphans = 0
        bad = 0
        for r in chunk_rows:
            head = heads.get(r["article_id"])
            if head is None or head["content_hash"] != r["content_hash"]:
                orphans += 1
                continue
            live[r["article_id"]] = live.get(r["article_id"], 0) + 1
            text = texts.get(r["article_id"])
            start, end = int(r["start_char"]), int(r["end_char"])
            if text is None:
                continue
            if not (0 <= start < end <= len(text)) or r["text"] != _truncate_bytes(text[start:end]):
                bad += 1
                if bad <= 5:
                    problems.append(f"chunk {r['id']} of article {r['article_id']!r}: offsets or lexical text "
                                    "disagree with the article")
        for aid, head in heads.items():
            if live.get(aid, 0) != int(head["chunk_count"]):
                problems.append(f"article {aid!r} declares {head['chunk_count']} chunks, Milvus holds {live.get(aid, 0)}")
        if orphans:
            problems.append(f"{orphans} chunks belong to no stored article version (an interrupted add or "
                            "remove): re-run it, or `byline rebuild`")
        parts = self._query(self.articles_name, "head == false", ["article_id", "content_hash"])
        stray = sum(1 for r in parts if r["article_id"] not in heads
                    or heads[r["article_id"]]["content_hash"] != r["content_hash"])
        if stray:
            problems.append(f"{stray} text parts belong to no stored article version: re-run the add, or `byline rebuild`")
        return problems
