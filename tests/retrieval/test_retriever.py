"""retrieval.retriever: reciprocal rank fusion by hand, and HybridRetriever on real
(tiny) archives: empty, one article, k beyond the chunk count, filters and modes."""

from __future__ import annotations

import datetime as dt

import pytest

from index.base import SearchFilters
from retrieval.retriever import HybridRetriever, reciprocal_rank_fusion


# -- reciprocal rank fusion -------------------------------------------------------------------
def test_rrf_hand_computed_scores() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], [1.0, 0.5], k=60)
    expected = {1: 1 / 61 + 0.5 / 62, 2: 1 / 62, 3: 1 / 63 + 0.5 / 61}
    assert [cid for cid, _ in fused] == [1, 3, 2]  # 0.02446 > 0.02407 > 0.01613
    for cid, score in fused:
        assert score == pytest.approx(expected[cid])


def test_rrf_default_k_is_60_and_weights_scale() -> None:
    fused = dict(reciprocal_rank_fusion([[7, 8]], [2.0]))
    assert fused == pytest.approx({7: 2 / 61, 8: 2 / 62})
    # a small k sharpens the head: k=1 -> 1/2, 1/3
    assert dict(reciprocal_rank_fusion([[7, 8]], [1.0], k=1)) == pytest.approx({7: 1 / 2, 8: 1 / 3})


def test_rrf_weight_decides_disagreement() -> None:
    # retriever A says 1 then 2, B says 2 then 1; B's weight wins
    fused = reciprocal_rank_fusion([[1, 2], [2, 1]], [0.7, 1.0], k=60)
    assert [cid for cid, _ in fused] == [2, 1]
    assert fused[0][1] == pytest.approx(0.7 / 62 + 1.0 / 61)
    assert fused[1][1] == pytest.approx(0.7 / 61 + 1.0 / 62)


def test_rrf_ties_keep_first_seen_order() -> None:
    assert [c for c, _ in reciprocal_rank_fusion([[1], [2]], [1.0, 1.0])] == [1, 2]
    assert [c for c, _ in reciprocal_rank_fusion([[2], [1]], [1.0, 1.0])] == [2, 1]
    # symmetric swap: both get 1/61 + 1/62
    fused = reciprocal_rank_fusion([[5, 9], [9, 5]], [1.0, 1.0])
    assert [c for c, _ in fused] == [5, 9]
    assert fused[0][1] == pytest.approx(fused[1][1])
    # a zero weight contributes nothing, so ties stay in first-seen order
    assert [c for c, _ in reciprocal_rank_fusion([[3, 4], [4, 3]], [0.0, 0.0])] == [3, 4]


def test_rrf_empty_and_validation() -> None:
    assert reciprocal_rank_fusion([], []) == []
    assert reciprocal_rank_fusion([[], []], [1.0, 1.0]) == []
    with pytest.raises(ValueError, match="one weight per ranking"):
        reciprocal_rank_fusion([[1], [2]], [1.0])
    with pytest.raises(ValueError, match="RRF k must be >= 1"):
        reciprocal_rank_fusion([[1]], [1.0], k=0)


# -- HybridRetriever on an archive -------------------------------------------------------------
def retriever_for(archive, settings) -> HybridRetriever:
    return HybridRetriever(archive, archive.embedder, settings.retrieval)


def test_empty_archive_returns_nothing(archive, settings) -> None:
    r = retriever_for(archive, settings)
    for mode in ("hybrid", "dense", "lexical"):
        assert r.retrieve("Who won the chess title?", k=5, mode=mode) == []


def test_k_and_blank_query(archive, settings, make_article) -> None:
    archive.add([make_article("bridge")])
    r = retriever_for(archive, settings)
    with pytest.raises(ValueError, match="k must be >= 1"):
        r.retrieve("bridge", k=-1)
    assert r.retrieve("   ", k=3) == []


def test_one_article_archive(archive, settings, make_article) -> None:
    article = make_article("bridge", id="only-bridge")
    archive.add([article])
    passages = retriever_for(archive, settings).retrieve("When did the harbour bridge reopen?", k=3)
    assert passages and len(passages) <= 3
    assert {p.article_id for p in passages} == {"only-bridge"}
    for p in passages:
        assert article.text[p.start:p.end] == p.text
        assert p.title == article.title and p.source == "Test Gazette" and p.published == "2024-03-14"
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_k_beyond_chunk_count_returns_all_chunks(archive, settings, make_article, mode: str) -> None:
    archive.add([make_article("bridge"), make_article("orchard")])
    total = archive.count()
    assert total >= 2
    passages = retriever_for(archive, settings).retrieve("apple frost bridge", k=total + 50, mode=mode)
    assert len(passages) == total
    assert len({p.chunk_id for p in passages}) == total


