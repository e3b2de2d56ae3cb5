"""``byline migrate --to milvus``: copy an embedded archive (SQLite + FAISS) into Milvus
without re-embedding or re-extracting claims. Chunk offsets, vectors and the extracted
claims are read through the embedded archive's :class:`~index.store.ArticleStore`; the
target's usual commit protocol writes them (an article whose claims were never extracted
there has none in Milvus either, and ``verify`` says so)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from index.base import AddResult, ArchiveError
from index.claims_store import extracted_claims

if TYPE_CHECKING:  # pragma: no cover
    from index.archive import Archive
    from index.milvus.archive import MilvusArchive


def import_embedded(target: "MilvusArchive", source: "Archive", *, progress: bool = False,
                    on_result: Callable[[AddResult], None] | None = None) -> list[AddResult]:
    """Copy ``source`` into ``target``: articles already there with the same content are
    ``unchanged``; re-running an interrupted migration converges. Results are in commit
    order (``on_result`` sees each as it is written)."""
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
        heads = target.heads(article_ids)
        claims = extracted_claims(store.connect(), article_ids)
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
            target.write_versions(items, heads, claims)
        if bar is not None:
            bar.update(len(article_ids))

    with target.write_lock():
        target.stamp_embedder(fingerprint, name, dimension)
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
                    if len(ready) >= target.settings.ingest.batch_articles:
                        flush(ready)
                        ready = []
            # Articles whose chunks did not all turn up (a damaged store) go as they are.
            leftovers = [a for a in declared if a not in done and a not in ready]
            flush(ready + leftovers)
        target.db.settle()
    if bar is not None:
        bar.close()
    return results
