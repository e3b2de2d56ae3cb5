"""Align text quoted by a model back to an exact character span of an article.

A model's quote rarely matches the article byte for byte: it straightens curly quotes,
changes dashes, drops accents or collapses white space, and sometimes paraphrases a word.
:func:`align` first looks for the quote in a *normalised* copy of the text (case folded,
accents and other combining marks removed, quotes/dashes/white space unified) whose
characters keep their original positions, then falls back to rapidfuzz's
``fuzz.partial_ratio_alignment`` (the best-matching window, scored 0-100).

Every span returned indexes the original ``str`` (Python code points), so
``text[span.start:span.end]`` is always the article's own text, never the model's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from retrieval.types import Span

__all__ = ["Alignment", "align", "grapheme_safe", "normalise_with_map", "snap_to_words", "strip_span"]

# Characters replaced before matching (one character each, so positions map 1:1).
_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ",
}
# Below this many normalised characters a quote must match exactly (fuzzy scores of
# short strings are meaningless: "a" has partial_ratio 100 against almost anything).
MIN_FUZZY_CHARS = 12


@dataclass(frozen=True)
class Alignment:
    """Where a quote was found: ``span`` of the original text, ``score`` 0-100 (100 = the
    normalised quote occurs verbatim), and whether the match was ``exact`` (normalised)."""

    span: Span
    score: float
    exact: bool


def _fold_char(ch: str) -> str:
    if ch in _FOLD:
        return _FOLD[ch]
    if ch.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.lower()


@lru_cache(maxsize=512)
def normalise_with_map(text: str) -> tuple[str, tuple[int, ...]]:
    """``(normalised, positions)``: ``normalised[i]`` comes from ``text[positions[i]]``.

    Lower-cased, NFKD with combining marks removed, curly quotes/dashes straightened,
    runs of white space collapsed to one space. Cached (article texts repeat).
    """
    out: list[str] = []
    pos: list[int] = []
    prev_space = False
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        for c in folded:
            if c == " ":
                if prev_space:
                    continue
                prev_space = True
            else:
                prev_space = False
            out.append(c)
            pos.append(i)
    return "".join(out), tuple(pos)


def _normalise(text: str) -> str:
    return normalise_with_map(text)[0].strip()


_WORD = re.compile(r"\w", re.UNICODE)


def strip_span(text: str, start: int, end: int, chars: str = " \t\r\n.,;:!?\"'“”‘’()[]«»—–-") -> tuple[int, int]:
    """Shrink ``[start, end)`` past leading/trailing characters in ``chars`` (white space
    and punctuation by default). Combining marks stay attached to their letter."""
    while start < end and (text[start] in chars or text[start].isspace()):
        start += 1
    while end > start and (text[end - 1] in chars or text[end - 1].isspace()):
        end -= 1
    return start, end


def grapheme_safe(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so that no combining mark (or variation selector / zero-width
    joiner sequence) is cut from the character it modifies."""

    def joins(ch: str) -> bool:
        return unicodedata.combining(ch) > 0 or ch in "\u200d\ufe0e\ufe0f" or 0x1F3FB <= ord(ch) <= 0x1F3FF

    while 0 < start < len(text) and joins(text[start]):
        start -= 1
    while end < len(text) and end > start and (joins(text[end]) or text[end - 1] == "\u200d"):
        end += 1
    return start, end


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so that it neither starts nor ends inside a word (combining
    marks count as part of the word), then strip surrounding white space/punctuation."""

    def inside(i: int) -> bool:
        ch = text[i]
        return bool(_WORD.match(ch)) or unicodedata.combining(ch) > 0

    while 0 < start < len(text) and inside(start) and inside(start - 1):
        start -= 1
    while 0 < end < len(text) and inside(end - 1) and inside(end):
        end += 1
    return strip_span(text, start, end)


def align(quote: str, text: str, lo: int = 0, hi: int | None = None, *,
          threshold: float = 85.0) -> Alignment | None:
    """Find ``quote`` in ``text[lo:hi]``; return its span in ``text`` or None.

    Tries the normalised exact match first (score 100), then, for quotes of at least
    ``MIN_FUZZY_CHARS`` normalised characters, ``rapidfuzz.fuzz.partial_ratio_alignment``
    with ``score_cutoff=threshold`` (0-100). Fuzzy spans are widened to whole words and
    stripped of surrounding punctuation. ``lo``/``hi`` are clamped to the text.
    """
    hi = len(text) if hi is None else min(hi, len(text))
    lo = max(0, min(lo, hi))
    needle = _normalise(quote)
    if not needle:
        return None
    region = text[lo:hi]
    norm, pos = normalise_with_map(region)
    at = norm.find(needle)
    if at >= 0:
        start, end = lo + pos[at], lo + pos[at + len(needle) - 1] + 1
        # A fold can expand one character ("…" -> "..."); never cut inside a character.
        start, end = grapheme_safe(text, *strip_span(text, start, end, chars=""))
        if end > start:
            return Alignment(Span(start, end), 100.0, True)
    if len(needle) < MIN_FUZZY_CHARS or not norm:
        return None
    result = fuzz.partial_ratio_alignment(needle, norm, score_cutoff=threshold)
    if result is None or result.dest_end <= result.dest_start:
        return None
    start = lo + pos[result.dest_start]
    end = lo + pos[result.dest_end - 1] + 1
    start, end = grapheme_safe(text, *snap_to_words(text, start, end))
    if end <= start:
        return None
    return Alignment(Span(start, end), float(result.score), False)
