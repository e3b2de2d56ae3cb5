"""Answer candidates from a spaCy parse of one sentence: entities, noun phrases, attribution.

Candidate generation follows the classic factoid-QA pipeline (answer-type matching of
named entities, e.g. Harabagiu et al. 2000 "FALCON"; Jurafsky & Martin ch. 14), with
one dependency pattern for attribution: the subject of a reporting verb (say, estimate,
predict, warn, tell, report, ...), the object of "according to", and the reported
clause (``ccomp``) for "what did X say" questions.
All offsets are character offsets into the *article* (sentence start + token offset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Candidate", "extract_candidates", "REPORTING_VERBS"]

REPORTING_VERBS = frozenset(
    """say tell estimate predict warn report claim announce state add note write explain
    believe suggest argue insist confirm reveal disclose acknowledge admit describe call
    forecast project calculate assert testify declare""".split()
)
_STRIP_START = {"DET", "PRON", "PART", "PUNCT", "CCONJ", "ADP"}
_QUOTED = re.compile(r"[“\"‘]([^“”\"‘’]{2,80}?)[,.!?]?[”\"’](?!\w)")
_STRIP_END = {"PUNCT", "PART", "CCONJ", "ADP", "DET"}
_LEAD_WORDS = {"a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "our",
               "my", "your"}


@dataclass
class Candidate:
    """An answer candidate: article offsets ``[start, end)``, its origin and label.

    ``kind``: ``"ent"`` (named entity; ``label`` = spaCy label), ``"np"`` (noun chunk),
    ``"quote"`` (a short quoted title, label WORK_OF_ART), ``"subj"`` (subject of a reporting verb / object of "according to"),
    ``"clause"`` (reported clause), ``"coord"`` (two coordinated entities of one label). ``verb``: lemma of the reporting verb the candidate is
    the subject of (or "").
    ``tok_start``/``tok_end``: token indices in the sentence doc.
    """

    start: int
    end: int
    kind: str
    label: str
    verb: str
    tok_start: int
    tok_end: int


def _trim(doc, i: int, j: int) -> tuple[int, int]:  # spacy Doc
    """Shrink token range ``[i, j)`` past leading determiners/possessives/punctuation
    (keeping "the", part of names like "The Tony Awards") and trailing punctuation."""
    while i < j and (doc[i].is_space or doc[i].lower_ in _LEAD_WORDS
                     or (doc[i].pos_ in _STRIP_START and doc[i].lower_ != "the" and not doc[i].is_currency)):
        i += 1
    while j > i and (doc[j - 1].pos_ in _STRIP_END or doc[j - 1].is_space):
        j -= 1
    return i, j


def _add(out: list[Candidate], doc, i: int, j: int, base: int, kind: str, label: str,
         verb: str = "") -> None:
    i, j = _trim(doc, i, j)
    if j <= i or j - i > 12:
        return
    out.append(Candidate(base + doc[i].idx, base + doc[j - 1].idx + len(doc[j - 1].text), kind,
                         label, verb, i, j))


def extract_candidates(doc, base: int, *, clauses: bool = False) -> list[Candidate]:
    """Candidates of a parsed sentence ``doc`` whose text starts at article offset ``base``.

    Returns entities (all labels), noun chunks (NP) with one attached "of/on/for" PP,
    attribution subjects, and — when ``clauses`` — reported clauses of reporting verbs.
    Duplicates (same span) are kept once, the first kind wins (ent > subj > np).
    """
    out: list[Candidate] = []
    agents: dict[int, str] = {}  # token index of a reporting verb's subject -> verb lemma
    for tok in doc:
        if tok.pos_ == "VERB" and tok.lemma_ in REPORTING_VERBS:
            for child in tok.children:
                if child.dep_ in {"nsubj", "nsubjpass"} and child.pos_ != "PRON":
                    # "Syria's Ambassador to China, Imad Moustapha, estimated": the name is
                    # the apposition of the subject; prefer it.
                    for app in (c for c in child.children if c.dep_ == "appos"):
                        sub = list(app.subtree)
                        _add(out, doc, sub[0].i, sub[-1].i + 1, base, "subj", "", tok.lemma_)
                    left = min(t.i for t in child.subtree)
                    _add(out, doc, left, child.i + 1, base, "subj", "", tok.lemma_)
                    agents.update({child.i: tok.lemma_})
                    agents.update({c.i: tok.lemma_ for c in child.children if c.dep_ == "appos"})
                elif clauses and child.dep_ in {"ccomp", "xcomp"}:
                    sub = list(child.subtree)
                    _add(out, doc, sub[0].i, sub[-1].i + 1, base, "clause", "", tok.lemma_)
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to":
            for pobj in doc[tok.i + 1].children:
                if pobj.dep_ == "pobj":
                    sub = list(pobj.subtree)
                    _add(out, doc, sub[0].i, sub[-1].i + 1, base, "subj", "", "according")
    ents = list(doc.ents)
    for ent in ents:  # entities that are the subject (head) of a reporting verb get its lemma
        start = ent.start
        if ent.label_ == "MONEY" and start > 0 and doc[start - 1].is_currency:
            start -= 1  # the small model leaves "$" out of "$5.02"
        _add(out, doc, start, ent.end, base, "ent", ent.label_, agents.get(ent.root.i, ""))
    for ent in ents:
        # NER boundary repair: a name the model cut short ("[Cleveland] Browns", "the
        # [Denver] Broncos") continues over the following untagged proper nouns of the
        # same compound. A place name followed by more name words is an organisation
        # (sports teams, newspapers, companies: "Denver Broncos", "Boston Globe").
        end = ent.end
        while end < len(doc) and doc[end].pos_ == "PROPN" and doc[end].ent_iob_ == "O":
            end += 1
        if end > ent.end:
            label = "ORG" if ent.label_ in {"GPE", "LOC", "NORP"} else ent.label_
            _add(out, doc, ent.start, end, base, "ent", label, agents.get(doc[end - 1].i, ""))
    for k, ent in enumerate(ents[:-1]):
        # Coordinated entities of one label ("New Jersey and Oregon", "Sweden and
        # Finland"): the pair is one candidate too, for questions whose answer is a list.
        nxt = ents[k + 1]
        between = doc[ent.end:nxt.start]
        if (nxt.label_ == ent.label_ and 1 <= len(between) <= 2
                and all(t.lower_ in {"and", "or", ",", "&"} for t in between)
                and any(t.lower_ in {"and", "or", "&"} for t in between)):
            _add(out, doc, ent.start, nxt.end, base, "coord", ent.label_, "")
    out.sort(key=lambda c: c.kind != "ent")  # entities first: they win span ties
    for match in _QUOTED.finditer(doc.text):
        span = doc.char_span(match.start(1), match.end(1), alignment_mode="expand")
        if span is not None and len(span) <= 10:
            _add(out, doc, span.start, span.end, base, "quote", "WORK_OF_ART")
    for chunk in doc.noun_chunks:
        end = chunk.end
        if end + 1 < len(doc) and doc[end].lower_ in {"of", "on", "for"} and doc[end].head.i == chunk.root.i:
            objs = [c for c in doc[end].children if c.dep_ == "pobj"]
            if objs:
                end = max(t.i for t in objs[0].subtree) + 1
        if chunk.root.pos_ != "PRON":
            # A noun chunk made of proper nouns is a name the NER missed: label "PROPN".
            proper = all(t.pos_ in {"PROPN", "DET", "PUNCT"} for t in chunk) and chunk.root.pos_ == "PROPN"
            if proper:
                _add(out, doc, chunk.start, chunk.end, base, "np", "PROPN")
            _add(out, doc, chunk.start, end, base, "np", "")
            if end != chunk.end:
                _add(out, doc, chunk.start, chunk.end, base, "np", "")
    seen: set[tuple[int, int]] = set()
    unique = []
    for cand in out:
        if (cand.start, cand.end) not in seen:
            seen.add((cand.start, cand.end))
            unique.append(cand)
    return unique
