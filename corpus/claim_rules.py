"""Rule-based claim extraction over spaCy's dependency parse and entities.

The shapes news uses to attribute statements (the issue's list, checked against our gold
set in ``bench/claims``):

- ``X estimated / said / warned that ...``: a cue verb whose ``nsubj`` is the speaker and
  whose clausal complement (``ccomp``/``xcomp``) is the content;
- ``"...," X told Reuters`` / ``X said: "..."``: a cue verb beside a quote; the content is
  the quote's words;
- ``according to X, ...``: the speaker is the object of "to", the content the clause the
  phrase attaches to;
- ``X put the figure at ...``: the content is what follows "put";
- a quote on its own whose speaker is named only in the previous (or else the next)
  sentence of the paragraph.

Pronoun speakers (he, she, they, it) and bare "the company"-style nouns are resolved to
the nearest earlier PERSON (he/she) or ORG (it, the company; they: either) mention; a
surname to the earlier full name. Cost: one spaCy pass over the article (the
``en_core_web_sm`` pipeline; ms per article measured by ``bench/claims_quality.py``).
"""

from __future__ import annotations

import re
from typing import Iterable

from corpus.claims import Claim, Figure, TextSpan
from corpus.nlp import DEFAULT_SPACY_MODEL, get_nlp

__all__ = ["CUE_LEMMAS", "extract_claims", "extract_from_doc"]

CUE_LEMMAS = frozenset(
    """say tell estimate warn predict claim add note write report argue state announce insist
    explain forecast acknowledge confirm deny suggest reckon calculate project caution stress
    reply respond admit conclude maintain tweet testify assert contend allege put observe
    comment recall concede complain believe expect vow promise threaten urge""".split())
_PUT_OBJECTS = frozenset("figure number toll cost total count estimate tally price value loss losses "
                         "damage bill number death".split())
_PUT_SUBJECTS = frozenset("estimate estimates figure figures".split())
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
_ORG_PRONOUNS = frozenset({"it"})
_EITHER_PRONOUNS = frozenset({"they"})
_ORG_NOUNS = frozenset("company firm group bank ministry agency government department office "
                       "organisation organization carrier airline maker retailer insurer lender "
                       "council union party club startup manufacturer regulator court police "
                       "army military studio network publisher university hospital school "
                       "administration commission board committee".split())
_FIGURE_LABELS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})
_HEDGE = re.compile(r"^(?:(?:as many as|as much as|as few as|as little as|more than|less than|fewer than|"
                    r"up to|at least|at most|nearly|almost|about|around|roughly|some|over|under|"
                    r"approximately|an estimated|just over|just under|only)\s+)+", re.I)
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_WORD_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                            "twelve".split())}
_QUOTE = re.compile(r"“[^”\n]*”|\"[^\"\n]*\"")
_TRIM = " \t\n,;:.\"'“”‘’—–-()[]"
_MIN_QUOTE_WORDS = 4  # a shorter quote is a term ("diaspora"), not a statement


