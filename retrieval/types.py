"""Typed results shared by the retriever, the readers, the CLI and the HTTP API.

Shapes follow Haystack 2.x's ``ExtractedAnswer(document_offset=Span(start, end))``:
all offsets are Python ``str`` indices into the stored ``Article.text`` and are
half-open, ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """A half-open character span ``[start, end)`` of an article's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def contains(self, other: "Span") -> bool:
        """True when ``other`` lies inside this span."""
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: "Span") -> bool:
        """True when the two spans share at least one character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: where it lies in its article and how it scored.

    ``score`` is the fused retrieval score (higher is better, not calibrated);
    ``dense_rank``/``lexical_rank`` are 1-based ranks in each retriever (None = absent).
    """

    chunk_id: int
    article_id: str
    title: str
    start: int
    end: int
    text: str
    score: float
    url: str = ""
    source: str = ""
    published: str | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class ExtractedAnswer:
    """What a reader returns: an answer span inside one article, with its evidence.

    ``answer`` is the short answer span (``article_text[answer_span]``); ``evidence``
    is the sentence (or clause) that supports it and contains the answer span.
    ``confidence`` is in [0, 1].
    """

    article_id: str
    answer: str
    answer_span: Span
    evidence_span: Span
    confidence: float
    extra_evidence: tuple[tuple[str, Span], ...] = ()


@dataclass(frozen=True)
class Citation:
    """A numbered citation. ``quote == article.text[start:end]`` always holds."""

    n: int
    article_id: str
    title: str
    url: str
    start: int
    end: int
    quote: str


@dataclass(frozen=True)
class PassageRef:
    """A passage listed under an answer (the closest articles when abstaining)."""

    article_id: str
    title: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    """The answer object shared by the library, ``byline ask --json`` and the HTTP API.

    ``answer`` is the short answer span (None when abstained); ``text`` is the reply
    for a person, with ``[n]`` markers; ``citations[0]`` contains the answer span.
    """

    question: str
    answer: str | None
    text: str
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    passages: list[PassageRef] = field(default_factory=list)
    # The self-contained question actually searched (after follow-up rewriting).
    standalone_question: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict in the documented field order."""
        return {
            "question": self.question,
            "answer": self.answer,
            "text": self.text,
            "abstained": self.abstained,
            "confidence": round(float(self.confidence), 4),
            "citations": [asdict(c) for c in self.citations],
            "passages": [asdict(p) for p in self.passages],
            "standalone_question": self.standalone_question,
        }
