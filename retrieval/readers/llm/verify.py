"""Verification of an ``llm`` reply against the articles (see :func:`verify_reply`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from retrieval.readers.alignment import Alignment, align
from retrieval.readers.base import check_answer
from retrieval.readers.llm.prompt import NOT_FOUND, PromptPassage
from retrieval.readers.sentences import split_sentences
from retrieval.types import ExtractedAnswer, Span

__all__ = ["Claim", "VerifiedReply", "verify_reply"]

_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_QUOTE = re.compile(r'"([^"\n]{2,}?)"|“([^”\n]{2,}?)”|«([^»\n]{2,}?)»')
_LABEL = re.compile(r"^\W*(?:short\s+)?answer\W*?:\s*(?:\*\*)?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Claim:
    """A verified citation: passage ``n`` of the prompt supports ``quote``; ``span`` is
    the aligned text of the article, ``evidence`` that span widened to whole sentences,
    ``score`` the alignment score (0-100)."""

    n: int
    article_id: str
    quote: str
    span: Span
    evidence: Span
    score: float


@dataclass
class _Segment:
    text: str
    nums: list[int]
    claims: list[Claim] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VerifiedReply:
    """The outcome of :func:`verify_reply`: ``claims`` that aligned (in reply order),
    ``dropped`` human-readable reasons for every citation removed, ``short_answer`` as the
    model wrote it, ``text`` the reply with only verified sentences and ``[n]`` renumbered
    as :class:`LLMAnswer` citations, and ``not_found`` when the model said NOT FOUND."""

    claims: tuple[Claim, ...]
    dropped: tuple[str, ...]
    short_answer: str
    text: str
    not_found: bool
    answer: ExtractedAnswer | None


def _sentences_around(text: str, span: Span) -> Span:
    lo, hi = span.start, span.end
    for s, e in split_sentences(text):
        if s < span.end and span.start < e:
            lo, hi = min(lo, s), max(hi, e)
    return Span(lo, hi)


def _quotes(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None).strip() for m in _QUOTE.finditer(text)]


_PIECE_START = re.compile(r"(?<=[.!?])\s+|\n+")


def _supported_part(segment: str, quoted: bool) -> str:
    """The part of a segment its citation supports: from the sentence holding the first
    quote (quoted claims) or the last sentence (unquoted claims) to the end, keeping the
    segment's leading white space. Earlier, uncited sentences are left out."""
    starts = [0] + [m.end() for m in _PIECE_START.finditer(segment)]
    if quoted:
        first = _QUOTE.search(segment)
        at = first.start() if first else 0
        keep = max(s for s in starts if s <= at)
    else:
        keep = max((s for s in starts if segment[s:].strip()), default=0)
    lead = segment[: len(segment) - len(segment.lstrip())]
    return lead + segment[keep:].lstrip() if keep else segment


