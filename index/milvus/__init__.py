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
- ``<prefix>_claims``: the attributed claims extracted at ingest (:mod:`index.milvus.claims`):
  one row per claim of an article version (scalar fields as SQLite's ``claims`` table,
  the claim's JSON, the content analysed for a BM25 function, the id of the chunk whose
  vector gives its dense relevance) and one marker row per version with its claim count.
- ``<prefix>_meta``: key/value rows: schema version, embedder fingerprint, name and
  dimension, and a generation counter bumped by each change.

Consistency without transactions: the head row is the commit marker. An add writes the
chunks, text parts and claims of the new content first, the head last, then deletes the
rows of the previous content. Readers only return chunks and claims whose content hash
equals their article head's, so an interrupted add or update is invisible, and re-running it
converges (ids are deterministic; rows of a content hash that never got a head are
deleted first). Removal deletes the head first, then chunks, parts and claims. ``verify``
reports leftovers and claims whose spans are not exact; ``rebuild`` re-chunks,
re-embeds and re-extracts the claims of everything.

Modules: :mod:`~index.milvus.client` (the connection, filter literals, queries),
:mod:`~index.milvus.schema` (the collections and the meta rows), :mod:`~index.milvus.rows`
(rows of an article version and back), :mod:`~index.milvus.search` (dense and BM25
search), :mod:`~index.milvus.claims` (claim rows, their reads for claim search and
checks), :mod:`~index.milvus.archive` (:class:`MilvusArchive`), :mod:`~index.milvus.verify` and :mod:`~index.milvus.migrate` (from the embedded archive).
"""

from index.milvus.archive import MilvusArchive
from index.milvus.client import resolve_uri
from index.milvus.rows import PART_BYTES, chunk_id, split_parts
from index.milvus.schema import SCHEMA_VERSION, VARCHAR_MAX
from index.milvus.search import lexical_terms

__all__ = ["MilvusArchive", "PART_BYTES", "SCHEMA_VERSION", "VARCHAR_MAX", "chunk_id", "lexical_terms",
           "resolve_uri", "split_parts"]