def extract_claims(text: str, spacy_model: str = DEFAULT_SPACY_MODEL) -> list[Claim]:
    """Every attributed claim of an article ``text``, in text order, each checked exact
    (:meth:`Claim.check`). Loads spaCy ``spacy_model`` once per process."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    if not text.strip():
        return []
    return extract_from_doc(get_nlp(spacy_model)(text))


def extract_from_doc(doc) -> list[Claim]:  # noqa: ANN001 - a spacy Doc
    """The claims of a parsed spaCy ``Doc`` (see :func:`extract_claims`)."""
    text = doc.text
    quotes = [(m.start() + 1, m.end() - 1) for m in _QUOTE.finditer(text)
              if len(m.group().split()) >= _MIN_QUOTE_WORDS]
    claims: list[Claim] = []
    for token in doc:
        claim = _claim_at(doc, token, quotes)
        if claim is not None and not any(_same(claim, c) for c in claims):
            claims.append(claim)
    claims.extend(_orphan_quotes(doc, quotes, claims))
    claims.sort(key=lambda c: (c.content.start, c.cue.start))
    return [c.check(text) for c in claims]


# -- one cue ------------------------------------------------------------------------------------
def _claim_at(doc, token, quotes: list[tuple[int, int]]) -> Claim | None:  # noqa: ANN001
    if token.lower_ == "according" and any(c.lower_ == "to" for c in token.children):
        return _according(doc, token)
    if token.pos_ not in ("VERB", "AUX") or token.lemma_.lower() not in CUE_LEMMAS:
        return None
    if _inside(token.idx, quotes):
        return None  # a cue word inside someone's quote is theirs, not a report
    subject = _subject(token)
    if subject is None:
        return None
    lemma = token.lemma_.lower()
    content, attribution = None, "parse"
    if lemma == "put":
        content, lemma = _put_content(doc, token, subject)
    else:
        quote = _adjacent_quote(doc, token, quotes)
        if quote is not None:
            content, attribution = _trimmed(doc.text, *quote), "quote"
        else:
            content = _complement(doc, token) or _parenthetical(doc, token)
    if content is None:
        return None
    speaker, resolved, role = _speaker(doc, subject)
    if speaker is None:
        return None
    return _make(doc, speaker, resolved, role, _span(doc.text, token.idx, token.idx + len(token.text)),
                 lemma, content, token.sent, attribution)


def _subject(verb):  # noqa: ANN001, ANN202 - Token -> Token | None
    for child in verb.children:
        if child.dep_ == "nsubj":
            if child.tag_ in ("WP", "WDT") and verb.dep_ == "relcl":
                return verb.head  # "Clarke, who said ..."
            if child.tag_ in ("WP", "WDT"):
                return None
            return child
    if verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
        return _subject(verb.head)  # "X said ... and added ..."
    if verb.dep_ == "relcl" and verb.head.pos_ in ("NOUN", "PROPN"):
        for child in verb.children:
            if child.dep_ == "nsubj":
                return child
    return None


def _complement(doc, verb) -> TextSpan | None:  # noqa: ANN001
    """The clausal complement of ``verb`` ("estimated [that] ..."), from its first word to
    the end of the verb's clause (so "... and that ..." conjuncts stay in), stopping
    before a parenthesis, a dash aside or a further cue ("..., adding that ...")."""
    for child in verb.children:
        if child.dep_ in ("ccomp", "xcomp") and child.i > verb.i:
            start = child.left_edge
            if start.dep_ == "mark" and start.lower_ in ("that", "if", "whether"):
                start = doc[start.i + 1]
            end = max(verb.right_edge, child.right_edge, key=lambda t: t.i)
            for later in verb.children:
                if later.i > child.i and later.lemma_.lower() in CUE_LEMMAS:
                    end = doc[max(later.left_edge.i - 1, start.i)]
                    break
            for i in range(start.i + 1, end.i + 1):
                if doc[i].text in ("(", "—", "–", "--") or doc[i].dep_ == "relcl" and doc[i].lemma_ in CUE_LEMMAS:
                    end = doc[i - 1]
                    break
            span = _trimmed(doc.text, start.idx, end.idx + len(end.text))
            if span is not None and len(span.text.split()) >= 3:
                return span
    return None


def _parenthetical(doc, verb) -> TextSpan | None:  # noqa: ANN001
    """For a cue in mid-sentence ("In China, he wrote later, there was ..."), the larger
    piece of the sentence on either side of the cue's clause."""
    if verb.dep_ not in ("parataxis", "advcl", "ccomp") or verb.head.pos_ not in ("VERB", "AUX"):
        return None
    own = list(verb.subtree)
    sent = verb.sent
    before = _trimmed(doc.text, sent.start_char, own[0].idx)
    after = _trimmed(doc.text, own[-1].idx + len(own[-1].text), sent.end_char)
    parts = [s for s in (before, after) if s is not None and len(s.text.split()) >= 4]
    return max(parts, key=lambda s: len(s.text)) if parts else None


