"""The four Milvus collections of an archive (``<prefix>_chunks``, ``<prefix>_articles``,
``<prefix>_claims``, ``<prefix>_meta``: see :mod:`index.milvus`), created, loaded and
flushed by :class:`Collections`, which also keeps the meta rows."""

from __future__ import annotations

from typing import Any

from config.settings import IndexSettings
from index.base import ArchiveError
from index.milvus.client import query_all, query_in

# The layout of the Milvus collections (not the embedded store's SQLite schema, which has
# its own version in index.store).
SCHEMA_VERSION = 1
# Milvus caps a VARCHAR at 65,535 bytes; text is split into parts of at most
# index.milvus.rows.PART_BYTES and BM25 text of an (unusual) longer chunk is truncated.
VARCHAR_MAX = 65_535
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
CHUNK_FIELDS = ["id", "article_id", "content_hash", "idx", "start_char", "end_char", "text"]
CLAIM_FIELDS = ["id", "article_id", "content_hash", "idx", "claims", "chunk_id", "speaker", "cue_lemma", "role",
                "content", "content_start", "content_end", "sentence_start", "sentence_end", "figures", "data"]


def _add_version_keys(schema) -> None:
    """The fields that key a row of one article version, first in the chunks and claims
    collections: ``id`` (primary), ``article_id``, ``content_hash``, ``idx``."""
    from pymilvus import DataType

    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("article_id", DataType.VARCHAR, max_length=ID_MAX_LENGTH)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=HASH_LENGTH)
    schema.add_field("idx", DataType.INT64)


