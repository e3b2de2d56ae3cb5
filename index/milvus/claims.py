"""Attributed claims (:class:`corpus.claims.Claim`) in the Milvus ``<prefix>_claims``
collection: the rows of an article version's claims, the reads claim search needs
(:class:`MilvusClaims`, the Milvus archive's ``claims_index``) and ``verify``'s checks.

Rows (:func:`claim_rows`): one per claim of an article version, id deterministic from the
article id, content hash and the claim's index in the article (:func:`claim_id`), with the
scalar fields of the SQLite ``claims`` table (speaker name, cue lemma, role, content and
sentence offsets, figures as JSON), the claim's whole JSON in ``data``, the content
(analysed; Milvus's BM25 function makes ``sparse`` of it), ``chunk_id`` (the chunk whose
vector gives the claim's dense relevance, as in the SQLite path: the first chunk holding
the content's start; -1 for none) and the article's ``source_key`` / ``published`` for
the search filters. Plus one *marker* row (``idx`` = :data:`MARKER`, ``claims`` = the
number of claims) that says the version's claims were extracted, as SQLite's
``claim_articles`` does.

Consistency follows the chunks' protocol (:mod:`index.milvus`): claim rows are written
with the chunks, before the article head (the commit marker), and count only while their
content hash is the head's; removal deletes the head first, then chunks, parts and claims.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from corpus.article import Article
from corpus.claims import Claim, ClaimSpanError
from index.base import SearchFilters
from index.milvus.client import QUERY_LIMIT, q
from index.milvus.rows import chunk_id, date, ordinal
from index.milvus.schema import CLAIM_FIELDS, VARCHAR_MAX
from index.milvus.search import filter_expr, lexical_terms

if TYPE_CHECKING:  # pragma: no cover
    from index.milvus.archive import MilvusArchive

log = logging.getLogger(__name__)

MARKER = -1  # the ``idx`` of an article version's marker row
CHECKED = ["speaker", "cue_lemma", "role", "content", "content_start", "content_end", "sentence_start",
           "sentence_end", "figures"]  # scalar fields verify compares with the claim's JSON


def claim_id(article_id: str, content_hash: str, index: int) -> int:
    """The deterministic 63-bit id of claim ``index`` (or the marker, -1) of one version."""
    return chunk_id(article_id, "claim:" + content_hash, index)


def claim_fields(claim: Claim) -> dict[str, Any]:
    """The scalar fields of a claim's row (those of :data:`CHECKED`)."""
    return {"speaker": claim.speaker_name, "cue_lemma": claim.cue_lemma,
            "role": claim.role.text if claim.role else "", "content": claim.content.text,
            "content_start": claim.content.start, "content_end": claim.content.end,
            "sentence_start": claim.sentence.start, "sentence_end": claim.sentence.end,
            "figures": json.dumps([{"text": f.text, "start": f.start, "end": f.end, "kind": f.kind, "value": f.value}
                                   for f in claim.figures], ensure_ascii=False)}


def holding_chunk(article: Article, spans: Sequence[tuple[int, int, int]], start: int) -> int:
    """The id of the first chunk (by index) of ``spans`` with ``chunk_start <= start <
    chunk_end``, or -1."""
    for index, s, e in sorted(spans):
        if s <= start < e:
            return chunk_id(article.id, article.content_hash, index)
    return -1


def claim_rows(article: Article, spans: Sequence[tuple[int, int, int]], claims: Sequence[Claim]) -> list[dict]:
    """The rows of one article version's claims and its marker. Each claim is checked
    exact against ``article.text`` first: raises :class:`ClaimSpanError` naming the article
    and claim (nothing is written then). A claim whose JSON exceeds a VARCHAR (65,535
    bytes: a sentence that long) is left out with a warning, and not counted."""
    common = {"article_id": article.id, "content_hash": article.content_hash, "source_key": article.source.lower(),
              "published": ordinal(article.published)}
    rows: list[dict] = []
    for i, claim in enumerate(claims):
        try:
            claim.check(article.text)
        except ClaimSpanError as exc:
            raise ClaimSpanError(f"article {article.id!r}, claim {i}: {exc}") from None
        data = json.dumps(claim.to_dict(), ensure_ascii=False)
        if len(data.encode("utf-8")) > VARCHAR_MAX:
            log.warning("article %r, claim %d: longer than Milvus stores (%d bytes); left out", article.id, i,
                        VARCHAR_MAX)
            continue
        rows.append({**common, **claim_fields(claim), "id": claim_id(article.id, article.content_hash, i), "idx": i,
                     "chunk_id": holding_chunk(article, spans, claim.content.start), "data": data})
    for row in rows:
        row["claims"] = len(rows)
    marker = {**common, "id": claim_id(article.id, article.content_hash, MARKER), "idx": MARKER,
              "claims": len(rows), "chunk_id": -1, "speaker": "", "cue_lemma": "", "role": "", "content": "",
              "content_start": 0, "content_end": 0, "sentence_start": 0, "sentence_end": 0, "figures": "[]",
              "data": ""}
    return rows + [marker]


