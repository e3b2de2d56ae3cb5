"""Speakers of claims: the name as written, the speaker's role, and what a pronoun or a
bare "the company" refers to.

Resolution is a recency heuristic over mentions (no coreference model: none ships with
the packaged spaCy pipeline): he / she -> the latest earlier PERSON that was a subject
or an earlier claim's speaker; it / "the company" -> the latest earlier organisation
subject (an ORG entity, or a noun phrase headed by company, ministry, commission, ...;
for "the ministry" one headed by the same noun first); they -> either. Objects of
prepositions ("an analyst at Northway Bank") are only a fallback, which is what lifted
pronoun accuracy on our tuning articles (``bench/claims_quality.py``).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from corpus.claims import TextSpan, span_of, trimmed

__all__ = ["Mentions", "ORG_NOUNS", "ents_of", "speaker_of", "text_of"]

PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
EITHER_PRONOUNS = frozenset({"they"})
ORG_NOUNS = frozenset("company firm group bank ministry agency government department office "
                      "organisation organization carrier airline maker retailer insurer lender "
                      "council union party club startup manufacturer regulator court police "
                      "army military studio network publisher university hospital school "
                      "administration commission board committee association authority "
                      "chamber institute charity museum pollster service".split())
COMPANY_NOUNS = frozenset("company firm group startup start-up carrier airline maker carmaker chipmaker "
                          "retailer insurer lender bank manufacturer".split())
_SKIP_PRONOUNS = frozenset({"i", "we", "you", "me", "us", "who", "that", "which", "this", "there", "one"})
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "appos", "poss", "ROOT"})
_NAME_LABELS = ("PERSON", "ORG", "GPE", "NORP")
_RECENT_CHARS = 1500  # "the ministry" looks this far back for a mention with its head noun


def text_of(doc) -> str:
    """``doc.text``, joined once per doc: spaCy joins every token's text on each access,
    and the rules read it per token and per cue (that join was 95 % of the rules' time
    under cProfile over 32 dev news articles: 3,827 joins)."""
    text = doc.user_data.get("byline_text")
    if text is None:
        text = doc.user_data["byline_text"] = doc.text
    return text


def ents_of(doc) -> tuple:  # spacy Spans
    """``doc.ents``, built once per doc (spaCy rebuilds the tuple from every token on each
    access; the rules read it per cue and per figure)."""
    ents = doc.user_data.get("byline_ents")
    if ents is None:
        ents = doc.user_data["byline_ents"] = tuple(doc.ents)
    return ents


@dataclass(frozen=True)
class _Mention:
    span: TextSpan
    kind: str  # PERSON or ORG
    head: str  # the head noun's lemma, lower-case
    subject: bool


class Mentions:
    """The PERSON and organisation mentions of one parsed ``doc``, in text order, to
    resolve pronoun speakers against (earlier claims' speakers are added as found)."""

    def __init__(self, doc, quotes: list[tuple[int, int]] = ()) -> None:  # a spacy Doc
        self.doc = doc
        self.items: list[_Mention] = []
        quoted = [False] * len(doc)  # names inside someone's quote are not the writer's referents
        starts = sorted(quotes)
        after_any_end = len(text_of(doc)) + 1  # sorts after every quote opening at one offset
        for token in doc:  # the last quote opening at or before the token (quotes never nest)
            k = bisect_right(starts, (token.idx, after_any_end)) - 1
            quoted[token.i] = k >= 0 and starts[k][0] <= token.idx < starts[k][1]
        names = [_strip_possessive(e) for e in ents_of(doc) if e.label_ in ("PERSON", "ORG", "GPE", "NORP")
                 and not quoted[e.start]]
        names = [e for e in names if len(e)]
        kinds = _consistent_kinds(names)
        surnames = {e[-1].text for e in names if kinds[e.start] == "PERSON" and len(e) > 1}
        for ent in names:
            if kinds[ent.start] in ("PERSON", "ORG"):
                subject = any(t.dep_ in _SUBJECT_DEPS for t in ent) or ent.root.head.dep_ == "appos"
                self.items.append(_Mention(span_of(text_of(doc), ent.start_char, ent.end_char), kinds[ent.start],
                                           ent.root.lemma_.lower(), subject))
        for token in doc:
            if token.text in surnames and not token.ent_type_ and not quoted[token.i]:  # "Reilly was not convinced"
                self.items.append(_Mention(span_of(text_of(doc), token.idx, token.idx + len(token.text)), "PERSON",
                                           token.lemma_.lower(), token.dep_ in _SUBJECT_DEPS))
            if quoted[token.i]:
                continue
            if token.dep_ in ("nsubj", "nsubjpass") and token.pos_ == "NOUN" and token.lemma_.lower() in ORG_NOUNS \
                    and not token.ent_type_ and any(c.dep_ in ("compound", "amod") for c in token.lefts):
                start = token.left_edge
                if start.dep_ == "det":
                    start = self.doc[start.i + 1]
                self.items.append(_Mention(span_of(text_of(doc), start.idx, token.idx + len(token.text)), "ORG",
                                           token.lemma_.lower(), True))
        self.items.sort(key=lambda m: m.span.start)

    def add_speaker(self, span: TextSpan, kind: str, head: str) -> None:
        """Record an earlier claim's named speaker (a subject by definition); a one-word
        name that ends an earlier PERSON mention counts as that PERSON."""
        if self.full_name(span) is not None:
            kind = "PERSON"
        self.items.append(_Mention(span, kind, head, True))
        self.items.sort(key=lambda m: m.span.start)

    def resolve(self, token) -> TextSpan | None:  # the pronoun or head noun
        """The mention ``token`` (he, she, it, they, or the head of "the company") refers to."""
        word = token.lower_
        kinds = ("PERSON",) if word in PERSON_PRONOUNS else ("PERSON", "ORG") if word in EITHER_PRONOUNS \
            else ("ORG",)
        earlier = [m for m in self.items if m.span.end <= token.idx and m.kind in kinds
                   and m.span.text.lower() != word]
        if token.pos_ == "NOUN" and token.lemma_.lower() in COMPANY_NOUNS:
            named = [m for m in earlier if m.kind == "ORG" and m.span.text[:1].isupper()
                     and not m.span.text.lower().startswith("the ")]
            if named:  # the organisation the article is about: the most often named, then the latest
                first = [m.span.text.split()[0] for m in named]
                top = max(first, key=lambda w: (first.count(w), any(m.subject for m in named if m.span.text.split()[0] == w),
                                                max(i for i, f in enumerate(first) if f == w)))
                pick = [m for m in named if m.span.text.split()[0] == top]
                return max(pick, key=lambda m: len(m.span.text)).span
        if token.pos_ == "NOUN":
            same = [m for m in earlier if m.head == token.lemma_.lower() and m.span.end > token.idx - _RECENT_CHARS
                    and len(m.span.text.split()) > 1]
            if same:
                return same[-1].span
        subjects = [m for m in earlier if m.subject]
        pick = (subjects or earlier)[-1] if earlier else None
        return None if pick is None else (self.full_name(pick.span) or pick.span)

    def full_name(self, span: TextSpan) -> TextSpan | None:
        """For a one-word name (a surname), the earlier PERSON mention ending with it."""
        if len(span.text.split()) != 1:
            return None
        for m in self.items:
            if m.span.start >= span.start:
                break
            if m.kind == "PERSON" and len(m.span.text.split()) > 1 and m.span.text.split()[-1] == span.text:
                return m.span
        return None


def _proper_run(doc, head):  # -> a spacy Span
    """``head`` with the run of capitalised compounds before it: "South China Morning Post",
    "Ana Ruiz"."""
    first = head.i  # a compound may hang on another word of the run: "South" -> "China" -> "Post"
    while first > 0 and doc[first - 1].dep_ == "compound" and first <= doc[first - 1].head.i <= head.i \
            and doc[first - 1].text[:1].isupper():
        first -= 1
    return doc[first:head.i + 1]


def speaker_of(doc, head, mentions: Mentions) -> tuple[TextSpan | None, TextSpan | None, TextSpan | None]:
    """``(speaker, resolved, role)`` for the subject token ``head`` of a cue (or the
    object of "according to"); ``(None, None, None)`` for "I", "we", "who" and the like."""
    text = text_of(doc)
    if head.pos_ == "PRON":
        if head.lower_ in _SKIP_PRONOUNS:
            return None, None, None
        return span_of(text, head.idx, head.idx + len(head.text)), mentions.resolve(head), None
    entity = _entity_of(doc, head)
    # A name in apposition; spaCy's small model leaves some names untagged ("the mayor, Ana
    # Ruiz, said"), so a capitalised proper noun counts too.
    appos = [c for c in head.children if c.dep_ == "appos"
             and (c.ent_type_ in ("PERSON", "ORG") or (c.pos_ == "PROPN" and c.text[:1].isupper()))]
    if entity is None and appos:  # "Syria's Ambassador to China, Imad Moustapha"
        name = _entity_of(doc, appos[0]) or _proper_run(doc, appos[0])
        role = trimmed(text, head.left_edge.idx, name.start_char)
        speaker = span_of(text, name.start_char, name.end_char)
        return _named(mentions, speaker, name), mentions.full_name(speaker), role
    if entity is None:  # "Co-founder Priya Raman": the parse's head is not the name
        inner = [_entity_of(doc, t) for t in head.subtree if t.dep_ not in ("relcl", "acl") and t.ent_type_ == "PERSON"]
        if inner and inner[0] is not None:
            name = inner[0]
            role = trimmed(text, head.left_edge.idx, name.start_char)
            speaker = span_of(text, name.start_char, name.end_char)
            return _named(mentions, speaker, name), mentions.full_name(speaker), role
    if entity is None and head.pos_ == "PROPN" and head.text[:1].isupper():
        entity = _proper_run(doc, head)
    if entity is not None:  # "former FBI Director James Comey", "Ortiz, an analyst at ..."
        speaker = span_of(text, entity.start_char, entity.end_char)
        role = None
        left = [t for t in head.lefts if t.i < entity.start and t.dep_ not in ("det", "punct", "cc")]
        if left:
            role = trimmed(text, left[0].left_edge.idx, entity.start_char)
        else:
            for child in head.children:
                if child.dep_ == "appos" and child.i > head.i:
                    sub = list(child.subtree)
                    role = trimmed(text, sub[0].idx, sub[-1].idx + len(sub[-1].text))
                    break
        return _named(mentions, speaker, entity), mentions.full_name(speaker), role
    # a common noun phrase: "the company", "a spokeswoman for Acme", "other estimates"
    start, end = head.left_edge, head
    for child in head.rights:
        if child.dep_ == "prep" and child.i == end.i + 1:
            end = list(child.subtree)[-1]
        else:
            break
    speaker = span_of(text, start.idx, end.idx + len(end.text))
    bare = start.dep_ in ("det", "poss") and start.lower_ in ("the", "its", "his", "her") and head.i == start.i + 1
    resolved = mentions.resolve(head) if bare and head.lemma_.lower() in ORG_NOUNS else None
    return speaker, resolved, None


def _named(mentions: Mentions, speaker: TextSpan, entity) -> TextSpan:
    kind = "ORG" if entity.label_ == "ORG" else "PERSON"
    mentions.add_speaker(speaker, kind, entity.root.lemma_.lower())
    return speaker


def _consistent_kinds(names: list) -> dict[int, str]:  # spaCy entity spans
    """``{entity start token: PERSON | ORG | other label}``, overriding spaCy's label by
    how the article shortens a name: a later lone first word ("Velora" after "Velora
    Motors") makes both an organisation, a later lone last word ("Petrova" after "Nadia
    Petrova") both a person (the small pipeline labels such repeats inconsistently)."""
    kinds = {e.start: e.label_ for e in names}
    for i, full in enumerate(names):
        if len(full) < 2:
            continue
        for short in names[i + 1:]:
            if len(short) != 1:
                continue
            if short.text == full[0].text and full.label_ != "PERSON":
                kinds[full.start] = kinds[short.start] = "ORG"
            elif short.text == full[-1].text:
                kinds[full.start] = kinds[short.start] = "PERSON"
    return kinds


def _entity_of(doc, token):  # the name entity holding token, or None
    for ent in ents_of(doc):
        if ent.start <= token.i < ent.end and ent.label_ in _NAME_LABELS:
            if ent.text.islower():
                return None  # "chamber": a noun the small pipeline took for a name
            ent = _strip_possessive(ent)
            return ent if len(ent) else None
    return None


def _strip_possessive(ent):
    return ent[:-1] if len(ent) and ent[-1].text in ("'s", "’s") else ent
