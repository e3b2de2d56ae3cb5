"""The default reader (trained spans + answer rules) end to end over real archives.

The dev checks read ``../shared/data/dev`` (skipped without it): every answered who / when /
how many / where question has an answer of that type (judged independently of the reader:
spaCy's NER of the answer inside its sentence, or a date / number pattern), and the sample
corpus questions meet the product's promise (right or not answered; no unanswerable answered).
"""

from __future__ import annotations

import json
import re

import pytest

from byline_testing import REPO_ROOT, shared_path

pytestmark = pytest.mark.slow

MODEL_DIR = REPO_ROOT / "retrieval" / "readers" / "models" / "byline-reader-minilm"


@pytest.fixture(scope="module")
def dev_pipeline(tmp_path_factory, embedder):
    from config.settings import load_settings
    from corpus.loaders import ArticleFactory, load_inputs
    from index.archive import Archive
    from retrieval.pipeline import QAPipeline

    articles = shared_path("data", "dev", "articles.jsonl")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("dev-data"))
    archive = Archive.open(settings, embedder=embedder)
    archive.add(load_inputs([str(articles)], ArticleFactory()))
    yield QAPipeline(archive, settings)
    archive.store.close()


def test_model_ships_with_card_and_calibration() -> None:
    assert (MODEL_DIR / "model.safetensors").stat().st_size < 50 * 2**20
    card = (MODEL_DIR / "README.md").read_text(encoding="utf-8")
    for needle in ("Apache-2.0", "CC BY-SA 4.0", "held-out", "training/train_reader.py"):
        assert needle in card
    cal = json.loads((MODEL_DIR / "calibration.json").read_text())
    assert 0 <= cal["uncertain_threshold"] <= cal["answer_threshold"] <= 1
    assert "calib" in cal["fitted_on"]


_DATE = re.compile(r"\b(1[6-9]\d\d|20\d\d|January|February|March|April|May|June|July|August|September|"
                   r"October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|"
                   r"Wednesday|Thursday|Friday|Saturday|Sunday|today|yesterday|tomorrow|week|month|year|"
                   r"spring|summer|autumn|fall|winter|century|decade)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                     r"fifty|hundred|thousand|million|billion|dozen|half)\b", re.IGNORECASE)


def _labels(nlp, sentence: str, answer: str) -> set[str]:
    at = sentence.find(answer)
    doc = nlp(sentence)
    return {e.label_ for e in doc.ents if at >= 0 and e.start_char < at + len(answer) and at < e.end_char}


def test_no_answer_of_the_wrong_type_on_dev(dev_pipeline) -> None:
    from retrieval.question import get_nlp
    from retrieval.readers.answer_rules import ROLE_NOUNS

    nlp = get_nlp()
    rows = [json.loads(line) for line in shared_path("data", "dev", "questions.jsonl").open(encoding="utf-8")]
    news = [r for r in rows if r["corpus"] == "news"]
    wiki = [r for r in rows if r["corpus"] == "wikipedia"
            and re.match(r"(who|when|where|how many)\b", r["question"].strip(), re.IGNORECASE)][:120]
    wrong, checked = [], 0
    for r in news + wiki:
        q = r["question"]
        focus = q.strip().split("?")[0].split(". ")[-1].lower()
        kind = next((k for k in ("how many", "who", "when", "where") if re.match(rf"{k}\b", focus)), None)
        if kind is None:
            continue
        ans = dev_pipeline.ask(q)
        if ans.status != "answered":
            continue
        checked += 1
        text, sentence = ans.answer, ans.citations[0].quote
        labels = _labels(nlp, sentence, text)
        ok = {
            "who": bool(labels & {"PERSON", "ORG", "NORP", "GPE"}) or bool(set(text.lower().split()) & ROLE_NOUNS)
                   or bool(re.search(r"\b[A-Z][a-z]+", text)),
            "when": bool(labels & {"DATE", "TIME"}) or bool(_DATE.search(text)),
            "how many": bool(_NUMBER.search(text)),
            "where": bool(labels & {"GPE", "LOC", "FAC", "ORG"}) or bool(re.search(r"\b[A-Z][a-z]+", text)),
        }[kind]
        if not ok:
            wrong.append((q, text))
    assert checked >= 20, f"only {checked} typed questions were answered"
    assert not wrong, f"answers of the wrong type: {wrong[:5]}"


