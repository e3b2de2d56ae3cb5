"""Claims in the Milvus backend (Milvus Lite in a temp dir): stored with the article and
exact, searched by retrieval.claims (BM25 + the holding chunk's vector) with the same
results as the embedded backend, replaced and removed with the article, restored by
rebuild, copied by migrate, and verify reports a wrong span, a claim without its article
and an article whose claims were never extracted."""

from __future__ import annotations

import datetime as dt
import json

import pytest

pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install -e '.[milvus]')")
pytest.importorskip("milvus_lite", reason="milvus-lite is not installed (pip install -e '.[milvus]')")

from corpus.article import Article
from corpus.claims import ClaimSpanError

pytestmark = pytest.mark.slow  # embeds with MiniLM and parses with spaCy

SYRIA = ("Chinese fighters have joined militant groups in Syria, diplomats say.\n\n"
         "In an interview, Syria's ambassador to China, Imad Moustapha, estimated that as many as 5,000 "
         "Chinese Uighurs are fighting in Syria (though other estimates put the number far lower). "
         "\"They are a threat to both our countries,\" he told reporters in Beijing.")
OTHER = ("The harbour bridge reopened on Thursday. The council said the repairs cost twelve million dollars "
         "and took eight months.")


def _article(id: str = "syria", text: str = SYRIA, **fields: object) -> Article:
    values = {"title": "Uighur fighters in Syria", "source": "Test Gazette", "published": dt.date(2017, 5, 11)}
    values.update(fields)
    return Article(id=id, text=text, **values)  # type: ignore[arg-type]


@pytest.fixture
def marchive(make_settings, embedder):
    from index.milvus import MilvusArchive

    arch = MilvusArchive.open(make_settings(index={"backend": "milvus"}), embedder=embedder)
    yield arch
    arch.close()


def claim_rows(archive, article_id: str | None = None) -> list[dict]:
    expr = "idx >= 0" + (f' and article_id == "{article_id}"' if article_id else "")
    rows = archive.client.query(archive.db.claims_name, filter=expr, output_fields=["id", "article_id", "idx", "data"])
    return sorted(rows, key=lambda r: (r["article_id"], r["idx"]))


def search(archive, query: str, **kw):
    from retrieval.claims import search_claims

    return search_claims(archive, archive.embedder, query, **kw)


def test_claims_stored_searched_and_exact(marchive) -> None:
    marchive.add([_article(), _article("bridge", OTHER, title="Bridge reopens")])
    text = marchive.get("syria").text
    rows = claim_rows(marchive, "syria")
    assert len(rows) >= 2
    for row in rows:
        claim = json.loads(row["data"])
        for name in ("speaker", "cue", "content", "sentence"):
            assert text[claim[name]["start"]:claim[name]["end"]] == claim[name]["text"], name
    hits = search(marchive, "how many Uighurs are fighting in Syria")
    assert hits and {h.article_id for h in hits} == {"syria"}
    top = next(h for h in hits if h.claim.speaker_name == "Imad Moustapha")
    assert (top.article_id, top.claim.speaker_name, top.claim.cue.text) == ("syria", "Imad Moustapha", "estimated")
    assert top.title == "Uighur fighters in Syria" and top.published == dt.date(2017, 5, 11)
    assert "as many as 5,000" in top.claim.content.text
    c = top.to_dict()["citation"]
    assert text[c["start"]:c["end"]] == c["quote"] == top.claim.content.text
    assert [f.text for f in top.claim.figures] and text[top.claim.figures[0].start:top.claim.figures[0].end] \
        == top.claim.figures[0].text
    # the other estimate of the same sentence is listed with it, in one group
    other = [h for h in hits if h.claim.speaker.text == "other estimates"]
    assert other and other[0].group == top.group
    # speaker filter, outlet/date filters
    assert {h.claim.speaker_name for h in search(marchive, "weather", speaker="moustapha")} == {"Imad Moustapha"}
    from index.base import SearchFilters

    assert search(marchive, "Chinese fighters in Syria", filters=SearchFilters(source="Nowhere")) == []
    assert marchive.stats().claims == len(claim_rows(marchive))
    assert marchive.verify() == []


def test_same_claims_as_the_embedded_backend(marchive, make_settings, embedder, tmp_path) -> None:
    from index.archive import Archive

    embedded = Archive.open(make_settings(data_dir=tmp_path / "embedded"), embedder=embedder)
    articles = [_article(), _article("bridge", OTHER, title="Bridge reopens")]
    embedded.add(articles)
    marchive.add(articles)
    for query in ("Chinese fighters in Syria", "bridge repairs cost"):
        mine = [(h.article_id, h.claim.content.start, h.claim.speaker_name) for h in search(marchive, query)]
        theirs = [(h.article_id, h.claim.content.start, h.claim.speaker_name) for h in search(embedded, query)]
        assert mine == theirs and mine, query
    embedded.store.close()


def test_replaced_and_removed_with_the_article(marchive) -> None:
    marchive.add([_article(), _article("bridge", OTHER)])
    before = {r["id"] for r in claim_rows(marchive, "syria")}
    assert before
    # an update replaces the claims (new version's ids; the old ones are gone)
    marchive.add([_article(text=SYRIA.replace("5,000", "6,000"))])
    after = claim_rows(marchive, "syria")
    assert after and not before & {r["id"] for r in after}
    assert any("6,000" in json.loads(r["data"])["content"]["text"] for r in after)
    assert marchive.verify() == []
    assert marchive.remove(["syria"]) == ["syria"]
    assert claim_rows(marchive, "syria") == []
    rest = marchive.client.query(marchive.db.claims_name, filter='article_id == "syria"', output_fields=["id"])
    assert rest == []  # the marker row too
    assert all(h.article_id == "bridge" for h in search(marchive, "Chinese fighters in Syria"))
    assert marchive.verify() == []


