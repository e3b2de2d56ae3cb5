"""Synthetic reading-comprehension questions from news sentences (spaCy parse + templates).

No SQuAD training file or QA model can be had offline here, so the reader also learns from
questions generated from the training split's news articles, in the spirit of
"Unsupervised Question Answering by Cloze Translation" (Lewis et al., ACL 2019, whose
rule-based wh-movement templates we follow) and of decoy negatives as in SQuAD 2.0
(Rajpurkar et al. 2018: questions about the same text that it does not answer).

Templates (each answer is an exact span of the article):

- **attribution**: "X said/estimated/warned that C" -> "Who <verb> that C'?" (answer X;
  a pronoun subject is resolved to the nearest preceding PERSON of the article), and
  "According to whom ...?"; "What did X estimate?" -> the figure inside C;
- **subject questions**: an entity that is the sentence's subject -> "Who/What/Which
  organisation <predicate>?";
- **when / where**: a DATE or place inside a prepositional or adverbial phrase of the
  root verb is removed and the verb inverted ("When did the council approve the budget?");
- **how many / how much**: a number modifying a noun ("31 men") or a MONEY / PERCENT
  object -> "How many men did police arrest?" / "How much ...?".

Paraphrase is light (verb synonyms, optional dropping of the lead clause); each question
also yields, with some probability, a **decoy**: the same question with a year, number or
name changed so that the text no longer supports it (labelled no-answer).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = ["SyntheticQuestion", "questions_for_article"]

_REPORT_SYNONYMS = {
    "say": ["said", "stated", "asserted", "remarked"],
    "estimate": ["estimated", "reckoned", "put the figure at"],
    "warn": ["warned", "cautioned"],
    "predict": ["predicted", "forecast"],
    "tell": ["told"],
    "claim": ["claimed", "asserted"],
    "announce": ["announced", "said"],
    "add": ["added", "said"],
    "note": ["noted", "pointed out"],
    "argue": ["argued", "contended"],
    "confirm": ["confirmed"],
    "report": ["reported"],
    "believe": ["believed"],
    "write": ["wrote"],
    "explain": ["explained"],
    "insist": ["insisted"],
}
_PLACE = {"GPE", "LOC", "FAC"}
_WHO = {"PERSON", "ORG", "NORP"}
_PRONOUNS = {"he", "she", "they"}
_QUOTES = set("\"“”‘’\'")
_JUNK = re.compile(r"Getty|Images|/AP\b|AFP|Reuters/|CNN —|\bFILE\b")
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class SyntheticQuestion:
    """A generated question over ``article_text``: ``answer_start`` / ``answer_text`` (None =
    no answer, a decoy), the sentence span it came from, and the template ``kind``."""

    question: str
    answer_start: int | None
    answer_text: str | None
    sent_start: int
    sent_end: int
    kind: str


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = text.strip(" ,;:—–-\"“”‘’")
    return text.rstrip(".!?")


def _span_text(doc, tokens) -> str:
    """Text of tokens in order with their original spacing; a space where tokens were left
    out between them; quotation marks dropped."""
    toks = sorted(tokens, key=lambda t: t.i)
    parts: list[str] = []
    prev = None
    for t in toks:
        if t.text in _QUOTES:
            continue
        if prev is not None and t.i != prev.i + 1 and parts and not parts[-1].endswith(" "):
            parts.append(" ")
        parts.append(t.text_with_ws)
        prev = t
    text = "".join(parts)
    text = re.sub(r"\s+([,;:.])", r"\1", text)
    text = re.sub(r"([,;:])(\s*[,;:])+", r"\1", text)
    return text


def _lower_first(doc_tokens_text: str, first) -> str:
    """Lower-case the first letter unless the first token is a proper noun or "I"."""
    if first is None or first.pos_ == "PROPN" or first.text == "I" or first.ent_type_:
        return doc_tokens_text
    return doc_tokens_text[:1].lower() + doc_tokens_text[1:]


def _verb_phrase(root, drop: set[int]) -> tuple[str, str] | None:
    """``(aux_or_do, rest)`` for inverting the clause of ``root`` without the token ids in
    ``drop`` and without its subject: "the council approved the budget" -> ("did", "the
    council approve the budget"). None when the clause has no plain subject."""
    subj = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
    if subj is None or subj.pos_ == "PRON" and subj.lower_ not in _PRONOUNS:
        return None
    aux = [c for c in root.children if c.dep_ in {"aux", "auxpass"} and c.i < root.i]
    neg = {c.i for c in root.children if c.dep_ == "neg"}
    subj_ids = {t.i for t in subj.subtree}
    keep = [t for t in root.subtree if t.i not in drop and t.i >= subj.left_edge.i]
    if aux:
        first = aux[0]
        rest = [t for t in keep if t.i != first.i]
        subj_txt = _span_text(None, [t for t in rest if t.i in subj_ids])
        other = _span_text(None, [t for t in rest if t.i not in subj_ids])
        return first.text.lower(), _lower_first(f"{subj_txt.strip()} {other.strip()}", subj.left_edge)
    if root.lemma_ == "be":
        rest = [t for t in keep if t.i != root.i]
        subj_txt = _span_text(None, [t for t in rest if t.i in subj_ids])
        other = _span_text(None, [t for t in rest if t.i not in subj_ids])
        return root.text.lower(), _lower_first(f"{subj_txt.strip()} {other.strip()}", subj.left_edge)
    if root.tag_ not in {"VBD", "VBZ", "VBP"} or neg:
        return None
    do = {"VBD": "did", "VBZ": "does", "VBP": "do"}[root.tag_]
    subj_txt = _span_text(None, [t for t in keep if t.i in subj_ids])
    other = _span_text(None, [t for t in keep if t.i not in subj_ids])
    verb = root.text_with_ws
    other = other.replace(verb, root.lemma_ + root.whitespace_, 1) if verb in other else other
    return do, _lower_first(f"{subj_txt.strip()} {other.strip()}", subj.left_edge)


def _wh_for(label: str) -> str | None:
    return {"PERSON": "Who", "ORG": "Which organisation", "NORP": "Which group", "GPE": "Where",
            "LOC": "Where", "FAC": "Where", "DATE": "When", "TIME": "When",
            "MONEY": "How much", "PERCENT": "What percentage", "CARDINAL": "How many"}.get(label)


def _previous_person(ents_before: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    for start, end, label in reversed(ents_before):
        if label == "PERSON":
            return start, end
    return None


def _decoy(question: str, rng: random.Random, names: list[str]) -> str | None:
    """The question with one constraint changed (year, number or a capitalised name)."""
    years = list(_YEAR.finditer(question))
    if years and rng.random() < 0.6:
        m = rng.choice(years)
        year = int(m.group(0)) + rng.choice([-3, -2, -1, 1, 2, 5])
        return question[:m.start()] + str(year) + question[m.end():]
    nums = [m for m in _NUMBER.finditer(question) if not _YEAR.fullmatch(m.group(0))]
    if nums and rng.random() < 0.6:
        m = rng.choice(nums)
        digits = m.group(0).replace(",", "")
        try:
            value = float(digits)
        except ValueError:
            return None
        new = value * rng.choice([2, 3, 10]) + rng.choice([0, 1, 7])
        text = f"{int(new):,}" if value.is_integer() else f"{new:.1f}"
        return question[:m.start()] + text + question[m.end():]
    caps = [m for m in re.finditer(r"\b[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})*", question) if m.start() > 0]
    others = [n for n in names if n not in question]
    if caps and others:
        m = rng.choice(caps)
        return question[:m.start()] + rng.choice(others) + question[m.end():]
    return None


def questions_for_article(text: str, nlp, rng: random.Random, *, max_per_sentence: int = 2,
                          decoy_rate: float = 0.35) -> list[SyntheticQuestion]:
    """Generate questions for one article (``text`` = its body; offsets index it).

    ``nlp`` is a spaCy pipeline with a parser and NER (en_core_web_sm). Returns at most
    ``max_per_sentence`` answerable questions per sentence plus decoys (~``decoy_rate`` of
    them). Deterministic for a given ``rng`` state.
    """
    from retrieval.readers.sentences import split_sentences

    out: list[SyntheticQuestion] = []
    ents_before: list[tuple[int, int, str]] = []
    names: list[str] = []
    sents = [(a, b) for a, b in split_sentences(text) if 40 <= b - a <= 400]
    docs = list(nlp.pipe([text[a:b] for a, b in sents], batch_size=32))
    for (base, end), doc in zip(sents, docs):
        if _JUNK.search(doc.text):
            continue
        names.extend(e.text for e in doc.ents if e.label_ == "PERSON" and " " in e.text)
        made: list[SyntheticQuestion] = []
        for q in _attribution(doc, base, ents_before, rng, text) + _entity_questions(doc, base, rng):
            if q.answer_text and q.answer_text.lower() in q.question.lower():
                continue
            if 4 <= len(q.question.split()) <= 40:
                made.append(q)
        rng.shuffle(made)
        for q in made[:max_per_sentence]:
            out.append(SyntheticQuestion(q.question, q.answer_start, q.answer_text, base, end, q.kind))
            if rng.random() < decoy_rate:
                decoy = _decoy(q.question, rng, names[-40:])
                if decoy and decoy != q.question:
                    out.append(SyntheticQuestion(decoy, None, None, base, end, "decoy-" + q.kind))
        ents_before.extend((base + e.start_char, base + e.end_char, e.label_) for e in doc.ents)
    return out


def _attribution(doc, base: int, ents_before, rng: random.Random, text: str) -> list[SyntheticQuestion]:
    out = []
    for tok in doc:
        if tok.pos_ != "VERB" or tok.lemma_ not in _REPORT_SYNONYMS:
            continue
        subj = next((c for c in tok.children if c.dep_ == "nsubj"), None)
        comp = next((c for c in tok.children if c.dep_ == "ccomp"), None)
        if subj is None or comp is None:
            continue
        clause = _lower_first(_clean(_span_text(doc, list(comp.subtree))), comp.left_edge)
        if len(clause.split()) < 4:
            continue
        if subj.pos_ == "PRON":
            if subj.lower_ not in {"he", "she"}:
                continue
            hit = _previous_person(ents_before)
            if hit is None:
                continue
            a_start, a_end = hit
            answer_text = text[a_start:a_end]
        else:
            ent = next((e for e in doc.ents if e.label_ in _WHO and e.start <= subj.i < e.end), None)
            if ent is None:
                continue
            a_start, a_end = base + ent.start_char, base + ent.end_char
            answer_text = ent.text
        verb = rng.choice(_REPORT_SYNONYMS[tok.lemma_])
        form = rng.random()
        if form < 0.6:
            q = f"Who {verb} that {clause}?"
        elif form < 0.8:
            q = f"According to whom {clause}?"
        else:
            q = f"Which person or organisation {verb} that {clause}?"
        out.append(SyntheticQuestion(q, a_start, answer_text, 0, 0, "attribution"))
        # "What did X estimate?" -> the figure in the reported clause
        figs = [e for e in doc.ents if e.label_ in {"MONEY", "PERCENT", "CARDINAL", "QUANTITY"}
                and comp.left_edge.i <= e.start and e.end <= comp.right_edge.i + 1]
        if figs and subj.pos_ != "PRON":
            fig = figs[0]
            who = _clean(_span_text(doc, list(subj.subtree)))
            rest = _clean(_span_text(doc, [t for t in comp.subtree if not (fig.start <= t.i < fig.end)]))
            q = f"What figure did {who} give when saying that {rest}?" if rng.random() < 0.5 else \
                f"According to {who}, how many or how much {rest}?"
            out.append(SyntheticQuestion(q, base + fig.start_char, fig.text, 0, 0, "attribution-figure"))
    return out


def _entity_questions(doc, base: int, rng: random.Random) -> list[SyntheticQuestion]:
    out = []
    roots = [t for t in doc if t.dep_ == "ROOT" and t.pos_ in {"VERB", "AUX"}]
    if not roots:
        return out
    root = roots[0]
    for ent in doc.ents:
        wh = _wh_for(ent.label_)
        if wh is None:
            continue
        a_start, text = base + ent.start_char, ent.text
        if ent.label_ == "MONEY" and ent.start > 0 and doc[ent.start - 1].is_currency:
            a_start, text = base + doc[ent.start - 1].idx, doc[ent.start - 1].text + doc[ent.start - 1].whitespace_ + ent.text
        subj = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
        ent_ids = set(range(ent.start, ent.end))
        if subj is not None and ent.root.i == subj.i and ent.label_ in _WHO | {"CARDINAL"}:
            if root.lemma_ in _REPORT_SYNONYMS and any(c.dep_ == "ccomp" and c.i < root.i for c in root.children):
                continue
            pred = _clean(_span_text(doc, [t for t in root.subtree if t.i > subj.right_edge.i]))
            if ent.label_ == "CARDINAL":
                continue
            if len(pred.split()) >= 3:
                out.append(SyntheticQuestion(f"{wh} {pred}?", a_start, text, 0, 0, "subject-" + ent.label_))
            continue
        # the entity inside a modifier of the root: drop that phrase and invert
        head = ent.root
        while head.head.i != root.i and head.i != root.i and head.head.i != head.i:
            head = head.head
        if head.head.i != root.i:
            continue
        if head.i == root.i:
            continue
        if ent.label_ in {"DATE", "TIME"} | _PLACE and head.dep_ in {"prep", "npadvmod", "advmod", "pobj"}:
            drop = {t.i for t in head.subtree}
        elif ent.label_ == "CARDINAL" and ent.root.dep_ == "nummod" and ent.root.head.dep_ in {"dobj", "nsubjpass", "attr"}:
            noun = ent.root.head
            wh = f"How many {noun.text}"
            drop = {t.i for t in noun.subtree}
        elif ent.label_ in {"MONEY", "PERCENT"} and head.dep_ in {"dobj", "attr", "prep"}:
            drop = {t.i for t in head.subtree}
        else:
            continue
        if not ent_ids <= drop:
            continue
        inverted = _verb_phrase(root, drop)
        if inverted is None:
            continue
        aux, rest = inverted
        rest = _clean(rest)
        if len(rest.split()) < 3:
            continue
        out.append(SyntheticQuestion(f"{wh} {aux} {rest}?", a_start, text, 0, 0, "inverted-" + ent.label_))
    return out
