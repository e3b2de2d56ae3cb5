"""Dense (ANN over ``vector``) and lexical (the BM25 function over ``sparse``) search in
the chunks collection, with the scalar filters of :class:`~index.base.SearchFilters`."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from index.base import SearchFilters
from index.lexical import STOPWORDS
from index.milvus.client import QUERY_LIMIT, q
from index.milvus.schema import Collections


def lexical_terms(query: str) -> list[str]:
    """The content words of a query, as :func:`index.fts.fts_query` picks them."""
    terms: list[str] = []
    # Milvus's own BM25 analyser indexes the raw words (no diacritic folding), so the
    # query keeps them as written (unlike index.lexical.query_terms).
    for token in re.findall(r"\w+", query.lower()):
        if token in STOPWORDS or token in terms or (len(token) == 1 and not token.isdigit()):
            continue
        terms.append(token)
    return terms


def filter_expr(filters: SearchFilters | None) -> str:
    """The Milvus scalar filter expression of ``filters`` ("" = none)."""
    if filters is None or not filters.active:
        return ""
    clauses = []
    if filters.source:
        clauses.append(f"source_key == {q(filters.source.lower())}")
    if filters.since:
        clauses.append(f"published >= {filters.since.toordinal()}")
    if filters.until:
        clauses.append(f"published > 0 and published <= {filters.until.toordinal()}")
    return " and ".join(clauses)


def dense_search(db: Collections, vector: np.ndarray, k: int,
                 filters: SearchFilters | None = None) -> list[tuple[int, float]]:
    """Top ``k`` ``(chunk_id, inner product)`` by Milvus ANN search."""
    if k <= 0 or not db.chunks_ready():
        return []
    cfg = db.settings
    index_type, _ = db.dense_index()
    params: dict[str, Any] = {}
    if index_type == "HNSW":
        params = {"ef": max(cfg.hnsw_ef_search, k)}
    elif index_type == "IVF_FLAT":
        params = {"nprobe": cfg.ivf_nprobe}
    hits = db.client.search(db.chunks_name, data=[np.asarray(vector, dtype=np.float32).tolist()],
                            anns_field="vector", limit=min(k, QUERY_LIMIT), filter=filter_expr(filters),
                            output_fields=["id"], search_params={"metric_type": "IP", "params": params})
    return [(int(h["id"]), float(h["distance"])) for h in hits[0]] if hits else []


def lexical_search(db: Collections, query: str, k: int,
                   filters: SearchFilters | None = None) -> list[tuple[int, float]]:
    """Top ``k`` ``(chunk_id, bm25)`` by Milvus full-text search (the BM25 function)."""
    terms = lexical_terms(query)
    if not terms or k <= 0 or not db.chunks_ready():
        return []
    hits = db.client.search(db.chunks_name, data=[" ".join(terms)], anns_field="sparse",
                            limit=min(k, QUERY_LIMIT), filter=filter_expr(filters), output_fields=["id"],
                            search_params={"metric_type": "BM25"})
    # Milvus returns BM25 scores best first; Milvus Lite reports them negated.
    return [(int(h["id"]), abs(float(h["distance"]))) for h in hits[0]] if hits else []
