"""``verify`` for the Milvus backend: article heads, text parts, chunks and claims agree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.base import ArchiveError
from index.milvus.claims import verify_claims
from index.milvus.rows import truncate_bytes

if TYPE_CHECKING:  # pragma: no cover
    from index.milvus.archive import MilvusArchive


def verify(archive: "MilvusArchive") -> list[str]:
    """Check that article heads, text parts, chunks and claims agree; returns the problems.

    Checks: the embedder fingerprint and vector dimension; every article's text parts
    are complete and its length matches; each article's committed chunks match its
    declared count, lie inside its text and their stored text equals
    ``article.text[start:end]``; no chunk or part is left of an uncommitted or removed
    version; every claim's spans are exact in its article, no claim is left without its
    article version, and (with ``index.claims``) every article's claims were extracted
    (:func:`~index.milvus.claims.verify_claims`).
    """
    db = archive.db
    problems: list[str] = []
    meta = db.meta()
    heads = archive.all_heads()
    chunk_rows = db.chunk_rows()
    if chunk_rows and meta.get("embedder_fingerprint") != archive.embedder.fingerprint:
        problems.append(f"embedder mismatch: index {meta.get('embedder_fingerprint')}, configured "
                        f"{archive.embedder.fingerprint}")
    if db.chunks_ready():
        fields = {f["name"]: f for f in db.client.describe_collection(db.chunks_name)["fields"]}
        dim = int((fields.get("vector", {}).get("params") or {}).get("dim", 0))
        if meta.get("dimension") and dim != int(meta["dimension"]):
            problems.append(f"vector field has dimension {dim}, the index records {meta['dimension']}")
    try:
        texts = archive.full_texts(heads)
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
        if not (0 <= start < end <= len(text)) or r["text"] != truncate_bytes(text[start:end]):
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
    parts = db.query(db.articles_name, "head == false", ["article_id", "content_hash"])
    stray = sum(1 for r in parts if r["article_id"] not in heads
                or heads[r["article_id"]]["content_hash"] != r["content_hash"])
    if stray:
        problems.append(f"{stray} text parts belong to no stored article version: re-run the add, or `byline rebuild`")
    problems.extend(verify_claims(archive, heads, texts, chunk_rows, archive.settings.index.claims))
    return problems
