"""Candidate answer features for the offline reader: how well a candidate's type fits
the question, its proximity to the question keywords, frequency, title overlap,
attribution and overlap with the question."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from retrieval.question import NUMERIC_TYPES, QuestionAnalysis, content_words
from retrieval.readers.candidates import REPORTING_VERBS, Candidate
from retrieval.readers.keywords import GENERIC_HEADS, stem_words, stems_of

if TYPE_CHECKING:  # pragma: no cover - annotations only (offline.py imports this module)
    from retrieval.readers.offline import ReaderWeights, SentenceScore

# Preferred label when a head/wh-word allows several ("which country" -> GPE over NORP).
TYPE_ORDER = {"country": "GPE", "nation": "GPE", "countries": "GPE", "who": "PERSON", "whom": "PERSON", "state": "GPE",
              "city": "GPE"}


_NUMBER_WORDS = frozenset("""one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred thousand million billion trillion dozen half quarter""".split())
_VAGUE_NUMBERS = frozenset("hundreds thousands millions billions dozens tens scores".split())
_COUNTED = frozenset({"CARDINAL", "MONEY", "QUANTITY", "PERCENT"})
# Entity labels that are names; a proper-noun phrase the NER missed may be one of them.
_NAME_TYPES = frozenset({"PERSON", "ORG", "WORK_OF_ART", "EVENT", "FAC", "PRODUCT", "LAW"})
WORD_RUN = re.compile(r"\w+", re.UNICODE)

_NORM = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=256)
def _normalised(text: str) -> str:
    """Lower-case text with every non-word run replaced by one space, padded with spaces."""
    return " " + _NORM.sub(" ", text.lower()) + " "


def type_match(cand: Candidate, qa: QuestionAnalysis, weights: ReaderWeights, stems: list[str] | None = None,
               span_text: str = "") -> float:
    """How well the candidate's kind/label fits the expected answer type (-1..1).

    Beyond the label: a candidate that contains the question's head noun ("Which
    national park" -> "Yellowstone National Park") matches whatever its label; a
    counted entity (CARDINAL, MONEY, ...) needs a digit or number word to be a figure
    ("little more" is not), and a vague plural ("millions") fits less than a figure;
    coordinated entities fit plural questions ("Which two countries") better than
    singular ones.
    """
    w = weights
    expected = qa.expected_types
    order = TYPE_ORDER.get(qa.head or qa.wh)
    if names_head(cand, qa, stems):
        return 1.2  # a name ending in the head noun is surely of the asked kind
    if cand.kind in {"ent", "quote", "coord"}:
        if cand.label in _COUNTED and span_text:
            words = {t.lower() for t in WORD_RUN.findall(span_text)}
            if not any(c.isdigit() for c in span_text):
                if not words & _NUMBER_WORDS:
                    return -0.5
                if words & _VAGUE_NUMBERS and qa.wants_number:
                    return 0.5
        if expected:
            if cand.label in expected:
                base = 1.0 if not order or cand.label == order else 0.6
                if cand.kind == "coord":
                    base += 0.2 if qa.plural else -0.2
                return base
            return -0.5 if (qa.wants_number or cand.label in NUMERIC_TYPES) else 0.0
        return 0.3 if cand.label not in NUMERIC_TYPES else -0.3
    if cand.kind == "subj":
        return 0.8 if (qa.wh in {"who", "whom"} or bool(expected & {"PERSON", "ORG"})) else 0.0
    if cand.kind == "clause":
        return 0.6 if qa.answer_kind == "clause" else -1.0
    if qa.wants_number:
        return -1.0
    if cand.label == "PROPN" and expected & _NAME_TYPES:
        return 0.5
    return -w.np_penalty if expected else 0.0

def names_head(cand: Candidate, qa: QuestionAnalysis, stems: list[str] | None) -> bool:
    """True for a name that ends in the question's (specific) head noun: "Yellowstone
    National Park" for "which national park"."""
    return bool(stems and len(stems) > 1 and qa.head and qa.head not in GENERIC_HEADS
                and not qa.wants_number and (cand.kind in {"ent", "coord"} or cand.label == "PROPN")
                and stems[-1] == stem_words([qa.head])[0])

def candidate_features(cand: Candidate, sent: SentenceScore, qa: QuestionAnalysis,
                       qstems: set[str], kw_positions: list[int], text: str,
                       title_stems: set[str], weights: ReaderWeights) -> dict[str, float] | None:
    """Candidate features (all roughly 0..1), or None for a candidate made only of
    question words."""
    span_text = text[cand.start:cand.end]
    stems = stems_of(span_text)
    if not stems:
        return None
    head_stem = stem_words([qa.head])[0] if qa.head else ""
    core = stems
    if names_head(cand, qa, stems):  # "Yellowstone [National Park]": judge the name part
        k = len(stems)
        while k > 1 and (stems[k - 1] in qstems or stems[k - 1] == head_stem):
            k -= 1
        core = stems[:k]
    overlap = sum(1 for s in core if s in qstems) / len(core)
    if overlap >= 1.0:
        return None
    attr = 0.0
    if cand.kind in {"subj", "ent"} and cand.verb:
        if stem_words([cand.verb])[0] in stem_words(content_words(qa.focus)) or (
                cand.verb in REPORTING_VERBS and qa.wh == "who"):
            attr = 1.0
    if kw_positions:
        d = min(min(abs(p - cand.tok_start), abs(p - (cand.tok_end - 1))) for p in kw_positions)
        prox = 1.0 / (1.0 + d / 4.0)
    else:
        prox = 0.0
    key = _NORM.sub(" ", span_text.lower()).strip()
    count = _normalised(text).count(f" {key} ") if key and weights.freq else 1
    return {
        "type": type_match(cand, qa, weights, stems, span_text),
        "prox": prox,
        "freq": min(1.0, math.log1p(max(0, count - 1)) / math.log(8)),
        "title": sum(1 for s in stems if s in title_stems) / len(stems),
        "attr": attr,
        "overlap": overlap,
    }