def test_small_talk_after_a_conversation_gets_no_citation(dev_pipeline) -> None:
    history = [("Which US national park was impacted by severe flooding?", "Yellowstone")]
    for message in ("Hello", "Thanks!", "ok"):
        ans = dev_pipeline.ask(message, history=history)
        assert ans.citations == [] and ans.answer is None and ans.status == "abstained"
        assert ans.text and "[1]" not in ans.text


def test_unrelated_questions_are_not_rewritten_after_history() -> None:
    """Follow-up rewriting leaves standalone dev questions alone (so their answers are the
    same as without history), while pronoun follow-ups still resolve."""
    from retrieval.conversation import rewrite_followup

    rows = [json.loads(line) for line in shared_path("data", "dev", "questions.jsonl").open(encoding="utf-8")]
    news = [r["question"] for r in rows if r["corpus"] == "news"]
    history = [("Who painted 'Harbor at Dusk'?", "Elena Ruiz"), ("How many dockworkers walked off the job?", "2,300")]
    same = sum(rewrite_followup(q, history) == q for q in news)
    assert same / len(news) >= 0.98, [q for q in news if rewrite_followup(q, history) != q][:5]
    assert "Elena Ruiz" in rewrite_followup("When did she paint it?", history[:1])


def test_sample_questions_right_or_not_answered(tmp_path, embedder) -> None:
    from config.settings import load_settings
    from index.archive import Archive
    from retrieval.metrics import f1_score
    from retrieval.pipeline import QAPipeline
    from web.service import ensure_sample

    settings = load_settings(data_dir=tmp_path / "data")
    archive = Archive.open(settings, embedder=embedder)
    ensure_sample(archive, settings)
    pipeline = QAPipeline(archive, settings)
    rows = [json.loads(line) for line in (REPO_ROOT / "corpus" / "sample" / "questions.jsonl").open(encoding="utf-8")]
    wrong = []
    answered_right = 0
    for r in rows:
        ans = pipeline.ask(r["question"])
        if not r["answerable"]:
            if ans.status == "answered":
                wrong.append((r["question"], ans.answer))
            continue
        if ans.status == "answered":
            if max(f1_score(ans.answer, a["text"]) for a in r["answers"]) < 0.5:
                wrong.append((r["question"], ans.answer))
            else:
                answered_right += 1
    archive.store.close()
    assert not wrong, f"wrong sample answers: {wrong}"
    assert answered_right >= 15


def test_proximity_counts_words_to_the_nearest_question_keyword() -> None:
    from retrieval.readers.trained import _proximity, _stems

    sentence = "The council approved a budget of $4.2 million on Tuesday."
    stems = _stems("How large is the budget the council approved?")
    a = sentence.index("$4.2 million")
    b = a + len("$4.2 million")
    near = _proximity(sentence, 100, 100 + a, 100 + b, stems)  # "budget of" -> 2 words away
    far_start = sentence.index("Tuesday")
    far = _proximity(sentence, 100, 100 + far_start, 100 + far_start + 7, stems)
    assert 0.0 < far < near <= 1.0
    assert _proximity(sentence, 0, a, b, set()) == 0.0


def test_sentence_similarity_ranks_the_paraphrased_sentence_first(embedder) -> None:
    from retrieval.readers.trained import FEATURES, CandidateFeatures, TrainedReader
    from retrieval.readers.transformers_qa import SpanCandidate
    from retrieval.types import Span

    text = ("The United States has never imported much oil from Russia. "
            "At the time, Iran was the world's second-largest oil exporter and a close US ally.")
    split = text.index("At the time")

    def cand(word: str, sentence: Span) -> CandidateFeatures:
        start = text.index(word)
        return CandidateFeatures(SpanCandidate("a", start, start + len(word), 1.0, 0.0, 0.7), sentence,
                                 (0.0,) * (len(FEATURES) - 2), word)

    scored = [cand("Russia", Span(0, split - 1)), cand("Iran", Span(split, len(text)))]
    question = "Which oil producer was a close ally of the United States?"
    with_sim = TrainedReader(MODEL_DIR, embedder=embedder)._with_sentence_similarity(question, scored, {"a": text})
    cos, gap = FEATURES.index("sent_cosine"), FEATURES.index("sent_cosine_gap")
    assert all(len(f.values) == len(FEATURES) for f in with_sim)
    russia, iran = with_sim
    assert iran.values[cos] > russia.values[cos] and iran.values[gap] == 0.0 > russia.values[gap]
    without = TrainedReader(MODEL_DIR)._with_sentence_similarity(question, scored, {"a": text})
    assert [f.values[-2:] for f in without] == [(0.0, 0.0), (0.0, 0.0)]