def test_lexical_k_beyond_matches(archive, settings, make_article) -> None:
    archive.add([make_article("bridge"), make_article("orchard")])
    passages = retriever_for(archive, settings).retrieve("orchards frost", k=500, mode="lexical")
    # BM25 only returns chunks that contain a query term: all of them are the orchard's
    assert passages and len(passages) < archive.count()
    assert all(p.article_id.startswith("orchard-") for p in passages)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory):
    from byline_testing import TEST_CHUNKING
    from config.settings import load_settings

    return load_settings(data_dir=tmp_path_factory.mktemp("retriever") / "data", chunking=dict(TEST_CHUNKING))


@pytest.fixture(scope="module")
def filtered_archive(module_settings, embedder):
    """Four articles, built once for the filter and mode tests (read-only)."""
    from byline_testing import TOPICS
    from corpus.article import Article
    from index.archive import Archive

    def make_article(topic: str, **fields: object) -> Article:
        title, text = TOPICS[topic]
        return Article(title=title, text=text, **fields)  # type: ignore[arg-type]

    archive = Archive.open(module_settings, embedder=embedder)
    archive.add([
        make_article("bridge", id="bridge", source="Harbour Post", published=dt.date(2024, 1, 10)),
        make_article("orchard", id="orchard", source="Valley News", published=dt.date(2023, 5, 1)),
        make_article("chess", id="chess", source="Harbour Post", published=dt.date(2024, 6, 1)),
        make_article("volcano", id="volcano", source="Valley News", published=None),
    ])
    yield archive
    archive.store.close()


QUERY = "bridge repairs apple frost chess champion volcano ash flights"


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("filters, allowed", [
    (SearchFilters(source="harbour post"), {"bridge", "chess"}),          # case-insensitive
    (SearchFilters(source="Valley News"), {"orchard", "volcano"}),
    (SearchFilters(since=dt.date(2024, 3, 1)), {"chess"}),                 # undated never passes
    (SearchFilters(until=dt.date(2023, 12, 31)), {"orchard"}),
    (SearchFilters(since=dt.date(2024, 1, 10), until=dt.date(2024, 1, 10)), {"bridge"}),  # inclusive
    (SearchFilters(source="Valley News", since=dt.date(2023, 1, 1)), {"orchard"}),
    (SearchFilters(source="Nowhere Times"), set()),
])
def test_filters_restrict_results(filtered_archive, module_settings, filters, allowed, mode) -> None:
    passages = retriever_for(filtered_archive, module_settings).retrieve(QUERY, k=50, filters=filters, mode=mode)
    assert {p.article_id for p in passages} == allowed


def test_unfiltered_sees_everything(filtered_archive, module_settings) -> None:
    passages = retriever_for(filtered_archive, module_settings).retrieve(QUERY, k=50)
    assert {p.article_id for p in passages} == {"bridge", "orchard", "chess", "volcano"}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("query, article_id", [
    ("Which teenager won the national chess championship?", "chess"),
    ("Did the late frost damage the apple orchards?", "orchard"),
    ("Why were flights grounded by volcanic ash?", "volcano"),
    ("When did the harbour bridge reopen after repairs?", "bridge"),
])
def test_modes_find_the_obvious_article(filtered_archive, module_settings, query, article_id, mode) -> None:
    passages = retriever_for(filtered_archive, module_settings).retrieve(query, k=3, mode=mode)
    assert passages[0].article_id == article_id
    if mode == "dense":
        assert all(p.dense_rank is not None and p.lexical_rank is None for p in passages)
    elif mode == "lexical":
        assert all(p.lexical_rank is not None and p.dense_rank is None for p in passages)
    else:
        # the obvious chunk is a candidate of both retrievers, and every hybrid score is
        # the weighted reciprocal rank fusion of the ranks it carries, best first
        assert passages[0].dense_rank is not None and passages[0].lexical_rank is not None
        r = module_settings.retrieval
        for p in passages:
            expected = sum(w / (r.rrf_k + rank) for w, rank in
                           ((r.dense_weight, p.dense_rank), (r.lexical_weight, p.lexical_rank)) if rank is not None)
            assert p.score == pytest.approx(expected)
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
