"""Search over the archive's attributed claims, and grouping of claims about one quantity.

Ranking: BM25 over the claims' contents (FTS5, or Milvus's BM25 function), fused by reciprocal rank fusion
(:func:`retrieval.retriever.reciprocal_rank_fusion`, the retrieval settings' weights and
``rrf_k``) with dense relevance: the cosine of the query's embedding (the archive's
embedder) and the stored vector of the chunk that holds the claim's content (claims are
not embedded at ingest: that alone cost more than half of ``add``'s time per article,
``bench/claims_ingest.py``). Exact cosine over the chunks holding claims that pass the
filters is read per query: fine for a few thousand articles; a FAISS (or Milvus) search
restricted to those chunks is the next step beyond that. The stored claims are read
through the backend's ``claims_index`` (:class:`index.claims_store.SQLiteClaims`,
:class:`index.milvus.claims.MilvusClaims`).

Grouping (:func:`group_claims`): results about the same quantity sit side by side so that
disagreement is visible: the other claims of a result's sentence are listed right after
it (the seed's "as many as 5,000 ... (though other estimates put the number far lower)"),
and claims with figures from different speakers or dates whose contents share at least
:data:`SAME_QUANTITY_OVERLAP` of their content words are put in one group.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from corpus.claims import Claim
from index.base import ArchiveError, SearchFilters

__all__ = ["ClaimHit", "SAME_QUANTITY_OVERLAP", "claims_index", "group_claims", "search_claims"]

SAME_QUANTITY_OVERLAP = 0.3  # Jaccard of content words; our choice, not tuned on a measurement
MIN_COSINE = 0.2  # a claim whose chunk is below this and without a BM25 match is not a result


@dataclass(frozen=True)
class ClaimHit:
    """One search result: the claim, its article's id, title, outlet and date, its score
    (fused RRF, higher is better), its group (results with one group id are about the
    same quantity) and whether that group's claims give more than one distinct figure
    (``figures_differ``: a disagreement, shown as such by the chat and the widget)."""

    claim_id: int
    article_id: str
    title: str
    source: str
    published: dt.date | None
    claim: Claim
    score: float
    group: int = 0
    figures_differ: bool = False

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: speaker (resolved name), speaker as written, role, cue, content,
        figures, date and the citation (article id + exact content span)."""
        c = self.claim
        return {
            "claim_id": self.claim_id, "group": self.group, "figures_differ": self.figures_differ,
            "score": round(self.score, 6),
            "speaker": c.speaker_name,
            "speaker_as_written": {"text": c.speaker.text, "start": c.speaker.start, "end": c.speaker.end},
            "resolved": None if c.resolved is None else
            {"text": c.resolved.text, "start": c.resolved.start, "end": c.resolved.end},
            "role": c.role.text if c.role else None, "cue": c.cue.text, "cue_lemma": c.cue_lemma,
            "content": c.content.text,
            "figures": [{"text": f.text, "start": f.start, "end": f.end, "kind": f.kind, "value": f.value}
                        for f in c.figures],
            "date": self.published.isoformat() if self.published else None,
            "citation": {"article_id": self.article_id, "title": self.title, "source": self.source,
                         "start": c.content.start, "end": c.content.end, "quote": c.content.text,
                         "sentence": {"start": c.sentence.start, "end": c.sentence.end}},
        }


