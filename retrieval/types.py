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
    ``confidence`` is in [0, 1]. ``status`` is the reader's own outcome,
    ``"answered" | "uncertain" | "abstained"``, or ``""`` when the reader leaves it to the
    pipeline's ``reader.abstain_threshold``. ``note`` is a remark shown after the reply
    (e.g. "another figure is given: ..."); ``reader`` names the reader that answered.
    ``reply`` is a reader's own reply text, whose ``[n]`` follow the pipeline's citation
    numbering ([1] = ``evidence_span``, [2..] = ``extra_evidence`` in order), or ``""`` to
    let the pipeline write it (every extractive reader).
    """

    article_id: str
    answer: str
    answer_span: Span
    evidence_span: Span
    confidence: float
    extra_evidence: tuple[tuple[str, Span], ...] = ()
    status: str = ""
    note: str = ""
    reader: str = ""
    reply: str = ""


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


STATUSES = ("answered", "uncertain", "abstained")


@dataclass
class Answer:
    """The answer object shared by the library, ``byline ask --json`` and the HTTP API.

    ``status``: ``"answered"`` (a short answer the reader stands by), ``"uncertain"`` (the
    best evidence sentence with a tentative ``answer`` marked in it, labelled as such) or
    ``"abstained"`` (the articles do not say; also small talk, which gets a short reply and
    no citations). ``abstained`` is kept for compatibility and is true unless ``status`` is
    ``"answered"``. ``answer`` is the short answer span (the tentative span when uncertain,
    None when abstained); ``text`` is the reply for a person, with ``[n]`` markers;
    ``citations[0]`` contains the answer span. ``reader`` names the reader that produced
    the answer and ``fallback`` is true when a fallback reader answered instead of the
    configured one (the LLM reader falling back to the offline one).
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
    status: str = "abstained"
    reader: str = ""
    fallback: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Answer.status must be one of {STATUSES}, not {self.status!r}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict in the documented field order."""
        return {
            "question": self.question,
            "answer": self.answer,
            "text": self.text,
            "status": self.status,
            "abstained": self.abstained,
            "confidence": round(float(self.confidence), 4),
            "citations": [asdict(c) for c in self.citations],
            "passages": [asdict(p) for p in self.passages],
            "standalone_question": self.standalone_question,
            "reader": self.reader,
            "fallback": self.fallback,
        }