class Collections:
    """One archive's collections on one client: names, creation, loading, flushing, the
    meta rows and queries. ``lite``: Milvus Lite (in-process) rather than a server."""

    def __init__(self, client: Any, uri: str, lite: bool, prefix: str, settings: IndexSettings) -> None:
        self.client = client
        self.uri = uri
        self.lite = lite
        self.prefix = prefix
        self.settings = settings
        self.chunks_name = f"{prefix}_chunks"
        self.articles_name = f"{prefix}_articles"
        self.meta_name = f"{prefix}_meta"
        self.claims_name = f"{prefix}_claims"
        self._has_chunks: bool | None = None

    def prepare(self, create: bool) -> None:
        """Check (with ``create``: make) the meta and articles collections and load them;
        the chunks collection is made by the first add, with the embedder's dimension. The
        claims collection is made whenever it is missing (an archive made before claims
        gets it empty: the change is additive, the schema version stays 1)."""
        existing = set(self.client.list_collections())
        if self.meta_name not in existing:
            if not create:
                raise ArchiveError(f"no Byline index in Milvus at {self.uri} (collections {self.prefix}_*): "
                                   "add articles first: byline add ...")
            self._create_meta()
            self._create_articles()
            self.upsert_meta({"schema_version": SCHEMA_VERSION, "generation": 0})
        elif self.articles_name not in existing:
            self._create_articles()
        if self.claims_name not in existing:
            self.create_claims()
        for name in (self.meta_name, self.articles_name, self.claims_name):
            self.client.load_collection(name)
        self._has_chunks = None
        self.chunks_ready()

    def _schema(self):
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

    def dense_index(self) -> tuple[str, dict[str, Any]]:
        """``(Milvus index type, build params)`` of the vector field, from ``index.faiss_type``
        (``auto``: FLAT on Milvus Lite, HNSW on a server)."""
        cfg = self.settings
        kind = cfg.faiss_type
        if kind == "auto":
            kind = "flat" if self.lite else "hnsw"
        if kind == "hnsw":
            return "HNSW", {"M": cfg.hnsw_m, "efConstruction": max(200, cfg.hnsw_m * 4)}
        if kind == "ivf":
            return "IVF_FLAT", {"nlist": cfg.ivf_nlist or 1024}
        return "FLAT", {}

    def create_chunks(self, dimension: int) -> None:
        """Create the chunks collection: dense vectors of ``dimension`` and the BM25 function."""
        from pymilvus import DataType, Function, FunctionType

        schema = self._schema()
        _add_version_keys(schema)
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
        index_type, params = self.dense_index()
        index.add_index("vector", index_type=index_type, metric_type="IP", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=dict(BM25_PARAMS))
        self._create(self.chunks_name, schema, index)
        self._has_chunks = True

    def create_claims(self) -> None:
        """Create the claims collection: one row per attributed claim of an article version
        (scalar fields mirroring the SQLite ``claims`` table, the claim's JSON in ``data``,
        the content analysed for the BM25 function into ``sparse``) and one *marker* row
        (``idx`` -1, ``claims`` = the version's claim count) saying its claims were
        extracted. No dense vector: dense relevance uses the vector of chunk ``chunk_id``."""
        from pymilvus import DataType, Function, FunctionType

        schema = self._schema()
        _add_version_keys(schema)
        schema.add_field("claims", DataType.INT64)
        schema.add_field("chunk_id", DataType.INT64)
        for name in ("speaker", "cue_lemma", "role", "figures", "data", "source_key"):
            schema.add_field(name, DataType.VARCHAR, max_length=VARCHAR_MAX)
        schema.add_field("content", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                         analyzer_params=ANALYZER)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        for name in ("content_start", "content_end", "sentence_start", "sentence_end", "published"):
            schema.add_field(name, DataType.INT64)
        schema.add_function(Function(name="claims_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["content"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=dict(BM25_PARAMS))
        self._create(self.claims_name, schema, index)

    def drop_claims(self) -> None:
        """Drop and recreate the claims collection (``rebuild`` rewrites every claim)."""
        if self.client.has_collection(self.claims_name):
            self.client.drop_collection(self.claims_name)
        self.create_claims()

    def drop_chunks(self) -> None:
        """Drop the chunks collection (``rebuild``; the next stamp recreates it)."""
        if self.client.has_collection(self.chunks_name):
            self.client.drop_collection(self.chunks_name)
        self._has_chunks = False

    def chunks_ready(self) -> bool:
        """True when the chunks collection exists (loaded on first sight)."""
        if not self._has_chunks:
            self._has_chunks = self.client.has_collection(self.chunks_name)
            if self._has_chunks:
                self.client.load_collection(self.chunks_name)
        return bool(self._has_chunks)

    def settle(self) -> None:
        """Milvus Lite: seal written rows into indexed segments (searches over its
        unsealed memtable scan every row in Python: 100x slower). A Milvus server seals
        and indexes by itself, and rate-limits explicit flushes, so this is Lite only."""
        if self.lite:
            for name in (self.articles_name, self.claims_name, self.chunks_name):
                if name != self.chunks_name or self.chunks_ready():
                    self.client.flush(name)

    # -- meta ----------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        """All metadata keys (schema_version, generation, embedder_*, dimension)."""
        rows = self.client.query(self.meta_name, filter='key != ""', output_fields=["key", "value"], limit=1000)
        return {r["key"]: r["value"] for r in rows}

    def upsert_meta(self, values: dict[str, object]) -> None:
        """Set metadata keys (values stored as strings)."""
        self.client.upsert(self.meta_name, [{"key": k, "value": str(v), "v": [0.0] * DUMMY_DIM}
                                            for k, v in values.items()])

    def bump_generation(self) -> None:
        """Count one more change."""
        self.upsert_meta({"generation": int(self.meta().get("generation", "0")) + 1})

    # -- queries -------------------------------------------------------------------------------
    def query(self, name: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
        """All rows of ``name`` matching ``expr`` (:func:`~index.milvus.client.query_all`)."""
        return query_all(self.client, self.lite, name, expr, fields)

    def query_in(self, name: str, field: str, values: Any, fields: list[str], extra: str = "") -> list[dict[str, Any]]:
        """Rows of ``name`` whose ``field`` is among ``values`` (:func:`~index.milvus.client.query_in`)."""
        return query_in(self.client, name, field, values, fields, extra)

    def chunk_rows(self, expr: str = 'article_id != ""') -> list[dict[str, Any]]:
        """Every chunk row matching ``expr`` (none before the first add)."""
        return self.query(self.chunks_name, expr, CHUNK_FIELDS) if self.chunks_ready() else []
