"""The part of ``add`` every backend shares: reading inputs in order, passing loader
rejections through, catching two different articles under one id in one call, and
handing batches to the backend's own commit step."""

from __future__ import annotations

from typing import Callable, Iterable

from corpus.article import Article
from corpus.loaders import LoadResult
from index.base import AddResult

Batch = list[tuple[str, Article]]
Emit = Callable[[AddResult], None]


def article_where(article: Article) -> str:
    """A label for an article passed without a loader: its URL or id."""
    return article.url or article.id


def progress_bar(enabled: bool):  # a tqdm bar or None
    """A tqdm bar counting articles, or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit="article", desc="adding", leave=False)


class BatchIds:
    """The ids seen so far in one ``add`` call: a second article with an id already seen
    is ``unchanged`` (same content) or ``rejected`` (other content; the first one stays)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str]] = {}

    def check(self, where: str, article: Article) -> AddResult | None:
        """The result for ``article`` if its id was seen before in this call, else None
        (and the id is remembered)."""
        if article.id in self.seen:
            first_hash, first_where = self.seen[article.id]
            if first_hash == article.content_hash:
                return AddResult(where, article.id, "unchanged")
            return AddResult(where, article.id, "rejected",
                             reason=f"{where}: duplicate id {article.id!r} with different content "
                                    f"in this batch (first from {first_where}, which is kept)")
        self.seen[article.id] = (article.content_hash, where)
        return None


def add_in_batches(items: Iterable[Article | LoadResult], commit_batch: Callable[[Batch, Emit, object], None],
                   *, batch_size: int, progress: bool = False,
                   on_result: Emit | None = None) -> list[AddResult]:
    """Feed ``items`` to ``commit_batch(batch, emit, bar)`` in batches of ``batch_size``.

    Rejections from loaders are emitted as ``rejected``; a second article with an id
    already seen in this call is ``unchanged`` (same content) or ``rejected`` (other
    content). ``commit_batch`` decides added/unchanged/updated against what is stored and
    emits a result for every article of its batch. ``on_result`` sees results as they
    happen (commit order); the returned list follows the input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    results: list[AddResult] = []

    def emit(result: AddResult) -> None:
        results.append(result)
        if on_result:
            on_result(result)

    ids = BatchIds()
    sequence: dict[tuple[str, str | None], int] = {}
    batch: Batch = []
    bar = progress_bar(progress)
    try:
        for item in items:
            if isinstance(item, LoadResult):
                sequence.setdefault((item.where, item.article.id if item.article else item.article_id), len(sequence))
                if item.article is None:
                    emit(AddResult(item.where, item.article_id, "rejected", reason=item.reason))
                    continue
                where, article = item.where, item.article
            else:
                where, article = article_where(item), item
                sequence.setdefault((where, article.id), len(sequence))
            repeated = ids.check(where, article)
            if repeated is not None:
                emit(repeated)
                continue
            batch.append((where, article))
            if len(batch) >= batch_size:
                commit_batch(batch, emit, bar)
                batch = []
        if batch:
            commit_batch(batch, emit, bar)
    finally:
        if bar is not None:
            bar.close()
    return sorted(results, key=lambda r: sequence.get((r.where, r.article_id), len(sequence)))