class MilvusClaims:
    """The claims of a :class:`~index.milvus.archive.MilvusArchive` as claim search reads
    them (same methods and shapes as :class:`index.claims_store.SQLiteClaims`): only the
    claims of an article's committed version (content hash of its head). Claim ids are
    ``int``; ``data`` the claim's JSON; ``published`` an ISO date string or None; vectors
    float32 bytes."""

    def __init__(self, archive: "MilvusArchive") -> None:
        self.archive = archive
        self.db = archive.db

    def ready(self) -> bool:
        """True: the claims collection is made when the archive opens."""
        return True

    def _live(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        heads = self.archive.heads(sorted({r["article_id"] for r in rows})) if rows else {}
        return [r for r in rows if r["article_id"] in heads
                and heads[r["article_id"]]["content_hash"] == r["content_hash"]], heads

    def candidates(self, filters: SearchFilters | None) -> list[tuple[int, bytes | None, str]]:
        """``(claim id, vector of the chunk holding its content or None, data)`` of the
        claims of the articles passing ``filters``."""
        extra = filter_expr(filters)
        rows, _ = self._live(self.db.query(self.db.claims_name, f"idx >= 0{' and ' + extra if extra else ''}",
                                           ["id", "article_id", "content_hash", "chunk_id", "data"]))
        vectors: dict[int, bytes] = {}
        chunk_ids = sorted({int(r["chunk_id"]) for r in rows if int(r["chunk_id"]) >= 0})
        if chunk_ids and self.db.chunks_ready():
            for c in self.db.query_in(self.db.chunks_name, "id", chunk_ids, ["id", "vector"]):
                vectors[int(c["id"])] = np.asarray(c["vector"], dtype=np.float32).tobytes()
        return [(int(r["id"]), vectors.get(int(r["chunk_id"])), r["data"]) for r in rows]

    def bm25(self, query: str, limit: int) -> list[int]:
        """Claim ids whose content matches ``query``'s words (the BM25 function), best first
        (uncommitted ones included: callers keep those among :meth:`candidates`)."""
        terms = lexical_terms(query)
        if not terms or limit <= 0:
            return []
        hits = self.db.client.search(self.db.claims_name, data=[" ".join(terms)], anns_field="sparse",
                                     limit=min(limit, QUERY_LIMIT), filter="idx >= 0", output_fields=["id"],
                                     search_params={"metric_type": "BM25"})
        return [int(h["id"]) for h in hits[0]] if hits else []

    def with_siblings(self, claim_id: int) -> tuple[str, list[tuple[int, str]]]:
        """``(data, [(id, data)] of the other claims of its article version in text order)``.
        Raises ``KeyError`` for an unknown id."""
        found = self.db.query_in(self.db.claims_name, "id", [int(claim_id)], ["article_id", "content_hash", "data"])
        if not found:
            raise KeyError(claim_id)
        row = found[0]
        others = self.db.query(self.db.claims_name, f"article_id == {q(row['article_id'])} and content_hash == "
                               f"{q(row['content_hash'])} and idx >= 0 and id != {int(claim_id)}",
                               ["id", "idx", "data"])
        return row["data"], [(int(r["id"]), r["data"]) for r in sorted(others, key=lambda r: int(r["idx"]))]

    def with_articles(self, claim_ids: Sequence[int]) -> dict[int, tuple]:
        """``{id: (id, article_id, title, source, published, data)}`` of the live ones."""
        rows, heads = self._live(self.db.query_in(self.db.claims_name, "id", [int(c) for c in claim_ids],
                                                  ["id", "article_id", "content_hash", "data"]))
        out: dict[int, tuple] = {}
        for r in rows:
            head = heads[r["article_id"]]
            day: dt.date | None = date(head["published"])
            out[int(r["id"])] = (int(r["id"]), r["article_id"], head["title"], head["source"],
                                 day.isoformat() if day else None, r["data"])
        return out

    def of_articles(self, article_ids: Sequence[str]) -> list[tuple[int, str, str]]:
        """``[(id, article_id, data)]`` of the claims of ``article_ids``, by article then text order."""
        if not article_ids:
            return []
        rows, _ = self._live(self.db.query_in(self.db.claims_name, "article_id", list(article_ids),
                                              ["id", "article_id", "content_hash", "idx", "data"], extra="idx >= 0"))
        rows.sort(key=lambda r: (r["article_id"], int(r["idx"])))
        return [(int(r["id"]), r["article_id"], r["data"]) for r in rows]

    def count(self) -> int:
        """Stored claim rows (markers aside; uncommitted leftovers counted, as in SQLite)."""
        rows = self.db.client.query(self.db.claims_name, filter="idx >= 0", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0


def verify_claims(archive: "MilvusArchive", heads: dict[str, dict[str, Any]], texts: dict[str, str],
                  chunk_rows: list[dict[str, Any]], expect_extracted: bool, limit: int = 5) -> list[str]:
    """Problems of the stored claims (empty = healthy): claim rows of no stored article
    version; a claim whose spans are not exact in its article's text (every field, by
    :meth:`Claim.check`), whose scalar fields disagree with its JSON, or whose ``chunk_id``
    is not a live chunk holding its content; an article whose marker's count differs from
    its claim rows; and (with ``expect_extracted``) articles whose claims were never
    extracted. ``heads``, ``texts``, ``chunk_rows``: as :func:`index.milvus.verify.verify` read them."""
    db = archive.db
    problems: list[str] = []
    chunks = {int(r["id"]): r for r in chunk_rows
              if r["article_id"] in heads and heads[r["article_id"]]["content_hash"] == r["content_hash"]}
    orphans = bad = 0
    declared: dict[str, int] = {}
    stored: dict[str, int] = {}
    for r in db.query(db.claims_name, 'article_id != ""', CLAIM_FIELDS):
        aid = r["article_id"]
        if aid not in heads or heads[aid]["content_hash"] != r["content_hash"]:
            orphans += 1
            continue
        if int(r["idx"]) == MARKER:
            declared[aid] = int(r["claims"])
            continue
        stored[aid] = stored.get(aid, 0) + 1
        if aid not in texts:
            continue
        try:
            claim = Claim.from_dict(json.loads(r["data"])).check(texts[aid])
            for name, value in claim_fields(claim).items():
                if r[name] != value:
                    raise ClaimSpanError(f"claim field {name!r}: the stored {r[name]!r} disagrees with the claim")
            chunk = chunks.get(int(r["chunk_id"]))
            if chunk is None or not int(chunk["start_char"]) <= claim.content.start < int(chunk["end_char"]):
                raise ClaimSpanError(f"chunk {r['chunk_id']} does not hold the claim's content")
        except (ClaimSpanError, KeyError, TypeError, ValueError) as exc:
            bad += 1
            if bad <= limit:
                problems.append(f"claim {r['id']} of article {aid!r}: {exc}")
    if bad > limit:
        problems.append(f"... and {bad - limit} more claims with bad spans")
    if orphans:
        problems.append(f"{orphans} claim rows belong to no stored article version (an interrupted add or "
                        "remove): re-run it, or `byline rebuild`")
    wrong = [aid for aid in sorted(set(declared) | set(stored)) if declared.get(aid, -1) != stored.get(aid, 0)]
    for aid in wrong[:limit]:
        said = declared.get(aid)
        problems.append(f"article {aid!r} declares {'no extraction' if said is None else f'{said} claims'}, "
                        f"Milvus holds {stored.get(aid, 0)}")
    if len(wrong) > limit:
        problems.append(f"... and {len(wrong) - limit} more articles whose claim counts disagree")
    missing = sum(1 for aid in heads if aid not in declared and aid not in stored)
    if expect_extracted and missing:
        problems.append(f"{missing} articles have no extracted claims (added before claims existed): "
                        "run `byline rebuild` to extract them")
    return problems