def test_rebuild_restores_the_claims(marchive) -> None:
    marchive.add([_article()])
    expected = [json.loads(r["data"]) for r in claim_rows(marchive)]
    marchive.client.delete(marchive.db.claims_name, filter='article_id == "syria"')
    assert search(marchive, "Chinese fighters in Syria") == []
    assert any("no extracted claims" in p for p in marchive.verify())
    marchive.rebuild()
    assert [json.loads(r["data"]) for r in claim_rows(marchive)] == expected
    assert "Imad Moustapha" in {h.claim.speaker_name for h in search(marchive, "Chinese fighters in Syria")}
    assert marchive.verify() == []


def test_verify_reports_a_wrong_span_and_a_claim_without_its_article(marchive) -> None:
    marchive.add([_article(), _article("bridge", OTHER)])
    assert marchive.verify() == []
    row = marchive.client.query(marchive.db.claims_name, filter='article_id == "syria" and idx == 0',
                                output_fields=["*"])[0]
    row.pop("sparse", None)
    data = json.loads(row["data"])
    data["content"]["start"] += 1  # the span no longer matches its text
    marchive.client.upsert(marchive.db.claims_name, [{**row, "data": json.dumps(data)}])
    problems = marchive.verify()
    assert any(f"claim {row['id']} of article 'syria'" in p and "'content'" in p for p in problems), problems
    # a claim whose article is gone (the head deleted behind the archive's back)
    marchive.client.delete(marchive.articles_name, filter='key == "a:bridge"')
    problems = marchive.verify()
    assert any("claim rows belong to no stored article version" in p for p in problems), problems
    # a claim row lost: its article's marker disagrees
    marchive.rebuild()
    [first, *_] = claim_rows(marchive, "syria")
    marchive.client.delete(marchive.db.claims_name, ids=[first["id"]])
    assert any("'syria' declares" in p and "Milvus holds" in p for p in marchive.verify())


def test_a_claim_not_exact_is_refused_before_anything_is_written(marchive, monkeypatch) -> None:
    from corpus.claims import TextSpan

    good = marchive._extract_claims

    def broken(articles):
        found = good(articles)
        first = found["syria"][0]
        found["syria"][0] = type(first)(**{**first.__dict__, "content": TextSpan("nonsense", 0, 8)})
        return found

    monkeypatch.setattr(marchive, "_extract_claims", broken)
    with pytest.raises(ClaimSpanError, match="article 'syria', claim 0"):
        marchive.add([_article()])
    assert marchive.get("syria") is None and claim_rows(marchive) == []


def test_claims_off_stores_none_and_verify_does_not_ask(make_settings, embedder) -> None:
    from index.milvus import MilvusArchive

    arch = MilvusArchive.open(make_settings(index={"backend": "milvus", "claims": False}), embedder=embedder)
    arch.add([_article()])
    assert claim_rows(arch) == [] and search(arch, "Chinese fighters in Syria") == [] and arch.verify() == []
    arch.close()


def test_migrate_copies_the_claims(marchive, make_settings, embedder, tmp_path) -> None:
    from index.archive import Archive

    embedded = Archive.open(make_settings(data_dir=tmp_path / "embedded"), embedder=embedder)
    embedded.add([_article(), _article("bridge", OTHER)])
    source = [json.loads(d) for _, _, d in embedded.claims_index.of_articles(["bridge", "syria"])]
    marchive.import_embedded(embedded)
    assert [json.loads(r["data"]) for r in claim_rows(marchive)] == source
    assert marchive.verify() == []
    embedded.store.close()


def test_interrupted_update_keeps_the_old_claims_and_converges(marchive) -> None:
    """Claims are written before the head: a crash in between leaves the previous
    version's claims the only ones served; verify reports the leftovers; re-running converges."""
    marchive.add([_article()])
    before = [json.loads(r["data"]) for r in claim_rows(marchive)]
    original = marchive.client.upsert

    def crash_on_heads(name, rows, **kw):
        if name == marchive.articles_name and any(r.get("head") for r in rows):
            raise RuntimeError("power cut")
        return original(name, rows, **kw)

    marchive.client.upsert = crash_on_heads
    update = _article(text=SYRIA.replace("5,000", "6,000"))
    with pytest.raises(RuntimeError):
        marchive.add([update])
    marchive.client.upsert = original
    served = {h.claim.content.text for h in search(marchive, "Chinese fighters in Syria")}
    assert any("5,000" in t for t in served) and not any("6,000" in t for t in served)
    assert [json.loads(d) for _, _, d in marchive.claims_index.of_articles(["syria"])] == before
    assert any("claim rows belong to no stored article version" in p for p in marchive.verify())
    marchive.add([update])
    assert marchive.verify() == []
    assert any("6,000" in h.claim.content.text for h in search(marchive, "Chinese fighters in Syria"))


def test_attribution_question_answered_from_milvus_claims(marchive) -> None:
    from retrieval.claim_answers import claim_answer
    from retrieval.types import Passage

    marchive.add([_article(), _article("bridge", OTHER)])
    texts = marchive.texts(["syria"])
    passage = Passage(1, "syria", "Uighur fighters in Syria", 0, 80, texts["syria"][:80], 1.0)
    found = claim_answer(marchive, "Who estimated that as many as 5,000 Chinese Uighurs are fighting in Syria?",
                         [passage], texts, marchive.embedder)
    assert found is not None
    answer, cited = found
    assert answer.reader == "claims" and answer.answer == "Imad Moustapha" and "syria" in cited
