"""Question answering end to end: follow-up rewriting -> hybrid retrieval -> reader ->
an :class:`~retrieval.types.Answer` whose citations are verified exact spans.

Every citation's ``quote`` is cut from the article text it cites and checked against it
before the answer leaves this module (:func:`verify_citations`); an answer whose span
cannot be verified is withheld (abstain) rather than shown with a wrong citation.
"""

from __future__ import annotations

import logging
from typing import Iterator, Sequence

from config.settings import Settings
from index.base import IndexBackend, SearchFilters
from retrieval.readers import make_reader
from retrieval.readers.base import FollowupRewriter, Reader, StreamingReader, TextEmbedder
from retrieval.retriever import HybridRetriever, Mode
from retrieval.types import Answer, Citation, ExtractedAnswer, Passage, PassageRef, Span

log = logging.getLogger(__name__)

History = Sequence[tuple[str, str]]


class CitationError(AssertionError):
    """A citation's quote is not the article's text at its offsets (never shown)."""


def quoted(sentence: str) -> str:
    """``sentence`` in curly quotes, without doubling a quotation mark it already ends or
    starts with (“... a terrorist “diaspora.”” becomes “... a terrorist “diaspora.”)."""
    body = " ".join(sentence.split())
    opening = "" if body.startswith(("“", '"')) else "“"
    closing = "" if body.endswith(("”", '"')) else "”"
    return f"{opening}{body}{closing}"


def verify_citations(citations: Sequence[Citation], texts: dict[str, str]) -> None:
    """Raise :class:`CitationError` unless ``texts[c.article_id][c.start:c.end] == c.quote``
    for every citation."""
    for c in citations:
        text = texts.get(c.article_id)
        if text is None or not (0 <= c.start < c.end <= len(text)) or text[c.start:c.end] != c.quote:
            raise CitationError(f"citation [{c.n}] of {c.article_id!r} [{c.start}, {c.end}) does not match the article")


