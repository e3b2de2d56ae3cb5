"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by reciprocal
rank fusion (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet
and individual Rank Learning Methods", SIGIR 2009): ``score(d) = sum_r w_r / (k + rank_r(d))``
with k = 60 as in the paper.

On news, BM25 is as strong as dense retrieval of the MiniLM generation (BEIR, TREC-NEWS),
so both are fused rather than one re-ranking the other.
"""

from __future__ import annotations

from typing import Literal, Sequence

from config.settings import RetrievalSettings
from index.base import IndexBackend, SearchFilters
from retrieval.readers.base import TextEmbedder
from retrieval.types import Passage

Mode = Literal["hybrid", "dense", "lexical"]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], weights: Sequence[float],
                           k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked id lists: ``[(id, score)]`` sorted by descending fused score.

    ``rankings[r]`` is retriever r's ids, best first; ``weights[r]`` its weight; ``k`` the
    RRF constant. Ties keep the order in which ids were first seen.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking is needed")
    if k < 1:
        raise ValueError(f"RRF k must be >= 1, got {k}")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


class HybridRetriever:
    """Finds passages for a query in an index backend.

    ``mode`` "hybrid" fuses both retrievers; "dense" and "lexical" use one (the baselines
    of ``byline eval``). Works on an empty index (returns []) and when ``k`` exceeds the
    number of chunks (returns all).
    """

    def __init__(self, backend: IndexBackend, embedder: TextEmbedder, settings: RetrievalSettings) -> None:
        self.backend = backend
        self.embedder = embedder
        self.settings = settings

    def retrieve(self, query: str, k: int | None = None, filters: SearchFilters | None = None,
                 mode: Mode = "hybrid") -> list[Passage]:
        """Top ``k`` passages (default ``retrieval.top_k``), best first."""
        k = k or self.settings.top_k
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if not query.strip() or self.backend.count() == 0:
            return []
        depth = max(self.settings.candidates, k)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed([query])[0]
            dense = self.backend.dense_search(vector, depth, filters)
        if mode in ("hybrid", "lexical"):
            lexical = self.backend.lexical_search(query, depth, filters)
        dense_rank = {cid: r for r, (cid, _) in enumerate(dense, start=1)}
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical, start=1)}
        if mode == "dense":
            fused = dense
        elif mode == "lexical":
            fused = lexical
        else:
            fused = reciprocal_rank_fusion(
                [[c for c, _ in dense], [c for c, _ in lexical]],
                [self.settings.dense_weight, self.settings.lexical_weight], self.settings.rrf_k)
        # Fetch a little more than k: a chunk may vanish if its article was just removed.
        wanted = fused[: k + 8]
        records = self.backend.chunks([cid for cid, _ in wanted])
        meta = self._article_meta({r.article_id for r in records.values()})
        passages: list[Passage] = []
        for cid, score in wanted:
            record = records.get(cid)
            if record is None:
                continue
            title, url, source, published = meta.get(record.article_id, ("", "", "", None))
            passages.append(Passage(chunk_id=cid, article_id=record.article_id, title=title,
                                    start=record.start, end=record.end, text=record.text,
                                    score=float(score), url=url, source=source, published=published,
                                    dense_rank=dense_rank.get(cid), lexical_rank=lexical_rank.get(cid)))
            if len(passages) == k:
                break
        return passages

    def _article_meta(self, article_ids: set[str]) -> dict[str, tuple[str, str, str, str | None]]:
        summaries = self.backend.summaries(sorted(article_ids)) if article_ids else []
        return {s.id: (s.title, s.url, s.source, s.published.isoformat() if s.published else None)
                for s in summaries}
