"""retrieval.claim_answers through QAPipeline: attribution questions answered from the
stored claims with exact citations, a disagreeing estimate cited, a pronoun speaker
resolved, other questions and a backend without claims left to the reader."""

from __future__ import annotations

import json

import pytest

from corpus.article import Article
from corpus.loaders import LoadResult
from retrieval.claim_answers import claim_answer, parse_question
from retrieval.pipeline import QAPipeline, verify_citations
from retrieval.readers.base import Reader

PORT = Article(id="kestrel-port", title="Kestrel port expansion approved", source="The Ledger", text=(
    "The Port of Kestrel will build two new container berths after the council approved the plan on Monday.\n\n"
    "The port's chief executive, Maria Santos, estimated that the expansion would create 1,200 new jobs at "
    "the port. “We are ready,” she told reporters.\n\n"
    "The dockers' union said the expansion would create only 400 new jobs at the port.\n\n"
    "Helen Carter, the harbour master, opened the new quay on Tuesday. She predicted that container traffic "
    "would double within five years.\n\n"
    "The port handled 9 million tonnes of cargo last year, up from 7 million tonnes in 2019."))
BAKERY = Article(id="bakery", title="Bakery wins prize", source="The Ledger", text=(
    "A family bakery in Dunmore won the national bread prize on Saturday.\n\n"
    "Its owner, Tom Reilly, said the winning sourdough had taken three years to perfect."))


