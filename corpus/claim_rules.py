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

from corpus.claim_speakers import Mentions, ents_of, speaker_of, text_of
from corpus.claims import TRIM as _TRIM
from corpus.claims import Claim, Figure, TextSpan, span_of as _span, trimmed as _trimmed
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
_OBJECT_CUES = frozenset("predict forecast estimate expect project".split())
_FIGURE_LABELS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY"})
_HEDGE = re.compile(r"^(?:(?:as many as|as much as|as few as|as little as|more than|less than|fewer than|"
                    r"up to|at least|at most|nearly|almost|about|around|roughly|some|over|under|"
                    r"approximately|an estimated|just over|just under|only)\s+)+", re.I)
_UNITS = frozenset("euro euros dollar dollars pound pounds yen yuan rupees francs percent tonnes tons "
                   "kilometres kilometers km miles hectares degrees centimetres metres meters barrels".split())
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_WORD_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven "
                                            "twelve".split())}
_QUOTE = re.compile(r"“[^”\n]*”|\"[^\"\n]*\"")
_MIN_QUOTE_WORDS = 3  # a shorter quote is a term ("diaspora"), not a statement


def extract_claims(text: str, spacy_model: str = DEFAULT_SPACY_MODEL) -> list[Claim]:
    """Every attributed claim of an article ``text``, in text order, each checked exact
    (:meth:`Claim.check`). Loads spaCy ``spacy_model`` once per process."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    if not text.strip():
        return []
    return extract_from_doc(get_nlp(spacy_model)(text))


def extract_from_doc(doc) -> list[Claim]:  # a spacy Doc
    """The claims of a parsed spaCy ``Doc`` (see :func:`extract_claims`)."""
    text = text_of(doc)
    quotes = [(m.start() + 1, m.end() - 1) for m in _QUOTE.finditer(text)
              if len(m.group().split()) >= _MIN_QUOTE_WORDS]
    claims: list[Claim] = []
    mentions = Mentions(doc, quotes)
    for token in doc:
        claim = _claim_at(doc, token, quotes, mentions)
        if claim is not None and not any(_same(claim, c) for c in claims):
            claims.append(claim)
    claims.extend(_orphan_quotes(doc, quotes, claims))
    claims.sort(key=lambda c: (c.content.start, c.cue.start))
    return [c.check(text) for c in claims]


# -- one cue ------------------------------------------------------------------------------------
def _claim_at(doc, token, quotes: list[tuple[int, int]], mentions: Mentions) -> Claim | None:
    if token.lower_ == "according" and any(c.lower_ == "to" for c in token.children):
        return _according(doc, token, mentions)
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
            content, attribution = _trimmed(text_of(doc), *quote), "quote"
        else:
            content = _complement(doc, token) or _parenthetical(doc, token) or _object(doc, token)
    if content is None:
        return None
    speaker, resolved, role = speaker_of(doc, subject, mentions)
    if speaker is None:
        return None
    return _make(doc, speaker, resolved, role, _span(text_of(doc), token.idx, token.idx + len(token.text)),
                 lemma, content, token.sent, attribution)


def _subject(verb):  # Token -> Token | None
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


def _complement(doc, verb) -> TextSpan | None:
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
            end = _before_aside(doc, start, end)
            span = _trimmed(text_of(doc), start.idx, end.idx + len(end.text))
            if span is not None and len(span.text.split()) >= 3:
                return span
        if child.dep_ == "ccomp" and child.i < verb.i:  # "Velora will cut 2,000 jobs, the company said"
            span = _trimmed(text_of(doc), child.left_edge.idx, child.right_edge.idx + len(child.right_edge.text))
            if span is not None and len(span.text.split()) >= 3:
                return span
    return None


def _object(doc, verb) -> TextSpan | None:
    """A noun-phrase content for forecast-type cues ("predicted a low turnout")."""
    if verb.lemma_.lower() not in _OBJECT_CUES:
        return None
    for child in verb.children:
        if child.dep_ == "dobj" and child.i > verb.i:
            span = _trimmed(text_of(doc), child.left_edge.idx, child.right_edge.idx + len(child.right_edge.text))
            if span is not None and len(span.text.split()) >= 2:
                return span
    return None


def _before_aside(doc, start, end):  # Tokens -> the Token to end at
    """``end``, or the token before a parenthesis or dash aside that opens after ``start``
    (the aside may hold a claim of its own: "(though other estimates put ...)")."""
    for i in range(start.i + 1, end.i + 1):
        if doc[i].text in ("(", "—", "–", "--"):
            return doc[i - 1]
    return end


def _parenthetical(doc, verb) -> TextSpan | None:
    """For a cue in mid-sentence ("In China, he wrote later, there was ..."), the larger
    piece of the sentence on either side of the cue's clause."""
    if verb.dep_ not in ("parataxis", "advcl", "ccomp") or verb.head.pos_ not in ("VERB", "AUX"):
        return None
    own = list(verb.subtree)
    sent = verb.sent
    before = _trimmed(text_of(doc), sent.start_char, own[0].idx)
    after = _trimmed(text_of(doc), own[-1].idx + len(own[-1].text), sent.end_char)
    parts = [s for s in (before, after) if s is not None and len(s.text.split()) >= 4]
    return max(parts, key=lambda s: len(s.text)) if parts else None


