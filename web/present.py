"""What the chat and the widget show, derived from the answer object (``Answer.to_dict()``)
without changing it: where the answer sits in its quote, which citations support the
answer (one source entry per article), and, for an abstention, the best sentence of each
of the closest articles.

The answer object has no answer offsets; the first citation's span contains the answer
span, so the answer is found in that quote. "See also" citations and boilerplate lines
("Related: ...") do not support the answer and are not shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from retrieval.readers.sentences import split_sentences

# A line a site adds around the story, not part of it.
BOILERPLATE = re.compile(r"^\s*(related|read more|see also|more from|advertisement|sign up|subscribe|"
                         r"click here|share this|follow us)\b", re.I)
_SEE_ALSO = re.compile(r"\s*See also (\[\d+\](, )?)+\.?")
_REF = re.compile(r"\[(\d+)\]")
_OTHER = re.compile(r"another figure is given: (.+?) \[(\d+)\]")
_WORD = re.compile(r"[^\W_]+(?:[’'.,][^\W_]+)*", re.U)
_STOP = frozenset("""a an the of in on at to for from by with and or but is are was were be been
    being do does did has have had how many much what which who whom whose when where why
    that this these those it its as than then there their they he she his her i you we our
    about according said says say tell me""".split())


def status_of(answer: Mapping[str, Any]) -> str:
    """``answered``, ``uncertain`` or ``abstained`` (older objects: from ``abstained``)."""
    status = answer.get("status")
    if status in ("answered", "uncertain", "abstained"):
        return str(status)
    return "abstained" if answer.get("abstained") else "answered"


def answer_in_quote(quote: str, answer: str | None) -> tuple[int, int] | None:
    """``(start, end)`` of ``answer`` inside ``quote`` (first occurrence, ignoring case and
    runs of white space), or None."""
    if not answer or not quote:
        return None
    at = quote.find(answer)
    if at >= 0:
        return at, at + len(answer)
    words = answer.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    match = re.search(pattern, quote, re.I) if words else None
    return (match.start(), match.end()) if match else None


def is_boilerplate(text: str) -> bool:
    """True for lines such as "Related: ..." or "Read more ..."."""
    return bool(BOILERPLATE.match(text or ""))


@dataclass
class Cited:
    """One citation as shown: its number, span, the answer inside it (article offsets)."""

    n: int
    article_id: str
    start: int
    end: int
    quote: str
    answer: str | None = None
    answer_span: tuple[int, int] | None = None  # article offsets


@dataclass
class Source:
    """One article in the source list with the citations it supports."""

    article_id: str
    title: str
    url: str
    cites: list[Cited] = field(default_factory=list)


def supporting(answer: Mapping[str, Any]) -> list[Cited]:
    """The citations that support the answer, in order: [1] (the sentence holding the
    answer) and every [n] the reply refers to outside a "See also" list (for example a
    rival figure), never a boilerplate line. Each gets the answer span it quotes."""
    citations = list(answer.get("citations") or [])
    if not citations:
        return []
    text = _SEE_ALSO.sub(" ", str(answer.get("text") or ""))
    referred = {int(n) for n in _REF.findall(text)}
    others = {int(n): figure for figure, n in _OTHER.findall(text)}
    out: list[Cited] = []
    for i, c in enumerate(citations):
        n = int(c["n"])
        if i and (n not in referred or is_boilerplate(c["quote"])):
            continue
        said = answer.get("answer") if i == 0 else others.get(n)
        rel = answer_in_quote(c["quote"], said)
        span = (int(c["start"]) + rel[0], int(c["start"]) + rel[1]) if rel else None
        out.append(Cited(n, c["article_id"], int(c["start"]), int(c["end"]), c["quote"],
                         c["quote"][rel[0]:rel[1]] if rel else None, span))
    return out


def sources(answer: Mapping[str, Any], cited: Iterable[Cited] | None = None) -> list[Source]:
    """One :class:`Source` per article (first citation's order), each with its citations."""
    titles = {c["article_id"]: (c.get("title") or "", c.get("url") or "") for c in answer.get("citations") or []}
    grouped: dict[str, Source] = {}
    for c in supporting(answer) if cited is None else cited:
        title, url = titles.get(c.article_id, ("", ""))
        grouped.setdefault(c.article_id, Source(c.article_id, title, url)).cites.append(c)
    return list(grouped.values())


def other_figures(answer: Mapping[str, Any]) -> dict[int, str]:
    """``{n: figure}`` for "another figure is given: Y [n]" notes in the reply."""
    return {int(n): figure for figure, n in _OTHER.findall(str(answer.get("text") or ""))}


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1}


def best_sentence(text: str, start: int, end: int, question: str) -> tuple[int, int]:
    """The sentence of ``text[start:end]`` sharing the most words with ``question`` (the
    earliest on a tie; boilerplate lines last); the passage itself when it has none."""
    want = _words(question)
    best, best_score = None, -1.0
    for s, e in split_sentences(text):
        if e <= start or s >= end:
            continue
        sentence = text[s:e]
        score = len(want & _words(sentence)) - (100 if is_boilerplate(sentence) else 0)
        if score > best_score:
            best, best_score = (s, e), score
    return best or (start, end)


@dataclass
class Closest:
    """A closest article of an abstention and its best sentence (article offsets)."""

    article_id: str
    title: str
    start: int
    end: int
    sentence: str = ""


def closest(answer: Mapping[str, Any], texts: Mapping[str, str] | None = None, limit: int = 3) -> list[Closest]:
    """At most ``limit`` distinct articles of ``passages`` (best first), each pointing at
    the best sentence of its best passage when ``texts`` (article id -> text) has it."""
    texts = texts or {}
    question = str(answer.get("standalone_question") or answer.get("question") or "")
    out: list[Closest] = []
    seen: set[str] = set()
    for p in answer.get("passages") or []:
        if p["article_id"] in seen:
            continue
        seen.add(p["article_id"])
        text = texts.get(p["article_id"])
        start, end = int(p["start"]), int(p["end"])
        sentence = ""
        if text is not None and 0 <= start < end <= len(text):
            start, end = best_sentence(text, start, end, question)
            sentence = text[start:end]
        out.append(Closest(p["article_id"], p.get("title") or "", start, end, sentence))
        if len(out) >= limit:
            break
    return out
