"""The minimal answer span of a reader's chosen span, and the country a demonym answer
names."""

from __future__ import annotations

import re

from retrieval.question import NUMERIC_TYPES, QuestionAnalysis, analyze_question, content_words, get_nlp
from retrieval.readers.answer_rules import expected_kind
from retrieval.readers.candidate_features import TYPE_ORDER, WORD_RUN
from retrieval.readers.candidates import Candidate
from retrieval.readers.keywords import stem_words
from retrieval.readers.sentences import split_sentences
from retrieval.types import Span

# Hedges before a figure ("about 187", "more than 10"): the figure is the answer, the
# hedge stays visible in the cited evidence (SQuAD-style answers are the minimal span).
_HEDGE = re.compile(r"^(?:(?:about|around|approximately|roughly|nearly|almost|some|over|under|"
                    r"just|only|up to|at least|at most|more than|less than|fewer than|as many as|"
                    r"as much as|as few as|as little as|an estimated|estimated)\s+)+(?=[$£€¥\d])",
                    re.IGNORECASE)
# A leading demonym ("Saudi Arabian", "North Korean", "Chinese"): capitalised words, the
# last ending like a demonym (the endings country_name skips as forms of the country).
_DEMONYM = re.compile(r"(?:[A-Z][a-z]+ )*[A-Z][a-z]+(?:an|ese|ish|i)\b")
_AGE = re.compile(r"^(?:aged\s+)?(\d{1,3})(?:[- ]years?[- ]old|[- ]years?|[- ]year-olds?)?$", re.IGNORECASE)


def refine_span(text: str, start: int, end: int, cand: Candidate, qa: QuestionAnalysis,
                qstems: set[str]) -> tuple[int, int]:
    """The minimal answer span inside the offline-rules reader's chosen candidate
    (:func:`minimal_span`; a figure when the question asks for a number or the candidate
    is a numeric entity)."""
    return minimal_span(text, start, end, qa, qstems, figure=qa.wants_number or cand.label in NUMERIC_TYPES)


def minimal_span(text: str, start: int, end: int, qa: QuestionAnalysis, qstems: set[str], *,
                 figure: bool) -> tuple[int, int]:
    """``(start, end)``: the minimal answer inside ``text[start:end]`` (article offsets),
    the way SQuAD-style gold spans are marked; the cited evidence keeps what is dropped.

    - a hedge before a figure is dropped ("more than 10" -> "10", "about 5,200" -> "5,200");
    - "how old": the number of an age expression ("17-year-old" -> "17");
    - for a figure, a trailing unit that repeats the question's head noun is dropped:
      the question already names the unit ("how many years" -> "12 years" -> "12",
      "how many days" -> "19-day" -> "19").
      Names keep their head ("Tony Awards", "Yellowstone National Park"): the whole
      name is the answer.

    ``figure``: whether the answer is a number; ``qstems``: Snowball stems of the
    question's words (:func:`~retrieval.readers.keywords.stem_words`).
    """
    span = text[start:end]
    if figure:
        m = _HEDGE.match(span)
        if m and m.end() < len(span):
            start += m.end()
            span = text[start:end]
    if qa.wh == "how old":
        m = _AGE.match(span)
        if m:
            return start + m.start(1), start + m.end(1)
    if qa.head and qa.wants_number:
        words = list(WORD_RUN.finditer(span))
        head_stem = stem_words([qa.head])[0]
        wstems = stem_words([w.group(0).lower() for w in words])
        if head_stem in wstems[1:]:
            k = len(words)
            while k > 1 and (wstems[k - 1] in qstems or wstems[k - 1] == head_stem):
                k -= 1
            if k < len(words):
                end = start + words[k - 1].end()
    return start, end


def tighten_answer(question: str, text: str, start: int, end: int, evidence: Span,
                   spacy_model: str) -> tuple[int, int, Span]:
    """``(start, end, evidence)`` of the trained reader's final answer: the minimal span
    (:func:`minimal_span`; the span model often keeps a hedge or the question's own unit,
    "about 5,200 people", "19-day" for "how many days"), then the country for a demonym
    (:func:`country_for_demonym`). Article offsets; ``evidence`` may grow to a neighbour."""
    analysis = analyze_question(question, spacy_model)
    figure = expected_kind(analysis) == "number" or bool(re.search(r"\d", text[start:end]))
    start, end = minimal_span(text, start, end, analysis, set(stem_words(content_words(question))), figure=figure)
    return country_for_demonym(analysis, text, start, end, evidence, spacy_model)


def country_for_demonym(analysis: QuestionAnalysis, text: str, start: int, end: int, evidence: Span,
                        spacy_model: str) -> tuple[int, int, Span]:
    """``(start, end, evidence)``: for "Which country / state / city ...?" answered with a
    demonym phrase ("Saudi Arabian government"), the country's name as the article spells
    it (:func:`country_name`) in the evidence sentence or the one before or after it (the
    evidence then covers both); else unchanged. The demonym must be a NORP entity of
    spaCy's parse of the evidence ("Miami" is a place already)."""
    if TYPE_ORDER.get(analysis.head or "") != "GPE":
        return start, end, evidence
    demonym = _DEMONYM.match(text, start, end)
    if demonym is None:
        return start, end, evidence
    doc = get_nlp(spacy_model)(text[evidence.start:evidence.end])
    if not any(e.label_ == "NORP" and evidence.start + e.start_char == start for e in doc.ents):
        return start, end, evidence
    name = country_name(demonym.group(0), text)
    if not name:
        return start, end, evidence
    sents = split_sentences(text)
    k = next((i for i, (a, b) in enumerate(sents) if a <= evidence.start < b), None)
    near = [evidence] if k is None else [evidence] + [Span(*sents[j]) for j in (k - 1, k + 1) if 0 <= j < len(sents)]
    pattern = re.compile(r"\b" + re.escape(name) + r"\b")
    for where in near:
        m = pattern.search(text, where.start, where.end)
        if m:
            return m.start(), m.end(), Span(min(evidence.start, where.start), max(evidence.end, where.end))
    return start, end, evidence


def country_name(demonym: str, text: str) -> str | None:
    """The country a demonym names, as the article spells it ("North Korean" -> "North
    Korea", "Saudi" -> "Saudi Arabia"): a capitalised phrase of the article that shares the
    leading words and a >= 4-letter prefix of the last word, or extends the demonym by one
    word; demonym-looking forms ("Saudi Arabian") are skipped. None when there is none."""
    words = demonym.split()
    if not words or not demonym[:1].isupper():
        return None
    found: dict[str, int] = {}
    for m in re.finditer(r"[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}", text):
        g = m.group(0).split()
        for n in range(1, len(g) + 1):
            cand = g[:n]
            if cand == words or cand[-1].endswith(("an", "ese", "ish", "ians")):
                continue
            same_lead = cand[:-1] == words[:-1] and len(cand) == len(words)
            shared = 0
            if same_lead:
                while shared < min(len(cand[-1]), len(words[-1])) and cand[-1][shared] == words[-1][shared]:
                    shared += 1
            extends = len(cand) == len(words) + 1 and cand[:-1] == words
            if (same_lead and shared >= 4) or extends:
                key = " ".join(cand)
                found[key] = found.get(key, 0) + 1
    return max(found, key=found.get) if found else None