def _put_content(doc, verb, subject) -> tuple[TextSpan | None, str]:  # noqa: ANN001
    objects = [c for c in verb.children if c.dep_ == "dobj"]
    at = [c for c in verb.children if c.dep_ == "prep" and c.lower_ == "at"]
    if not objects or not (objects[0].lemma_.lower() in _PUT_OBJECTS or subject.lemma_.lower() in _PUT_SUBJECTS
                           or subject.lower_ in _PUT_SUBJECTS):
        return None, "put"
    last = max(t.i for t in verb.subtree if t.i > verb.i and t.dep_ != "punct" and not
               any(a.dep_ in ("cc", "conj") and a.head == verb for a in [t]))
    span = _trimmed(doc.text, objects[0].left_edge.idx, doc[last].idx + len(doc[last].text))
    return span, "put ... at" if at else "put"


def _according(doc, token) -> Claim | None:  # noqa: ANN001
    to = next(c for c in token.children if c.lower_ == "to")
    objects = [c for c in to.children if c.dep_ == "pobj"]
    if not objects:
        return None
    sent = token.sent
    phrase = list(token.subtree)
    p_start, p_end = phrase[0].idx, phrase[-1].idx + len(phrase[-1].text)
    before = _trimmed(doc.text, sent.start_char, p_start)
    after = _trimmed(doc.text, p_end, sent.end_char)
    parts = [s for s in (before, after) if s is not None and len(s.text.split()) >= 3]
    if not parts:
        return None
    content = max(parts, key=lambda s: len(s.text))
    speaker, resolved, role = _speaker(doc, objects[0])
    if speaker is None:
        return None
    cue = _span(doc.text, token.idx, to.idx + len(to.text))
    return _make(doc, speaker, resolved, role, cue, "according to", content, sent, "parse")


# -- speakers -----------------------------------------------------------------------------------
def _speaker(doc, head) -> tuple[TextSpan | None, TextSpan | None, TextSpan | None]:  # noqa: ANN001
    """``(speaker, resolved, role)`` for the subject token ``head``."""
    text = doc.text
    if head.pos_ == "PRON":
        if head.lower_ in ("i", "we", "you", "me", "us", "who", "that", "which", "this", "there"):
            return None, None, None
        speaker = _span(text, head.idx, head.idx + len(head.text))
        return speaker, _resolve(doc, head), None
    appos_names = [c for c in head.children if c.dep_ == "appos" and c.ent_type_ in ("PERSON", "ORG")]
    entity = _entity_of(doc, head)
    if entity is None and appos_names:
        name = _entity_of(doc, appos_names[0]) or doc[appos_names[0].i:appos_names[0].i + 1]
        role = _trimmed(text, head.left_edge.idx, appos_names[0].left_edge.idx)
        speaker = _span(text, name.start_char, name.end_char)
        return speaker, _full_name(doc, name), role
    if entity is not None:
        speaker = _span(text, entity.start_char, entity.end_char)
        role = None
        left = [t for t in head.lefts if t.i < entity.start and t.dep_ not in ("det", "punct", "cc")]
        if left:
            role = _trimmed(text, left[0].left_edge.idx, entity.start_char)
        else:
            for child in head.children:
                if child.dep_ == "appos" and child.i > head.i:
                    sub = list(child.subtree)
                    role = _trimmed(text, sub[0].idx, sub[-1].idx + len(sub[-1].text))
                    break
        if role is not None and not role.text.strip(_TRIM):
            role = None
        return speaker, _full_name(doc, entity), role
    # a common noun phrase: "the company", "a spokeswoman for Acme", "other estimates"
    tokens = [head.left_edge]
    end = head
    for child in head.rights:
        if child.dep_ in ("prep", "compound", "amod", "nummod") and child.i == end.i + 1 or (
                child.dep_ == "prep" and child.i > head.i):
            end = list(child.subtree)[-1]
        else:
            break
    start = tokens[0]
    if start.dep_ == "det" and start.lower_ in ("the", "a", "an") and start.i < head.i:
        bare = head.i == start.i + 1
    else:
        bare = False
    speaker = _span(text, start.idx, end.idx + len(end.text))
    resolved = _resolve(doc, head) if bare and head.lemma_.lower() in _ORG_NOUNS else None
    return speaker, resolved, None