def _claim_text(segment: str) -> str:
    """The last sentence of a segment, without the answer label and markdown."""
    lines = [ln for ln in segment.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    pieces = [p for p in _SENTENCE_END.split(last) if p.strip()]
    claim = pieces[-1] if pieces else last
    claim = _LABEL.sub("", claim).replace("**", "").strip()
    return claim.strip(" \t.,;:")


def _align_in(quote: str, p: PromptPassage, texts: Mapping[str, str], threshold: float) -> Alignment | None:
    """Align in the passage (plus a margin), else anywhere in its article."""
    text = texts[p.article_id]
    margin = max(50, len(quote))
    found = align(quote, text, p.start - margin, p.end + margin, threshold=threshold)
    if found is None and (p.start - margin > 0 or p.end + margin < len(text)):
        found = align(quote, text, threshold=threshold)
    return found


def _find_answer(short: str, text: str, evidence: Span, threshold: float) -> tuple[Span, float] | None:
    """The short answer inside ``evidence``: ``(span, factor)`` with factor 1.0 for a
    (normalised) exact match, 0.9 for a fuzzy one; None when absent."""
    if not short:
        return None
    exact = re.search(rf"(?<!\w){re.escape(short)}(?!\w)", text[evidence.start:evidence.end])
    if exact:
        return Span(evidence.start + exact.start(), evidence.start + exact.end()), 1.0
    found = align(short, text, evidence.start, evidence.end, threshold=max(threshold, 90.0))
    if found is None or not evidence.contains(found.span):
        return None
    s, e = found.span.start, found.span.end
    if (s > 0 and text[s - 1].isalnum() and text[s].isalnum()) or (e < len(text) and text[e].isalnum() and text[e - 1].isalnum()):
        return None  # "1" inside "11": a piece of a word is not the answer
    return found.span, 1.0 if found.exact else 0.9


def verify_reply(reply: str, passages: Sequence[PromptPassage], texts: Mapping[str, str], *,
                 threshold: float = 85.0) -> VerifiedReply:
    """Check every citation of ``reply`` against the articles and build the answer.

    ``passages`` are the numbered prompt passages, ``texts`` the article texts (all spans
    index them). Returns a :class:`VerifiedReply` whose ``answer`` is None when no
    citation could be verified (or NOT FOUND). Confidence of the answer =
    ``score/100`` of its supporting alignment x 1.0 (short answer found verbatim in the
    evidence), 0.9 (found fuzzily) or 0.7 (not found: the evidence is the answer span).
    """
    by_n = {p.n: p for p in passages}
    body = reply.strip()
    first_line = body.splitlines()[0] if body else ""
    marker = _MARKER.search(first_line)
    # The short answer is what comes before the first [n] of the first line ("Answer: X [1] ...").
    short = _LABEL.sub("", first_line[: marker.start()] if marker else first_line).replace("**", "").strip()
    short = short.strip(" \t.;:,").strip('"“”').strip()
    if not body or NOT_FOUND in body.upper() or short.upper().startswith(NOT_FOUND):
        return VerifiedReply((), (), short, "", True, None)

    # 1. cut the reply into segments that each end with a marker group
    segments: list[_Segment] = []
    pos = 0
    for m in _MARKER.finditer(body):
        nums = [int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))]
        chunk = body[pos:m.start()]
        if segments and not chunk.strip():
            segments[-1].nums.extend(nums)
        else:
            segments.append(_Segment(chunk, nums))
        pos = m.end()
    trailing = body[pos:]

    # 2. align each cited quote (or the cited sentence) in its passage's article
    dropped: list[str] = []
    claims: list[Claim] = []
    for seg in segments:
        seg.quotes = _quotes(seg.text)
        targets = seg.quotes or [_claim_text(seg.text)]
        for n in dict.fromkeys(seg.nums):
            p = by_n.get(n)
            if p is None:
                dropped.append(f"[{n}] names no passage (there are {len(passages)})")
                continue
            for quote in targets:
                if not quote:
                    continue
                found = _align_in(quote, p, texts, threshold)
                if found is None:
                    dropped.append(f"[{n}] does not contain {quote[:80]!r}")
                    continue
                text = texts[p.article_id]
                claim = Claim(n, p.article_id, quote, found.span, _sentences_around(text, found.span), found.score)
                seg.claims.append(claim)
                claims.append(claim)
    trailing_claims: list[Claim] = []
    trailing_quotes = _quotes(trailing)
    for quote in trailing_quotes:  # quotes after the last marker: any passage may hold them
        for p in passages:
            found = _align_in(quote, p, texts, threshold)
            if found is not None:
                text = texts[p.article_id]
                trailing_claims.append(Claim(p.n, p.article_id, quote, found.span,
                                             _sentences_around(text, found.span), found.score))
                break
        else:
            dropped.append(f"no passage contains {quote[:80]!r}")
    claims.extend(trailing_claims)
    if not claims:
        return VerifiedReply((), tuple(dropped), short, "", False, None)

    # 3. the primary claim holds the short answer; the answer span is found inside it
    primary, answer_span, factor = claims[0], None, 0.7
    for c in claims:
        hit = _find_answer(short, texts[c.article_id], c.evidence, threshold)
        if hit is not None:
            primary, (answer_span, factor) = c, hit
            break
    text = texts[primary.article_id]
    if answer_span is None:
        answer_span = primary.evidence
    evidences: list[tuple[str, Span]] = [(primary.article_id, primary.evidence)]
    for c in claims:
        if (c.article_id, c.evidence) not in evidences:
            evidences.append((c.article_id, c.evidence))
    number = {key: i for i, key in enumerate(evidences, start=1)}

    # 4. the reply as shown: verified segments only, markers renumbered as citations
    pieces: list[str] = []
    for seg in segments:
        if not seg.claims:
            continue
        refs = dict.fromkeys(number[(c.article_id, c.evidence)] for c in seg.claims)
        pieces.append(_supported_part(seg.text, bool(seg.quotes)).rstrip() + " " + "".join(f"[{r}]" for r in refs))
    if trailing_claims and len(trailing_claims) == len(trailing_quotes):
        refs = dict.fromkeys(number[(c.article_id, c.evidence)] for c in trailing_claims)
        trailing = _supported_part(trailing, True).rstrip() + " " + "".join(f"[{r}]" for r in refs)
    else:  # uncited text after the last citation is not shown, only its closing punctuation
        trailing = re.match(r"[\s.,;:!?)\]”\"']*", trailing).group(0).rstrip() if pieces else ""
    shown = _LABEL.sub("", ("".join(pieces) + trailing).strip(), count=1).replace("**", "")
    shown = re.sub(r"[ \t]+([.,;:!?])", r"\1", shown)
    shown = re.sub(r"\n{3,}", "\n\n", shown).strip()

    answer = ExtractedAnswer(
        article_id=primary.article_id, answer=text[answer_span.start:answer_span.end], answer_span=answer_span,
        evidence_span=primary.evidence, confidence=float(min(1.0, max(0.0, primary.score / 100.0 * factor))),
        extra_evidence=tuple(evidences[1:]))
    check_answer(answer, text)
    return VerifiedReply(tuple(claims), tuple(dropped), short, shown, False, answer)

