"""Answers from attributed claims: "Who estimated that ...?" answered with the claim's speaker.

:func:`claim_answer` answers two shapes from the claims stored at ingest
(:mod:`corpus.claims`: speaker, resolved name, cue, content, figures, sentence; exact spans):

- **who** ("Who estimated / said / warned / told / announced ...?", "Which official put the
  figure at ...?", "Whose estimate ...?"): the best claim's speaker (``Claim.resolved``
  for a pronoun or "the company"); [1] is the sentence holding that name, [2] the claim's
  sentence when it is another one.
- **what** ("What did X estimate / say about ...?", "How many ... did X say ...?"): X's
  best claim; its figure when a number is asked, else its content; [1] its sentence.

A claim matches when its *content* covers the question's content stems
(:func:`index.lexical.query_stems` without cue and question words; every number of the
question must be in the content and weighs 2) and the cosine of question and content
reaches :data:`MIN_COSINE`. Thresholds: ``bench/claim_answers_tune.py``, 42 questions we
wrote on the claims gold set's tune articles (g01-g10; coverage 0.5, cosine 0.4: 27 of 30
right, 1 wrong, 2 of 12 unanswerable answered, 1 of 12 since an estimate's cue needs an
estimate (:func:`best_match`); coverage 0.6: 23 right, none of the 12)
and the 3 dev news train/calib questions that parse; never dev heldout or bench/blind.
Claims about the same quantity that disagree (:func:`retrieval.claims.group_claims`) add
"another estimate: FIGURE by SPEAKER [n]", citing both. Otherwise None: the reader answers
as before, and always on a backend without a claims index.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from corpus.claims import Claim, TextSpan
from index.lexical import query_stems, query_terms
from retrieval.claims import ClaimHit, claims_index, group_claims
from retrieval.readers.sentences import split_sentences
from retrieval.types import ExtractedAnswer, Passage, Span

__all__ = ["CLAIMS_READER", "AttributionQuestion", "MIN_WHAT_COVERAGE", "MIN_WHO_COVERAGE", "claim_answer",
           "parse_question"]

CLAIMS_READER = "claims"  # the answer's ``reader`` field when a claim answered
MIN_WHO_COVERAGE = 0.5  # weighted share of the question's content stems in the claim's content
MIN_WHAT_COVERAGE = 0.34  # the same for "What did X say about ...?" (the speaker must match too)
MAX_OTHERS = 2  # disagreeing estimates named in one reply
MIN_COSINE = 0.4  # cosine of the question and the claim's content: drops topic-only matches

_CUE_BASE = (r"estimate|say|warn|predict|tell|announce|forecast|project|claim|argue|state|report|promise|"
             r"acknowledge|admit|insist|note|caution|expect|believe|put|calculate|reckon|confirm|reveal|"
             r"suggest|add|explain|describe|call|testify|accuse")
_CUES = rf"(?:{_CUE_BASE})(?:s|d|ed)?|said|told|testified|accused"
_AUX = r"(?:(?:has|have|had|did|does|was|were|is)\s+)?(?:(?:first|also|publicly|previously)\s+)?"
# "Which <type> <cue>": the type is at most four words ("Which Kestrel Falls official"),
# so a cue-like word further on ("Which organisation funded the Northfield State
# University study?": "State") is not taken for the cue; a capitalised cue is a name.
_WHO = re.compile(rf"^\s*(?:who|which\s+(?P<type>(?:[\w'’.-]+\s+){{0,3}}?[\w'’.-]+))\s+{_AUX}"
                  rf"(?P<cue>{_CUES})\b(?P<rest>.*)$", re.I)
_WHOSE = re.compile(r"^\s*(?:whose\s+(?P<cue>estimate|forecast|projection|figure|prediction|warning|claim|statement|"
                    r"number|count|calculation|assessment)s?|according\s+to\s+whom)\b(?P<rest>.*)$", re.I)
_WHAT = re.compile(rf"^\s*(?:what(?:\s+(?P<noun>[\w-]+))?|how\s+(?P<how>many|much)\s+(?P<hownoun>[^?]*?))\s+"
                   rf"(?:did|does|do|has|have|had)\s+(?P<speaker>[^?]+?)\s+(?P<cue>{_CUE_BASE})(?:s|ed|d)?\b"
                   rf"(?P<rest>.*)$", re.I)
_NUMBER_NOUNS = {"figure", "number", "percentage", "share", "proportion", "amount", "sum", "value", "cost",
                 "total", "price", "rate", "level", "count", "size"}
# Words of a question that name its shape, not its content (stemmed when compared).
_GENERIC = ("estimate estimated estimates figure figures number numbers put say said told tell warn warned "
            "predict predicted announce announced forecast official officials spokesperson spokesman "
            "spokeswoman according whom whose who which what week statement claim claims expert experts "
            "source sources person people cue quoted saying many much had has have was were is are been being "
            "would could will should may might about still also then there their its his her reporters journalists").split()
_ESTIMATES = ("estimate", "put", "reckon", "calculate", "forecast", "predict", "project")  # cues of a figure
_PRONOUNS, _NOT_SPEAKERS = {"he", "she", "they", "it", "we", "i", "you"}, {"other", "others", "some", "another"}
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class AttributionQuestion:
    """A parsed attribution question: ``kind`` ``"who"`` (answer the speaker) or ``"what"``
    (answer the figure or content of ``speaker``'s claim); ``terms`` its content stems, ``numbers`` the question's numbers (commas dropped), ``wants_number``
    whether a "what" question asks for a figure."""

    kind: str
    cue: str
    terms: frozenset[str]
    numbers: frozenset[str]
    speaker: str = ""
    wants_number: bool = False


def parse_question(question: str) -> AttributionQuestion | None:
    """The :class:`AttributionQuestion` of ``question``, or None for any other question."""
    q = " ".join(question.split())
    if (m := _WHO.match(q) or _WHOSE.match(q)) and not m.group("cue")[:1].isupper():
        return AttributionQuestion("who", m.group("cue").lower(), _terms(m.group("rest")), _numbers(m.group("rest")))
    if m := _WHAT.match(q):
        noun = (m.group("noun") or "").lower()
        rest = f"{m.group('hownoun') or ''} {m.group('rest')}"
        wants = bool(m.group("how")) or noun in _NUMBER_NOUNS or m.group("rest").rstrip(" ?").endswith(" at")
        return AttributionQuestion("what", m.group("cue").lower(), _terms(rest), _numbers(rest),
                                   speaker=m.group("speaker"), wants_number=wants)
    return None


def _numbers(text: str) -> frozenset[str]:
    return frozenset(n.replace(",", "").rstrip(".") for n in _NUM.findall(text))


def _terms(text: str) -> frozenset[str]:
    """Content stems of ``text`` without digits and question/cue words (names weigh as
    other words: weighing 2 let "Who said Lumen would be sold?" match any claim naming
    Lumen, on the tune questions)."""
    generic = set(query_stems(" ".join(_GENERIC)))
    return frozenset(s for s in query_stems(text) if s not in generic and not s.isdigit())


def _coverage(q: AttributionQuestion, content: str, numbers: bool = True) -> float:
    """Weighted share of the question's stems and numbers found in ``content``; 0 when a
    number of the question is missing (numbers weigh 2 each). ``numbers=False``: the
    stems only (a rival estimate of the same quantity has other numbers)."""
    wanted = q.numbers if numbers else frozenset()
    if not wanted <= _numbers(content):
        return 0.0
    stems = set(query_stems(content))
    total = len(q.terms) + 2 * len(wanted)
    if not total:  # "Who said that?" matches nothing; "What did Mehta estimate?" any claim of Mehta
        return 0.0 if q.kind == "who" else 1.0
    return (len(q.terms & stems) + 2 * len(wanted)) / total


def _threshold(q: AttributionQuestion) -> float:
    """The coverage a claim needs to answer ``q`` (:data:`MIN_WHO_COVERAGE` or :data:`MIN_WHAT_COVERAGE`)."""
    return MIN_WHO_COVERAGE if q.kind == "who" else MIN_WHAT_COVERAGE


def _answer_speaker(claim: Claim) -> TextSpan | None:
    """The span to answer with: the resolved name for a pronoun or "the company"; None for
    an unresolved pronoun or a speaker that is no one ("other estimates")."""
    if claim.resolved is not None:
        return claim.resolved
    words = claim.speaker.text.lower().split()
    if not words or claim.speaker.text.lower() in _PRONOUNS or words[0] in _NOT_SPEAKERS:
        return None
    return claim.speaker


def _speaker_matches(claim: Claim, speaker: str) -> bool:
    """True when a content word of ``speaker`` ("Mehta", "the ministry") is in the claim's
    speaker, resolved name or role."""
    fields = " ".join(x.text for x in (claim.speaker, claim.resolved, claim.role) if x is not None)
    return bool(set(query_terms(speaker)) & set(query_terms(fields)))


def _sentence_of(text: str, span: TextSpan) -> Span:
    return next((Span(a, b) for a, b in split_sentences(text) if a <= span.start and span.end <= b),
                Span(span.start, span.end))


def _figure(q: AttributionQuestion, claim: Claim):  # a corpus.claims.Figure or None
    """The figure of ``claim`` a number question asks for: the one whose neighbouring
    words share most of the question's stems (the first on a tie)."""
    text, at = claim.content.text, claim.content.start
    return max(claim.figures, default=None, key=lambda f: len(
        set(query_stems(text[max(0, f.start - at - 40):f.end - at + 40])) & q.terms))


def claim_answer(backend, question: str, passages: Sequence[Passage], texts: Mapping[str, str],
                 embedder=None) -> tuple[ExtractedAnswer, dict[str, str]] | None:
    """``(answer, texts of the articles it cites)`` from the claims of ``passages``'
    articles when ``question`` is an attribution question with a strong match, else None
    (also for a backend without a ``claims_index``). ``embedder`` (``embed(list[str])`` ->
    normalised vectors), when given, gates on :data:`MIN_COSINE` too."""
    found = match_claims(backend, question, passages, texts, embedder)
    if found is None:
        return None
    q, scored, all_texts = found
    best = best_match(q, scored)
    if best is None:
        return None
    b, threshold = best.hit, _threshold(q)
    others = [m.hit for m in scored if m.hit.claim_id != b.claim_id and (
        (m.hit.article_id == b.article_id and m.hit.claim.sentence.start < b.claim.sentence.end
         and b.claim.sentence.start < m.hit.claim.sentence.end)
        or (m.hit.claim.figures and _coverage(q, m.hit.claim.content.text, numbers=False) >= threshold / 2))]
    return _compose(q, best.hit, best.coverage, others, all_texts)


def _is_estimate(claim: Claim) -> bool:
    """A claim whose cue is one of a figure (:data:`_ESTIMATES`: estimated, put, forecast,
    ...) or an "according to"."""
    return claim.cue_lemma.startswith(_ESTIMATES) or claim.cue_lemma.startswith("accord")


def best_match(q: AttributionQuestion, scored: list["Match"]) -> "Match | None":
    """The candidate that answers: passing the thresholds, best score (+0.05 for the cue).
    A question with an estimate's cue ("Who estimated / predicted / put ...?") is answered
    only by an estimate (:func:`_is_estimate`): someone who "said" something on the same
    topic did not estimate it, so without one the reader answers instead."""
    passing = [m for m in scored if m.passes(q, _threshold(q))]
    if q.cue.startswith(_ESTIMATES):
        passing = [m for m in passing if _is_estimate(m.hit.claim)]
    return max(passing, default=None,
               key=lambda m: m.hit.score + 0.05 * m.hit.claim.cue_lemma.startswith(q.cue[:4]))


@dataclass(frozen=True)
class Match:
    """A candidate claim: its :class:`~retrieval.claims.ClaimHit` (``score``: coverage - 0.01
    per rank of its article among the passages), its coverage and its cosine with the question (1.0 without an embedder)."""

    hit: ClaimHit
    coverage: float
    cosine: float = 1.0

    def passes(self, q: AttributionQuestion, threshold: float) -> bool:
        """Strong enough to answer ``q`` with."""
        claim = self.hit.claim
        return (self.coverage >= threshold and self.cosine >= MIN_COSINE
                and (q.kind == "what" or _answer_speaker(claim) is not None)
                and (not q.wants_number or bool(claim.figures)))


def match_claims(backend, question: str, passages: Sequence[Passage], texts: Mapping[str, str],
                 embedder=None) -> tuple[AttributionQuestion, list[Match], dict[str, str]] | None:
    """``(parsed question, candidate claims of the passages' articles, texts of their
    articles, read with the claims rather than ``texts``)``; "what": only X's claims. None when the
    question is no attribution question or the backend has no claims."""
    q = parse_question(question)
    index = claims_index(backend)
    if q is None or index is None or not passages:
        return None
    order: dict[str, Passage] = {}
    for p in passages:
        order.setdefault(p.article_id, p)
    with backend.read_snapshot():
        if not index.ready():
            return None
        rows = index.of_articles(list(order))
        # the texts of this snapshot: an article updated since retrieval has new offsets
        all_texts = backend.texts({aid for _, aid, _ in rows}) if rows else {}
    rank = {aid: i for i, aid in enumerate(order)}
    scored: list[Match] = []
    for cid, aid, data in rows:
        claim = Claim.from_dict(json.loads(data))
        if aid not in all_texts or (q.kind == "what" and not _speaker_matches(claim, q.speaker)):
            continue
        cov = _coverage(q, claim.content.text)
        p = order[aid]
        scored.append(Match(ClaimHit(cid, aid, p.title, p.source, None, claim, cov - 0.01 * rank[aid]), cov))
    if embedder is not None:
        scored = _with_cosines(embedder, question, scored, _threshold(q))
    return q, scored, all_texts


def _with_cosines(embedder, question: str, scored: list[Match], threshold: float) -> list[Match]:
    """``scored`` with the cosine of the question and each content, computed for the
    claims at or above ``threshold`` only (the rest keep 1.0 and cannot answer anyway)."""
    todo = [i for i, m in enumerate(scored) if m.coverage >= threshold]
    if todo:
        vectors = np.asarray(embedder.embed([question] + [scored[i].hit.claim.content.text for i in todo]))
        for i, c in zip(todo, vectors[1:] @ vectors[0]):
            scored[i] = replace(scored[i], cosine=float(c))
    return scored


def _compose(q: AttributionQuestion, best, cov: float, others: list,
             texts: Mapping[str, str]) -> tuple[ExtractedAnswer, dict[str, str]]:
    claim, text = best.claim, texts[best.article_id]
    sentence = Span(claim.sentence.start, claim.sentence.end)
    extra: list[tuple[str, Span]] = []
    if q.kind == "who":
        target = _answer_speaker(claim)
        evidence = sentence if sentence.contains(Span(target.start, target.end)) else _sentence_of(text, target)
        if evidence != sentence:
            extra.append((best.article_id, sentence))
    else:
        target = _figure(q, claim) if q.wants_number else claim.content
        evidence = sentence
        named = claim.resolved
        if named is not None and not sentence.contains(Span(named.start, named.end)):
            extra.append((best.article_id, _sentence_of(text, named)))
    cited_spans = [(best.article_id, evidence)] + extra
    note = _disagreement(best, others, cited_spans)
    extra = cited_spans[1:]
    answer = ExtractedAnswer(article_id=best.article_id, answer=target.text, answer_span=Span(target.start, target.end),
                             evidence_span=evidence, confidence=round(min(0.99, cov), 4), extra_evidence=tuple(extra),
                             status="answered", note=note, reader=CLAIMS_READER)
    cited = {best.article_id} | {aid for aid, _ in extra}
    return answer, {aid: texts[aid] for aid in cited}


def _disagreement(best, others: list, cited: list[tuple[str, Span]]) -> str:
    """"another estimate: FIGURE by SPEAKER [n]" for claims grouped with ``best`` (same
    quantity) whose speaker and figures differ; their sentences are appended to ``cited``
    (``[(article_id, span)]``, [1] first) unless already there."""
    if not best.claim.figures:
        return ""
    hits = group_claims([best] + others)
    group = next(h.group for h in hits if h.claim_id == best.claim_id)
    values = {f.value for f in best.claim.figures}
    notes: list[str] = []
    for h in hits:
        c = h.claim
        if h.group != group or h.claim_id == best.claim_id or c.speaker_name == best.claim.speaker_name:
            continue
        if (values & {f.value for f in c.figures}) if c.figures else not c.cue_lemma.startswith(_ESTIMATES):
            continue
        span = (h.article_id, Span(c.sentence.start, c.sentence.end))
        if span not in cited:
            cited.append(span)
        what = c.figures[0].text if c.figures else f"“{c.content.text}”"
        who = f" by {c.speaker_name}" if _answer_speaker(c) is not None else ""
        notes.append(f"another estimate: {what}{who} [{cited.index(span) + 1}]")
        if len(notes) == MAX_OTHERS:
            break
    return "; ".join(notes)