class QAPipeline:
    """Answers questions over an index backend.

    ``ask`` returns an :class:`Answer`; ``stream`` yields the reply text in pieces and then
    the Answer. The reader defaults to ``settings.reader`` (the offline reader); readers are
    built once per pipeline and load their models lazily.
    """

    def __init__(self, backend: IndexBackend, settings: Settings, *, embedder: TextEmbedder | None = None,
                 reader: Reader | None = None) -> None:
        self.backend = backend
        self.settings = settings
        self.embedder = embedder if embedder is not None else backend.embedder
        self.retriever = HybridRetriever(backend, self.embedder, settings.retrieval)
        self._reader = reader

    @property
    def reader(self) -> Reader:
        """The configured reader (built on first use)."""
        if self._reader is None:
            self._reader = make_reader(self.settings, self.embedder)
        return self._reader

    def standalone_question(self, question: str, history: History = ()) -> str:
        """The question with follow-up references resolved against ``history``."""
        if not history:
            return question
        if isinstance(self.reader, FollowupRewriter):  # the LLM reader rewrites follow-ups itself
            try:
                rewritten = (self.reader.rewrite(question, list(history)) or "").strip()
                if rewritten:
                    return rewritten
            except Exception as exc:  # noqa: BLE001 - any failure falls back to the rules below
                log.warning("follow-up rewriting by the reader failed (%s); using the rule-based rewrite", exc)
        from retrieval.conversation import rewrite_followup

        return rewrite_followup(question, list(history), spacy_model=self.settings.reader.spacy_model)

    def ask(self, question: str, history: History = (), filters: SearchFilters | None = None,
            k: int | None = None, mode: Mode = "hybrid") -> Answer:
        """Answer ``question`` (with earlier ``(question, answer)`` turns as ``history``).

        Raises ``ValueError`` for an empty question or one longer than
        ``server.max_question_chars``.
        """
        question = self._validate(question)
        chat = self._small_talk(question) or self._unanswerable(question)
        if chat is not None:
            return chat
        standalone = self.standalone_question(question, history)
        passages, reading, texts = self._retrieve(standalone, filters, k, mode)
        extracted = self._from_claims(standalone, passages, texts)
        if extracted is None:
            extracted = self.reader.read(standalone, reading, texts) if reading else None
        refs = [PassageRef(p.article_id, p.title, p.start, p.end, round(p.score, 6)) for p in passages]
        answer = self._compose(question, standalone, extracted, passages, texts, refs)
        return answer

    def warm_up(self, question: str) -> None:
        """Load what answering needs (embedder, indexes, spaCy, the reader's model) by
        retrieving for ``question``; a reader that ``generates`` (the LLM reader) is only
        loaded, never asked, so a warm-up costs no generation."""
        if self.reader.generates:
            self._retrieve(self._validate(question), None, None, "hybrid")
            self.reader.load()
            return
        self.ask(question)

    def _small_talk(self, question: str) -> Answer | None:
        """A short reply without citations when ``question`` is small talk ("Hello",
        "Thanks!"), else None; see :mod:`retrieval.smalltalk`."""
        from retrieval.smalltalk import small_talk_reply

        reply = small_talk_reply(question)
        if reply is None:
            return None
        return Answer(question=question, answer=None, text=reply, abstained=True, confidence=0.0,
                      status="abstained", reader="small-talk")

    def _unanswerable(self, question: str) -> Answer | None:
        """An abstention without citations when the archive is empty, or when the question
        is clearly not in English and ``reader.english_only`` is set (the default models
        read English only); else None."""
        reply = None
        if self.backend.count() == 0:
            reply, reader = "The archive is empty: add articles with `byline add`.", "empty-archive"
        elif self.settings.reader.english_only:
            from retrieval.language import english_only_reply, non_english_language

            language = non_english_language(question)
            if language:
                reply, reader = english_only_reply(language), "language"
        if reply is None:
            return None
        return Answer(question=question, answer=None, text=reply, abstained=True, confidence=0.0,
                      status="abstained", reader=reader)

    def _validate(self, question: str) -> str:
        """The stripped question; ``ValueError`` when empty or over ``server.max_question_chars``."""
        question = (question or "").strip()
        if not question:
            raise ValueError("question: empty")
        try:
            question.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("question: invalid Unicode (a lone surrogate)") from None
        limit = self.settings.server.max_question_chars
        if len(question) > limit:
            raise ValueError(f"question: {len(question)} characters, the limit is {limit}")
        return question

    def _retrieve(self, standalone: str, filters: SearchFilters | None, k: int | None,
                  mode: Mode) -> tuple[list[Passage], list[Passage], dict[str, str]]:
        """``(passages, the ones the reader reads, their article texts)`` from one snapshot."""
        self.backend.refresh()
        with self.backend.read_snapshot():
            passages = self.retriever.retrieve(standalone, k=k, filters=filters, mode=mode)
            reading = passages[: self.settings.reader.passages]
            texts = self.backend.texts({p.article_id for p in reading})
        return passages, reading, texts

    def _from_claims(self, standalone: str, passages: list[Passage], texts: dict[str, str]) -> ExtractedAnswer | None:
        """An answer from the archive's attributed claims for an attribution question
        ("Who estimated ...?", :mod:`retrieval.claim_answers`), or None to let the reader
        answer (also for a backend without claims, or with ``reader.claim_answers`` off).
        The texts of the articles it cites are added to ``texts``."""
        if not self.settings.reader.claim_answers:
            return None
        import sqlite3

        from index.base import ArchiveError
        from retrieval.claim_answers import claim_answer

        try:
            found = claim_answer(self.backend, standalone, passages, texts, self.embedder)
        except (sqlite3.Error, ArchiveError, KeyError, TypeError, ValueError):  # a damaged claims row
            log.exception("answering from claims failed; the reader answers")
            return None
        if found is None:
            return None
        extracted, cited = found
        texts.update(cited)
        return extracted

    def _compose(self, question: str, standalone: str, extracted: ExtractedAnswer | None,
                 passages: list[Passage], texts: dict[str, str], refs: list[PassageRef]) -> Answer:
        """The Answer for ``extracted``: its own ``status`` when the reader set one, else
        ``answered`` at or above ``reader.abstain_threshold`` and ``abstained`` below."""
        threshold = self.settings.reader.abstain_threshold
        confidence = extracted.confidence if extracted else 0.0
        status = "abstained"
        if extracted is not None:
            status = extracted.status or ("answered" if confidence >= threshold else "abstained")
        reader_name = (extracted.reader if extracted is not None and extracted.reader else self.settings.reader.name)
        fallback = bool(extracted is not None and extracted.reader
                        and extracted.reader not in (self.settings.reader.name, "claims"))
        rewritten = standalone if standalone != question else None
        if extracted is not None and status != "abstained" and extracted.article_id in texts:
            citations = self._citations(extracted, passages, texts)
            try:
                verify_citations(citations, texts)
            except CitationError:
                log.exception("withheld an answer whose citation did not verify")
            else:
                first = citations[0]
                note = extracted.note
                if status == "uncertain":
                    text = (f"The archive may say: {extracted.answer} [1]. {quoted(first.quote)} "
                            "(uncertain: check the cited sentence)")
                    citations = citations[:1]
                else:
                    # An LLM reader supplies its verified reply ([n] numbered as these citations).
                    text = extracted.reply or f"{extracted.answer} [1]. {quoted(first.quote)}"
                    if len(citations) > 1 and not extracted.reply and not note:
                        text += " See also " + ", ".join(f"[{c.n}]" for c in citations[1:]) + "."
                if note:  # e.g. "another figure is given: ..." or why the fallback reader answered
                    text += f" ({note})"
                return Answer(question=question, answer=extracted.answer, text=text,
                              abstained=status != "answered", confidence=confidence, citations=citations,
                              passages=refs, standalone_question=rewritten, status=status,
                              reader=reader_name, fallback=fallback)
        note = extracted.note if extracted is not None and status == "abstained" else ""
        return Answer(question=question, answer=None,
                      text=self._abstention_text(passages) + (f" ({note})" if note else ""),
                      abstained=True, confidence=confidence, citations=[], passages=refs,
                      standalone_question=rewritten, status="abstained", reader=reader_name, fallback=fallback)

    @staticmethod
    def _citations(extracted: ExtractedAnswer, passages: list[Passage], texts: dict[str, str]) -> list[Citation]:
        meta = {p.article_id: p for p in passages}
        spans: list[tuple[str, Span]] = [(extracted.article_id, extracted.evidence_span)]
        spans.extend((aid, span) for aid, span in extracted.extra_evidence
                     if aid in texts and (aid, span) not in spans)
        citations = []
        for n, (article_id, span) in enumerate(spans, start=1):
            p = meta.get(article_id)
            citations.append(Citation(n=n, article_id=article_id, title=p.title if p else "",
                                      url=p.url if p else "", start=span.start, end=span.end,
                                      quote=texts[article_id][span.start:span.end]))
        return citations

    @staticmethod
    def _abstention_text(passages: list[Passage]) -> str:
        if not passages:
            return "The archive holds no article that matches this question."
        seen: list[Passage] = []
        for p in passages:
            if p.article_id not in {s.article_id for s in seen}:
                seen.append(p)
            if len(seen) == 3:
                break
        closest = "; ".join(
            f"“{p.title}”" + (f" ({', '.join(x for x in (p.source, p.published or '') if x)})" if (p.source or p.published) else "")
            for p in seen)
        return f"The articles do not say. The closest articles are: {closest}."

    def stream(self, question: str, history: History = (), filters: SearchFilters | None = None,
               k: int | None = None) -> Iterator[tuple[str, object]]:
        """Yield ``("delta", str)`` pieces of the reply text, then ``("answer", Answer)``.

        The offline reader answers at once; the text is streamed word by word so that a
        chat shows it progressively. A reader with a ``stream(question, passages, texts)``
        method (the LLM reader) streams its own tokens; when the reader ``streams_drafts``
        they are yielded as ``("draft", str)``: unverified text a client must show as a
        draft, replaced by the final Answer's verified ``text``.
        """
        question = self._validate(question)
        chat = self._small_talk(question) or self._unanswerable(question)
        if chat is not None:
            yield "delta", chat.text
            yield "answer", chat
            return
        if isinstance(self.reader, StreamingReader):
            reader_stream = self.reader.stream
            standalone = self.standalone_question(question, history)
            passages, reading, texts = self._retrieve(standalone, filters, k, "hybrid")
            extracted = self._from_claims(standalone, passages, texts)
            for item in (reader_stream(standalone, reading, texts) if reading and extracted is None else ()):
                if isinstance(item, str):
                    yield ("draft" if self.reader.streams_drafts else "delta"), item
                else:
                    extracted = item
            refs = [PassageRef(p.article_id, p.title, p.start, p.end, round(p.score, 6)) for p in passages]
            yield "answer", self._compose(question, standalone, extracted, passages, texts, refs)
            return
        answer = self.ask(question, history, filters, k)
        words = answer.text.split(" ")
        for i, word in enumerate(words):
            yield "delta", word + (" " if i < len(words) - 1 else "")
        yield "answer", answer