def search_claims(archive, embedder, query: str, *, k: int = 10, speaker: str | None = None,
                  filters: SearchFilters | None = None) -> list[ClaimHit]:
    """The ``k`` claims of ``archive`` most relevant to ``query``, grouped
    (:func:`group_claims`). ``archive``: a backend with a ``claims_index``
    (:class:`index.claims_store.SQLiteClaims` for the embedded backend,
    :class:`index.milvus.claims.MilvusClaims` for Milvus). ``speaker``: case-insensitive
    substring of the speaker's name, as written or resolved, or of the role; then every
    claim of that speaker is a candidate, ranked by relevance (without it, one below
    :data:`MIN_COSINE` and without a BM25 match is not a result). ``filters``: outlet /
    date range of the article. Fusion uses the archive's ``retrieval.rrf_k``,
    ``dense_weight`` and ``lexical_weight``, as passage retrieval does. Raises
    ``ValueError`` for an empty query or k < 1, and :class:`ArchiveError` for a backend
    that has no claims index at all."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError("query: must be a non-empty string")
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    index = claims_index(archive)
    if index is None:
        raise ArchiveError("this index backend stores no attributed claims")
    if not index.ready():
        return []
    with archive.read_snapshot():
        rows = index.candidates(filters)
        if speaker:
            rows = [r for r in rows if _speaker_matches(Claim.from_dict(json.loads(r[2])), speaker)]
        rows = [(r[0], r[1]) for r in rows]
        if not rows:
            return []
        allowed = {r[0] for r in rows}
        dense = _dense_ranking(embedder, query, rows)
        lexical = [cid for cid in index.bm25(query, 200) if cid in allowed]
        from retrieval.retriever import reciprocal_rank_fusion

        # With a speaker named, every claim of theirs is listed, ranked; else a claim must
        # be on the query's topic (cosine or a BM25 match).
        keep = {cid for cid, cos in dense if speaker or cos >= MIN_COSINE} | set(lexical)
        r = archive.settings.retrieval
        fused = reciprocal_rank_fusion([[cid for cid, _ in dense if cid in keep], lexical],
                                       [r.dense_weight, r.lexical_weight], r.rrf_k)[:k]
        fused = _with_companions(index, fused, allowed)
        hits = _hits(index, fused)
    return group_claims(hits)


def claims_index(backend):
    """``backend.claims_index``, or None for a backend without one (then it stores no claims)."""
    return getattr(backend, "claims_index", None)


def _speaker_matches(claim: Claim, speaker: str) -> bool:
    needle = speaker.strip().lower()
    fields = [claim.speaker_name, claim.speaker.text, claim.role.text if claim.role else ""]
    return any(needle in f.lower() for f in fields)


def _dense_ranking(embedder, query: str, rows: Sequence[tuple]) -> list[tuple[int, float]]:
    with_vectors = [(cid, v) for cid, v in rows if v is not None]
    if not with_vectors:
        return []
    q = embedder.embed([query])[0]
    matrix = np.frombuffer(b"".join(v for _, v in with_vectors), dtype=np.float32).reshape(len(with_vectors), -1)
    scores = matrix @ q
    order = np.argsort(-scores, kind="stable")
    return [(with_vectors[i][0], float(scores[i])) for i in order]


def _with_companions(index, fused: list[tuple[int, float]], allowed: set[int]) -> list[tuple[int, float]]:
    """``fused`` plus, right after each claim, the other claims of its sentence (the seed's
    "(though other estimates put the number far lower)"), so disagreement is beside it."""
    out: list[tuple[int, float]] = []
    seen: set[int] = set()
    for cid, score in fused:
        if cid in seen:
            continue
        out.append((cid, score))
        seen.add(cid)
        data, siblings = index.with_siblings(cid)
        sentence = json.loads(data)["sentence"]
        for other, data in siblings:
            s = json.loads(data)["sentence"]
            if other not in seen and other in allowed and s["start"] < sentence["end"] and sentence["start"] < s["end"]:
                out.append((other, score))
                seen.add(other)
    return out


def _hits(index, fused: list[tuple[int, float]]) -> list[ClaimHit]:
    if not fused:
        return []
    rows = index.with_articles([cid for cid, _ in fused])
    out = []
    for cid, score in fused:
        r = rows[cid]
        out.append(ClaimHit(cid, r[1], r[2], r[3] or "", dt.date.fromisoformat(r[4]) if r[4] else None,
                            Claim.from_dict(json.loads(r[5])), score))
    return out


def group_claims(hits: list[ClaimHit]) -> list[ClaimHit]:
    """``hits`` with group ids (1, 2, ... by best rank), members of a group moved next to
    its best-ranked claim. Two claims share a group when they come from one article and
    their sentences overlap (speakers differ), or when both have figures, speakers or
    dates differ, and their contents' content words (:func:`index.lexical.query_terms`)
    overlap by a Jaccard of at least :data:`SAME_QUANTITY_OVERLAP`."""
    from index.lexical import query_terms

    words = [set(query_terms(h.claim.content.text)) for h in hits]
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(hits):
        for j in range(i + 1, len(hits)):
            b = hits[j]
            differ = a.claim.speaker_name != b.claim.speaker_name
            same_sentence = a.article_id == b.article_id and differ and \
                a.claim.sentence.start < b.claim.sentence.end and b.claim.sentence.start < a.claim.sentence.end
            similar = False
            if a.claim.figures and b.claim.figures and (differ or a.published != b.published) and words[i] | words[j]:
                similar = len(words[i] & words[j]) / len(words[i] | words[j]) >= SAME_QUANTITY_OVERLAP
            if same_sentence or similar:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(hits)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for number, root in enumerate(sorted(groups, key=lambda r: min(groups[r])), start=1):
        differ = figures_differ([hits[i] for i in groups[root]])
        out.extend(_with_group(hits[i], number, differ) for i in groups[root])
    return out


def figures_differ(group: Sequence[ClaimHit]) -> bool:
    """True when a group of two or more claims gives different figures: two of its claims
    with figures whose figure texts (case and surrounding spaces aside) are not the same.
    "$1.2 billion" against "$310 million" differ; one claim with several figures, or two
    speakers giving "5,000", do not."""
    if len(group) < 2:
        return False
    sets = {frozenset(f.text.strip().lower() for f in h.claim.figures) for h in group if h.claim.figures}
    return len(sets) > 1


def _with_group(hit: ClaimHit, group: int, differ: bool) -> ClaimHit:
    from dataclasses import replace

    return replace(hit, group=group, figures_differ=differ)