def _entity_of(doc, token):  # noqa: ANN001, ANN202 - the PERSON/ORG/GPE/NORP entity holding token
    for ent in doc.ents:
        if ent.start <= token.i < ent.end and ent.label_ in ("PERSON", "ORG", "GPE", "NORP"):
            if ent[-1].text in ("'s", "’s"):
                return ent[:-1]
            return ent
    return None


def _resolve(doc, pronoun) -> TextSpan | None:  # noqa: ANN001
    """The nearest earlier fitting mention: PERSON for he/she, ORG for it / "the company",
    either for they; subjects of earlier sentences first, then any mention."""
    word = pronoun.lower_ if pronoun.pos_ == "PRON" else ""
    labels = ("PERSON",) if word in _PERSON_PRONOUNS else ("PERSON", "ORG") if word in _EITHER_PRONOUNS \
        else ("ORG",)
    earlier = [e for e in doc.ents if e.end <= pronoun.i and e.label_ in labels]
    if not earlier:
        return None
    subjects = [e for e in earlier if any(t.dep_ in ("nsubj", "nsubjpass", "appos", "pobj") for t in e)
                and e.sent.start >= pronoun.sent.start - 400]
    pick = (subjects or earlier)[-1]
    if pick[-1].text in ("'s", "’s"):
        pick = pick[:-1]
    return _full_name(doc, pick) or _span(doc.text, pick.start_char, pick.end_char)


def _full_name(doc, ent) -> TextSpan | None:  # noqa: ANN001
    """For a one-word PERSON (a surname), the earlier mention of the full name."""
    if len(ent) != 1 or ent.label_ != "PERSON":
        return None
    for other in doc.ents:
        if other.start >= ent.start:
            break
        if other.label_ == "PERSON" and len(other) > 1 and other[-1].text == ent.text:
            return _span(doc.text, other.start_char, other.end_char)
    return None


# -- quotes -------------------------------------------------------------------------------------
def _adjacent_quote(doc, verb, quotes: list[tuple[int, int]]) -> tuple[int, int] | None:  # noqa: ANN001
    """The quote right before the cue (``"...," X said``: only the subject between) or
    right after it (``X said: "..."``, ``X told reporters, "..."``)."""
    text, sent = doc.text, verb.sent
    v_end = verb.idx + len(verb.text)
    for q_start, q_end in quotes:
        if q_end <= verb.idx and q_end >= sent.start_char - 3:
            gap = text[q_end + 1:verb.idx]
            if len(gap) <= 60 and not re.search(r"[.\"“”\n]", gap.lstrip(",?!")):
                return q_start, q_end
        if q_start > v_end:
            gap = text[v_end:q_start - 1].strip()
            if len(gap) <= 40 and "." not in gap and (gap == "" or gap[-1] in ":,"):
                return q_start, q_end
    return None


def _orphan_quotes(doc, quotes, claims: list[Claim]) -> Iterable[Claim]:  # noqa: ANN001
    """Quotes no cue took: attributed to the claim of the previous sentence of the
    paragraph (or the previous paragraph's last), else to the next sentence's."""
    text = doc.text
    taken = [c.content for c in claims]
    for q_start, q_end in quotes:
        span = _trimmed(text, q_start, q_end)
        if span is None or any(_overlap(span, t) for t in taken):
            continue
        sent = doc.char_span(q_start - 1, q_start, alignment_mode="expand")
        if sent is None:
            continue
        sentence = sent.sent
        if not text[sentence.start_char:q_start - 1].strip() == "":
            continue  # the quote is part of a sentence of the writer's own
        prev = [c for c in claims if c.sentence.end <= q_start and text.count("\n\n", c.sentence.end, q_start) <= 1
                and not text[c.sentence.end:q_start].strip(_TRIM + " \n")]
        prev = [c for c in claims if c.sentence.end <= q_start and q_start - c.sentence.end < 400
                and text.count("\n", c.sentence.end, q_start) <= 2] if not prev else prev
        nxt = [c for c in claims if c.sentence.start >= q_end and "\n" not in text[q_end:c.sentence.start]]
        source, how = (prev[-1], "previous") if prev else (nxt[0], "next") if nxt else (None, "")
        if source is None:
            continue
        claim = Claim(speaker=source.speaker, cue=source.cue, cue_lemma=source.cue_lemma, content=span,
                      sentence=_sentence(doc, span), resolved=source.resolved, role=source.role,
                      figures=_figures(doc, span), attribution=how)
        taken.append(span)
        claims = [*claims, claim]
        yield claim


