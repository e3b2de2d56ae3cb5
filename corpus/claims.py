"""Attributed claims: who said, estimated, warned or predicted what, with exact spans.

A :class:`Claim` is one reported statement of an article: its speaker (the name as
written; a pronoun or "the company" with the earlier mention it refers to), the speaker's
role where the text gives it, the cue ("estimated", "told", "according to", "put"), the
content (the reported clause or quote), the figures inside the content and the sentence.
Every span is a Python ``str`` offset pair into ``article.text``, and
:meth:`Claim.check` proves ``text[start:end]`` equals every stored string.

Extraction is rule-based on spaCy's parse (:func:`corpus.claim_rules.extract_claims`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["Claim", "ClaimSpanError", "Figure", "TextSpan", "span_of", "trimmed"]

TRIM = " \t\n,;:.\"'“”‘’—–-()[]"  # what trimmed() strips from both ends


class ClaimSpanError(ValueError):
    """A claim whose stored string is not ``text[start:end]`` (the message names the
    claim's field and both strings)."""


@dataclass(frozen=True)
class TextSpan:
    """``text`` is ``article.text[start:end]`` (Python ``str`` offsets, end exclusive)."""

    text: str
    start: int
    end: int

    def check(self, article_text: str, name: str) -> None:
        """Raise :class:`ClaimSpanError` naming ``name`` unless the span is exact."""
        if not (0 <= self.start <= self.end <= len(article_text)):
            raise ClaimSpanError(f"claim field {name!r}: offsets {self.start}:{self.end} lie outside the "
                                 f"article text (length {len(article_text)})")
        found = article_text[self.start:self.end]
        if found != self.text:
            raise ClaimSpanError(f"claim field {name!r}: text[{self.start}:{self.end}] is {found!r}, "
                                 f"the claim stores {self.text!r}")


@dataclass(frozen=True)
class Figure(TextSpan):
    """A number inside a claim's content, with its unit where the text gives one
    (``"5,000"``, ``"$4.2 billion"``, ``"12 percent"``). ``kind`` is spaCy's entity
    label (CARDINAL, MONEY, PERCENT, QUANTITY); ``value`` the number as a float (the
    scale words million / billion applied; None when it cannot be read)."""

    kind: str = "CARDINAL"
    value: float | None = None


@dataclass(frozen=True)
class Claim:
    """One attributed statement of an article.

    - ``speaker``: the subject as written ("Imad Moustapha", "she", "the company",
      "other estimates"); ``resolved``: for a pronoun or a bare "the company", the
      nearest fitting earlier PERSON or ORG mention it refers to, and for a surname the
      earlier full name (None when the speaker is a name already or nothing fits).
    - ``role``: the speaker's title or apposition ("Syria's Ambassador to China"), or None.
    - ``cue``: the reporting word(s) as written ("estimated", "told", "according to");
      ``cue_lemma`` its dictionary form ("estimate", "according to", "put ... at").
    - ``content``: the reported clause or the quote's words (without quote marks).
    - ``sentence``: the sentence(s) that hold the cue and the content.
    - ``attribution``: ``"parse"`` (cue and speaker in the sentence), ``"quote"`` (a quote
      beside the cue), or ``"previous"`` / ``"next"`` (a quote whose speaker is named only
      in the previous or next sentence; the cue span lies there).
    """

    speaker: TextSpan
    cue: TextSpan
    cue_lemma: str
    content: TextSpan
    sentence: TextSpan
    resolved: TextSpan | None = None
    role: TextSpan | None = None
    figures: tuple[Figure, ...] = field(default_factory=tuple)
    attribution: str = "parse"

    @property
    def speaker_name(self) -> str:
        """The name the claim is attributed to: ``resolved`` when set, else ``speaker``."""
        return (self.resolved or self.speaker).text

    def spans(self) -> list[tuple[str, TextSpan]]:
        """``[(field name, span)]`` of every span the claim holds (figures as ``figures[i]``)."""
        out: list[tuple[str, TextSpan]] = [("speaker", self.speaker), ("cue", self.cue),
                                           ("content", self.content), ("sentence", self.sentence)]
        if self.resolved is not None:
            out.append(("resolved", self.resolved))
        if self.role is not None:
            out.append(("role", self.role))
        out.extend((f"figures[{i}]", f) for i, f in enumerate(self.figures))
        return out

    def check(self, article_text: str) -> "Claim":
        """Return the claim if every span is exact in ``article_text``; else raise
        :class:`ClaimSpanError` naming the field. Figures must also lie inside the content."""
        for name, span in self.spans():
            span.check(article_text, name)
        for i, fig in enumerate(self.figures):
            if not (self.content.start <= fig.start and fig.end <= self.content.end):
                raise ClaimSpanError(f"claim field 'figures[{i}]': {fig.text!r} lies outside the content span")
        if not self.content.text.strip():
            raise ClaimSpanError("claim field 'content': empty")
        return self

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (spans as ``{"text", "start", "end"}``); inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Claim":
        """A claim from :meth:`to_dict`'s output; ``KeyError``/``TypeError`` name a missing field."""
        def span(key: str) -> TextSpan | None:
            value = data.get(key)
            return TextSpan(value["text"], int(value["start"]), int(value["end"])) if value else None

        figures = tuple(Figure(f["text"], int(f["start"]), int(f["end"]), f.get("kind", "CARDINAL"), f.get("value"))
                        for f in data.get("figures") or ())
        return cls(speaker=span("speaker"), cue=span("cue"), cue_lemma=data["cue_lemma"],  # type: ignore[arg-type]
                   content=span("content"), sentence=span("sentence"),  # type: ignore[arg-type]
                   resolved=span("resolved"), role=span("role"), figures=figures,
                   attribution=data.get("attribution", "parse"))


def span_of(text: str, start: int, end: int) -> TextSpan:
    """The exact span ``text[start:end]``."""
    return TextSpan(text[start:end], start, end)


def trimmed(text: str, start: int, end: int, keep_end: bool = False) -> TextSpan | None:
    """``text[start:end]`` without surrounding spaces, punctuation and quote marks
    (``keep_end``: only spaces at the end, for sentences); None when nothing is left."""
    while start < end and text[start] in TRIM:
        start += 1
    while end > start and (text[end - 1].isspace() if keep_end else text[end - 1] in TRIM):
        end -= 1
    # keep a closing bracket whose opening one is inside
    if not keep_end and end < len(text) and text[end] in ")]" and text.count("(", start, end) > text.count(")", start, end):
        end += 1
    return span_of(text, start, end) if end > start else None