class CountingReader(Reader):
    """A reader that answers nothing and counts its calls (the pipeline then abstains)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def read(self, question, passages, article_texts):
        self.calls.append(question)
        return None


class NoClaimsBackend:
    """The archive seen as a backend without a claims index (a backend that stores none)."""

    def __init__(self, archive) -> None:
        self._archive = archive

    def __getattr__(self, name: str):
        if name in ("store", "claims_index"):
            raise AttributeError(name)
        return getattr(self._archive, name)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder):
    from config.settings import load_settings
    from index.archive import Archive

    settings = load_settings(data_dir=tmp_path_factory.mktemp("claim-answers") / "data")
    arch = Archive.open(settings, embedder=embedder)
    results = arch.add([LoadResult(where=a.id, article=a) for a in (PORT, BAKERY)])
    assert [r.status for r in results] == ["added", "added"]
    yield arch
    arch.store.close()


def ask(archive, question: str, backend=None, **reader_settings):
    settings = archive.settings
    if reader_settings:
        settings = settings.model_copy(update={"reader": settings.reader.model_copy(update=reader_settings)})
    reader = CountingReader()
    answer = QAPipeline(backend or archive, settings, embedder=archive.embedder, reader=reader).ask(question)
    return answer, reader


def exact(archive, answer) -> None:
    verify_citations(answer.citations, {c.article_id: archive.get(c.article_id).text for c in answer.citations})
    assert answer.answer in answer.citations[0].quote


def test_attribution_question_answered_from_the_claim_with_exact_citations(archive) -> None:
    answer, reader = ask(archive, "Who estimated that the port expansion would bring 1,200 new jobs?")
    assert (answer.status, answer.reader, answer.fallback) == ("answered", "claims", False)
    assert answer.answer == "Maria Santos"
    assert reader.calls == []  # the reader was not needed
    exact(archive, answer)
    assert "estimated that the expansion would create 1,200 new jobs" in answer.citations[0].quote
    assert json.loads(json.dumps(answer.to_dict()))["reader"] == "claims"


def test_a_disagreeing_estimate_is_named_and_both_are_cited(archive) -> None:
    answer, _ = ask(archive, "Who estimated that the port expansion would bring 1,200 new jobs?")
    assert "another estimate: 400 by The dockers' union [2]" in answer.text
    assert len(answer.citations) == 2
    assert "1,200" in answer.citations[0].quote and "only 400 new jobs" in answer.citations[1].quote
    exact(archive, answer)


def test_a_pronoun_speaker_is_answered_with_the_name_it_refers_to(archive) -> None:
    answer, _ = ask(archive, "Who predicted that container traffic would double in five years?")
    assert (answer.reader, answer.answer) == ("claims", "Helen Carter")
    exact(archive, answer)
    # [1] holds the name, [2] the claim's own sentence ("She predicted ...")
    assert answer.citations[0].quote.startswith("Helen Carter, the harbour master")
    assert answer.citations[1].quote.startswith("She predicted that container traffic would double")


def test_what_did_x_put_the_number_at_answers_the_figure(archive) -> None:
    answer, _ = ask(archive, "How many new jobs did the dockers' union say the expansion would create?")
    assert (answer.reader, answer.answer) == ("claims", "400")
    exact(archive, answer)


def test_other_questions_are_left_to_the_reader(archive) -> None:
    for question in ("How many tonnes of cargo did the port handle last year?",
                     "Who said the sourdough had won a prize in Paris?",  # a claim on the topic, not this content
                     "Who said that?"):
        answer, reader = ask(archive, question)
        assert answer.reader != "claims", question
        assert reader.calls == [question]


def test_a_backend_without_claims_falls_through(archive) -> None:
    question = "Who estimated that the port expansion would bring 1,200 new jobs?"
    backend = NoClaimsBackend(archive)
    answer, reader = ask(archive, question, backend=backend)
    assert answer.reader != "claims" and reader.calls == [question]
    assert claim_answer(backend, question, [], {}) is None


def test_the_setting_turns_it_off(archive) -> None:
    question = "Who estimated that the port expansion would bring 1,200 new jobs?"
    answer, reader = ask(archive, question, claim_answers=False)
    assert answer.reader != "claims" and reader.calls == [question]


@pytest.mark.parametrize(("question", "kind"), [
    ("Who estimated that as many as 5,000 Chinese had gone to Syria?", "who"),
    ("Which official put the figure at 1.2 million?", "who"),
    ("Whose estimate of the crowd was the highest?", "who"),
    ("What did Mehta estimate about waiting times?", "what"),
    ("How many voters did Thomas Greer estimate were undecided?", "what"),
    ("When did Comey warn lawmakers about a terrorist diaspora?", None),
    ("Who is the mayor of Dunmore?", None),
    ("Which Kestrel Falls official put the gap at $18.3 million?", "who"),
    # not attribution: "State" (a name) is no cue, and "funded" is no reporting verb
    ("Which organisation funded the Northfield State University walking study?", None),
])
def test_question_shapes(question: str, kind: str | None) -> None:
    parsed = parse_question(question)
    assert (parsed.kind if parsed else None) == kind


def test_who_estimated_prefers_an_estimate_to_a_statement_on_the_topic() -> None:
    """A speaker who only 'said' something about the topic did not estimate it: 'Who
    estimated ...?' takes the estimate even when the statement scores higher, and is left
    to the reader when no estimate passes."""
    from types import SimpleNamespace

    from retrieval.claim_answers import Match, best_match
    from retrieval.claims import ClaimHit

    def match(cue: str, figures: list, score: float) -> Match:
        speaker = SimpleNamespace(text="Lena Dubrovsky" if cue == "say" else "Priya Hallenbeck")
        claim = SimpleNamespace(cue_lemma=cue, figures=figures, resolved=None, speaker=speaker)
        return Match(ClaimHit(1, "a", "t", "s", None, claim, score), coverage=0.8, cosine=0.9)

    said = match("say", ["$900,000"], 0.9)
    estimated = match("estimate", ["$1.2 billion"], 0.6)
    q = parse_question("Who estimated the cost of the port strike?")
    assert best_match(q, [said, estimated]) is estimated
    # a statement alone does not answer it (the reader does)
    assert best_match(q, [said]) is None
    # a 'who said' question is not restricted
    assert best_match(parse_question("Who said the port strike was costly?"), [said, estimated]) is said