# -- spans --------------------------------------------------------------------------------------
def _make(doc, speaker, resolved, role, cue, lemma, content, sent, attribution) -> Claim:  # noqa: ANN001
    start = min(sent.start_char, content.start, cue.start)
    end = max(sent.end_char, content.end)
    sentence = _trimmed(doc.text, start, end, keep_end=True) or _span(doc.text, start, end)
    return Claim(speaker=speaker, cue=cue, cue_lemma=lemma, content=content, sentence=sentence,
                 resolved=resolved, role=role, figures=_figures(doc, content), attribution=attribution)


def _sentence(doc, span: TextSpan) -> TextSpan:  # noqa: ANN001
    first = doc.char_span(span.start, span.start + 1, alignment_mode="expand")
    last = doc.char_span(span.end - 1, span.end, alignment_mode="expand")
    start = first.sent.start_char if first is not None else span.start
    end = last.sent.end_char if last is not None else span.end
    return _trimmed(doc.text, min(start, span.start - 1), max(end, span.end + 1), keep_end=True) or span


def _figures(doc, content: TextSpan) -> tuple[Figure, ...]:  # noqa: ANN001
    out = []
    for ent in doc.ents:
        if ent.label_ not in _FIGURE_LABELS or ent.start_char < content.start or ent.end_char > content.end:
            continue
        raw = doc.text[ent.start_char:ent.end_char]
        cut = _HEDGE.match(raw)
        start = ent.start_char + (cut.end() if cut else 0)
        if start >= ent.end_char or not any(ch.isdigit() for ch in raw[start - ent.start_char:]) \
                and raw[start - ent.start_char:].lower() not in _WORD_NUMBERS:
            continue
        out.append(Figure(doc.text[start:ent.end_char], start, ent.end_char, ent.label_,
                          _value(doc.text[start:ent.end_char])))
    return tuple(out)


def _value(figure: str) -> float | None:
    """The number in a figure (``"$4.2 billion"`` -> 4.2e9), or None."""
    match = re.search(r"\d[\d,]*(?:\.\d+)?", figure)
    if match is None:
        return float(_WORD_NUMBERS[figure.lower()]) if figure.lower() in _WORD_NUMBERS else None
    value = float(match.group().replace(",", ""))
    for word, scale in _SCALE.items():
        if word in figure.lower():
            value *= scale
    return value


def _span(text: str, start: int, end: int) -> TextSpan:
    return TextSpan(text[start:end], start, end)


def _trimmed(text: str, start: int, end: int, keep_end: bool = False) -> TextSpan | None:
    """``text[start:end]`` without surrounding spaces, punctuation and quote marks
    (``keep_end``: only spaces at the end, for sentences); None when nothing is left."""
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and (text[end - 1].isspace() if keep_end else text[end - 1] in _TRIM):
        end -= 1
    # keep a closing bracket whose opening one is inside
    if not keep_end and end < len(text) and text[end] in ")]" and text.count("([", start, end):
        end += 1
    return _span(text, start, end) if end > start else None


def _inside(pos: int, quotes: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in quotes)


def _same(a: Claim, b: Claim) -> bool:
    """One claim found twice (the same cue, or contents that overlap by most of the shorter)."""
    if a.cue == b.cue:
        return True
    shared = min(a.content.end, b.content.end) - max(a.content.start, b.content.start)
    return shared > 0.8 * min(len(a.content.text), len(b.content.text))


def _overlap(a: TextSpan, b: TextSpan) -> bool:
    return a.start < b.end and b.start < a.end