def _put_content(doc, verb, subject) -> tuple[TextSpan | None, str]:
    """``X put the figure at N`` (any object when "at" is followed by a number), or
    ``other estimates put the number far lower``: from the object to the clause's end."""
    objects = [c for c in verb.children if c.dep_ == "dobj"]
    at = [c for c in verb.children if c.dep_ == "prep" and c.lower_ == "at"]
    if not objects:
        return None, "put"
    numeric_at = any(t.like_num or t.ent_type_ in _FIGURE_LABELS for a in at for t in a.subtree)
    if not (numeric_at or objects[0].lemma_.lower() in _PUT_OBJECTS or subject.lower_ in _PUT_SUBJECTS):
        return None, "put"
    last = _before_aside(doc, objects[0].left_edge, doc[max(t.i for t in verb.subtree if t.i > verb.i
                                                            and t.dep_ != "punct")])
    span = _trimmed(text_of(doc), objects[0].left_edge.idx, last.idx + len(last.text))
    return span, "put ... at" if at else "put"


def _according(doc, token, mentions: Mentions) -> Claim | None:
    to = next(c for c in token.children if c.lower_ == "to")
    objects = [c for c in to.children if c.dep_ == "pobj"]
    if not objects:
        return None
    sent = token.sent
    phrase = list(token.subtree)
    p_start, p_end = phrase[0].idx, phrase[-1].idx + len(phrase[-1].text)
    before = _trimmed(text_of(doc), sent.start_char, p_start)
    after = _trimmed(text_of(doc), p_end, sent.end_char)
    parts = [s for s in (before, after) if s is not None and len(s.text.split()) >= 3]
    if not parts:
        return None
    content = max(parts, key=lambda s: len(s.text))
    speaker, resolved, role = speaker_of(doc, objects[0], mentions)
    if speaker is None:
        return None
    cue = _span(text_of(doc), token.idx, to.idx + len(to.text))
    return _make(doc, speaker, resolved, role, cue, "according to", content, sent, "parse")


# -- quotes -------------------------------------------------------------------------------------
def _adjacent_quote(doc, verb, quotes: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The quote right before the cue (``"...," X said``: only the subject between) or
    right after it (``X said: "..."``, ``X told reporters, "..."``)."""
    text, sent = text_of(doc), verb.sent
    v_end = verb.idx + len(verb.text)
    for q_start, q_end in quotes:
        if q_end <= verb.idx and q_end >= sent.start_char - 3 and text[q_end - 1] != ".":
            gap = text[q_end + 1:verb.idx]
            if len(gap) <= 60 and not re.search(r"[.\"“”\n]", gap.lstrip(",?!")):
                return q_start, q_end
        if q_start > v_end:
            gap = text[v_end:q_start - 1].strip()
            if len(gap) <= 40 and "." not in gap and (gap == "" or gap[-1] in ":,"):
                return q_start, q_end
    return None


def _orphan_quotes(doc, quotes, claims: list[Claim]) -> Iterable[Claim]:
    """Quotes no cue took: attributed to the claim of the previous sentence of the
    paragraph (or the previous paragraph's last), else to the next sentence's."""
    text = text_of(doc)
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
def _make(doc, speaker, resolved, role, cue, lemma, content, sent, attribution) -> Claim:
    start = min(sent.start_char, content.start, cue.start)
    end = max(sent.end_char, content.end)
    sentence = _trimmed(text_of(doc), start, end, keep_end=True) or _span(text_of(doc), start, end)
    return Claim(speaker=speaker, cue=cue, cue_lemma=lemma, content=content, sentence=sentence,
                 resolved=resolved, role=role, figures=_figures(doc, content), attribution=attribution)


def _sentence(doc, span: TextSpan) -> TextSpan:
    first = doc.char_span(span.start, span.start + 1, alignment_mode="expand")
    last = doc.char_span(span.end - 1, span.end, alignment_mode="expand")
    start = first.sent.start_char if first is not None else span.start
    end = last.sent.end_char if last is not None else span.end
    return _trimmed(text_of(doc), min(start, span.start - 1), max(end, span.end + 1), keep_end=True) or span


def _figures(doc, content: TextSpan) -> tuple[Figure, ...]:
    out = []
    for ent in ents_of(doc):
        if ent.label_ not in _FIGURE_LABELS or ent.start_char < content.start or ent.end_char > content.end:
            continue
        raw = text_of(doc)[ent.start_char:ent.end_char]
        cut = _HEDGE.match(raw)
        start = ent.start_char + (cut.end() if cut else 0)
        if start >= ent.end_char or not any(ch.isdigit() for ch in raw[start - ent.start_char:]) \
                and raw[start - ent.start_char:].lower() not in _WORD_NUMBERS:
            continue
        end = ent.end_char
        if ent.end < len(doc) and doc[ent.end].lower_ in _UNITS and doc[ent.end].idx + len(doc[ent.end]) <= content.end:
            end = doc[ent.end].idx + len(doc[ent.end].text)  # "300 million" + "euros"
        out.append(Figure(text_of(doc)[start:end], start, end, ent.label_, _value(text_of(doc)[start:end])))
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
