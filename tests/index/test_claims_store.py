"""Claims in the article store: written with the article, removed and replaced with it,
checked by verify, restored by rebuild (also in an archive made before claims), the same
when extracted alongside the embedding, and searched by retrieval.claims."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from corpus.article import Article
from corpus.claims import ClaimSpanError
from index.archive import Archive

TEXT = ("Velora Motors will cut 2,000 jobs at its plant in Hallstadt, the company said on Thursday.\n\n"
        "Union leader Ingrid Baum estimated that 5,000 more jobs at suppliers were at risk. "
        "\"This is a disaster for the town,\" she told reporters.\n\n"
        "Analysts at Brenford Securities put the cost of the cuts at 300 million euros "
        "(though other estimates put the number far lower).")
OTHER = ("The harbour bridge reopened on Thursday. The council said the repairs cost twelve million dollars "
         "and took eight months.")


def _article(id: str = "velora", text: str = TEXT, **fields: object) -> Article:
    values = {"title": "Velora cuts jobs", "source": "Test Gazette", "published": dt.date(2024, 3, 14)}
    values.update(fields)
    return Article(id=id, text=text, **values)  # type: ignore[arg-type]


def _claims(archive: Archive, article_id: str) -> list[dict]:
    rows = archive.store.connect().execute("SELECT data FROM claims WHERE article_id=? ORDER BY idx", (article_id,))
    return [json.loads(r[0]) for r in rows]


@pytest.fixture
def archive(make_settings, embedder):
    arch = Archive.open(make_settings(), embedder=embedder)
    yield arch
    arch.store.close()


def test_claims_stored_with_the_article_and_exact(archive: Archive) -> None:
    archive.add([_article()])
    stored = _claims(archive, "velora")
    text = archive.get("velora").text
    assert len(stored) >= 4
    for claim in stored:
        for name in ("speaker", "cue", "content", "sentence"):
            span = claim[name]
            assert text[span["start"]:span["end"]] == span["text"], name
    baum = next(c for c in stored if c["cue"]["text"] == "estimated")
    assert baum["speaker"]["text"] == "Ingrid Baum" and baum["role"]["text"] == "Union leader"
    she = next(c for c in stored if c["speaker"]["text"] == "she")
    assert she["resolved"]["text"] == "Ingrid Baum"
    assert archive.verify() == []


def test_removed_and_replaced_with_the_article(archive: Archive) -> None:
    archive.add([_article(), _article("bridge", OTHER)])
    assert _claims(archive, "bridge")
    archive.add([_article("bridge", OTHER.replace("eight months", "nine months"))])  # updated
    assert any("nine months" in c["content"]["text"] for c in _claims(archive, "bridge"))
    archive.remove(["velora"])
    conn = archive.store.connect()
    assert conn.execute("SELECT count(*) FROM claims WHERE article_id='velora'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM claim_articles WHERE article_id='velora'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM claims_fts").fetchone()[0] == len(_claims(archive, "bridge"))
    assert archive.verify() == []


def test_a_bad_claim_stores_nothing_of_the_article(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from corpus import claim_rules
    from corpus.claims import TextSpan

    real = claim_rules.extract_claims

    def shifted(text: str, model: str = "") -> list:
        claims = real(text)
        c = claims[0]
        return [dataclasses.replace(c, speaker=TextSpan(c.speaker.text, c.speaker.start + 1, c.speaker.end + 1))]

    monkeypatch.setattr(claim_rules, "extract_claims", shifted)
    with pytest.raises(ClaimSpanError, match="article 'velora', claim 0: claim field 'speaker'"):
        archive.add([_article()])
    assert archive.get("velora") is None
    assert archive.store.connect().execute("SELECT count(*) FROM claims").fetchone()[0] == 0


def test_extraction_alongside_embedding_stores_what_one_after_the_other_does(make_settings, embedder, tmp_path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from corpus import claim_rules

    real, threads = claim_rules.extract_claims, []

    def recording(text: str, model: str = "") -> list:
        threads.append(threading.current_thread().name)
        return real(text)

    monkeypatch.setattr(claim_rules, "extract_claims", recording)
    stored = {}
    for alongside in (False, True):
        settings = make_settings(tmp_path / f"alongside-{alongside}", index={"claims_alongside_embedding": alongside})
        archive = Archive.open(settings, embedder=embedder)
        archive.add([_article(), _article("bridge", OTHER)])
        stored[alongside] = [_claims(archive, "velora"), _claims(archive, "bridge")]
        archive.store.close()
    assert stored[True] == stored[False] and stored[True][0]
    assert threads[:2] == [threading.current_thread().name] * 2
    assert all(name.startswith("byline-claims") for name in threads[2:]) and len(threads) == 4


def test_a_failed_extraction_alongside_embedding_stores_nothing(archive: Archive,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus import claim_rules

    def broken(text: str, model: str = "") -> list:
        raise RuntimeError("parser crashed")

    monkeypatch.setattr(claim_rules, "extract_claims", broken)
    with pytest.raises(RuntimeError, match="parser crashed"):
        archive.add([_article()])
    assert archive.get("velora") is None and archive.list_articles() == []


def test_verify_catches_a_corrupted_claim_span(archive: Archive) -> None:
    archive.add([_article()])
    conn = archive.store.connect()
    claim_id, data = conn.execute("SELECT id, data FROM claims ORDER BY id LIMIT 1").fetchone()
    claim = json.loads(data)
    claim["role"] = {"text": "chief executive", "start": 0, "end": 15}  # not what text[0:15] says
    conn.execute("UPDATE claims SET data=? WHERE id=?", (json.dumps(claim), claim_id))
    problems = archive.verify()
    assert any(f"claim {claim_id} of article 'velora'" in p and "'role'" in p for p in problems), problems


def test_rebuild_restores_claims_of_an_archive_made_before_them(make_settings, embedder) -> None:
    settings = make_settings()
    archive = Archive.open(settings, embedder=embedder)
    archive.add([_article()])
    expected = _claims(archive, "velora")
    conn = archive.store.connect()
    conn.executescript("DROP TABLE claims; DROP TABLE claim_articles; DROP TABLE claims_fts;")
    archive.store.close()
    old = Archive.open(settings, embedder=embedder)  # opens fine: the tables are created empty
    assert _claims(old, "velora") == []
    assert any("no extracted claims" in p and "byline rebuild" in p for p in old.verify())
    old.rebuild()
    assert _claims(old, "velora") == expected
    assert old.verify() == []
    old.store.close()


def test_claims_off_extracts_nothing_and_verify_accepts_it(make_settings, embedder) -> None:
    archive = Archive.open(make_settings(index={"claims": False}), embedder=embedder)
    archive.add([_article()])
    assert _claims(archive, "velora") == [] and archive.verify() == []
    archive.store.close()


def test_search_ranks_groups_and_filters(archive: Archive, embedder) -> None:
    from retrieval.claims import search_claims

    archive.add([_article(), _article("bridge", OTHER, published=dt.date(2023, 1, 5))])
    hits = search_claims(archive, embedder, "cost of the job cuts", k=3)
    assert hits[0].claim.cue_lemma == "put ... at" and hits[0].claim.figures[0].text == "300 million euros"
    beside = hits[1]  # the aside of the same sentence, grouped with it
    assert beside.claim.speaker.text == "other estimates" and beside.group == hits[0].group
    payload = hits[0].to_dict()
    text = archive.get("velora").text
    cite = payload["citation"]
    assert text[cite["start"]:cite["end"]] == payload["content"] == cite["quote"]
    only_baum = search_claims(archive, embedder, "jobs at risk", speaker="baum")
    assert only_baum and all(h.claim.speaker_name == "Ingrid Baum" for h in only_baum)
    from index.base import SearchFilters

    old = search_claims(archive, embedder, "repairs cost", filters=SearchFilters(until=dt.date(2023, 12, 31)))
    assert old and {h.article_id for h in old} == {"bridge"}
    with pytest.raises(ValueError, match="query"):
        search_claims(archive, embedder, "  ")
