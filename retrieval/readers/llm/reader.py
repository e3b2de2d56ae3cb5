"""The ``llm`` reader: prompt, stream, verify, and fall back to the offline reader."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from retrieval.readers.base import Reader
from retrieval.readers.llm.client import ChatClient, LLMError
from retrieval.readers.llm.prompt import REWRITE_PROMPT, PromptPassage, build_messages, prompt_passages
from retrieval.readers.llm.verify import verify_reply
from retrieval.readers.sentences import split_sentences
from retrieval.types import ExtractedAnswer, Passage, Span

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import LLMReaderSettings

__all__ = ["LLMAnswer", "LLMReader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMAnswer(ExtractedAnswer):
    """An :class:`ExtractedAnswer` from the LLM reader: ``reply`` is the verified reply text
    ("" = let the pipeline write it), and ``note`` says why the offline reader answered
    instead ("" when the LLM answered)."""


def _with(answer: ExtractedAnswer, **extra: str) -> LLMAnswer:
    values: dict[str, Any] = {f.name: getattr(answer, f.name) for f in fields(ExtractedAnswer)}
    values.update(extra)
    return LLMAnswer(**values)


class LLMReader(Reader):
    """Reader backed by an OpenAI-compatible chat model, with verified citations.

    ``client`` talks to the endpoint; ``fallback`` builds the reader used when the endpoint
    fails or the reply cannot be verified (called once, lazily; normally the
    :class:`~retrieval.readers.offline.OfflineReader`). ``passage_chars`` caps each prompt
    passage; ``threshold`` is the alignment score (0-100) a quote needs.
    """

    def __init__(self, client: ChatClient, fallback: Callable[[], Reader] | None = None, *,
                 passage_chars: int = 1500, threshold: float = 85.0, rewrite_followups: bool = True) -> None:
        self.client = client
        self._fallback_factory = fallback
        self._fallback: Reader | None = None
        self._lock = threading.Lock()
        self.passage_chars = passage_chars
        self.threshold = threshold
        self.rewrite_followups = rewrite_followups

    @classmethod
    def from_settings(cls, settings: "LLMReaderSettings", fallback: Callable[[], Reader] | None = None) -> "LLMReader":
        """Build from ``settings.reader.llm``. Raises ``ValueError`` when ``base_url`` or
        ``model`` is empty."""
        if not settings.base_url.strip():
            raise ValueError("reader.llm.base_url is empty: set it to an OpenAI-compatible endpoint, "
                             "e.g. http://127.0.0.1:11434/v1 for Ollama")
        if not settings.model.strip():
            raise ValueError("reader.llm.model is empty: set it to the model name the server knows "
                             "(e.g. BYLINE_READER__LLM__MODEL=llama3.1:8b for Ollama)")
        client = ChatClient(settings.base_url, settings.model, api_key_env=settings.api_key_env,
                            timeout=settings.timeout, connect_timeout=settings.connect_timeout,
                            max_tokens=settings.max_tokens, temperature=settings.temperature)
        return cls(client, fallback, passage_chars=settings.passage_chars, threshold=settings.align_threshold,
                   rewrite_followups=settings.rewrite_followups)

    generates = True
    streams_drafts = True

    def load(self) -> None:
        """Build and load the fallback reader; no generation (the endpoint is not called,
        so a warm-up costs no LLM call)."""
        reader = self.fallback
        if reader is not None:
            reader.load()

    @property
    def fallback(self) -> Reader | None:
        """The fallback reader (built on first use), or None when there is none."""
        with self._lock:
            if self._fallback is None and self._fallback_factory is not None:
                self._fallback = self._fallback_factory()
            return self._fallback

    def _fall_back(self, question: str, passages: Sequence[Passage], texts: Mapping[str, str],
                   note: str) -> ExtractedAnswer | None:
        reader = self.fallback
        if reader is None:
            return None
        answer = reader.read(question, passages, texts)
        return _with(answer, note=note) if answer is not None else None

    @staticmethod
    def _not_found(pp: Sequence[PromptPassage], texts: Mapping[str, str]) -> ExtractedAnswer:
        """A confidence-0 candidate (the first sentence of the first passage) for NOT FOUND."""
        p = pp[0]
        text = texts[p.article_id]
        sents = [(s, e) for s, e in split_sentences(text) if s < p.end and p.start < e]
        s, e = sents[0] if sents else (p.start, p.end)
        return ExtractedAnswer(p.article_id, text[s:e], Span(s, e), Span(s, e), 0.0)

    def stream(self, question: str, passages: Sequence[Passage],
               article_texts: Mapping[str, str]) -> Iterator[str | ExtractedAnswer | None]:
        """Yield the model's text deltas (``str``, unverified, for display while it types),
        then exactly one final item: the verified :class:`LLMAnswer`, the fallback
        reader's answer (an ``LLMAnswer`` with a ``note``), or None when there is nothing
        to read. Never raises for endpoint errors (they are logged and fall back)."""
        pp = prompt_passages(passages, article_texts, self.passage_chars)
        if not pp or not question.strip():
            yield None
            return
        parts: list[str] = []
        try:
            for delta in self.client.stream_chat(build_messages(question, pp)):
                parts.append(delta)
                yield delta
        except LLMError as exc:
            log.warning("LLM reader: %s; answering with the offline reader", exc)
            yield self._fall_back(question, passages, article_texts,
                                  f"The language model failed ({exc}), so this is the offline reader's answer.")
            return
        reply = "".join(parts)
        verified = verify_reply(reply, pp, article_texts, threshold=self.threshold)
        for reason in verified.dropped:
            log.info("LLM reader dropped a citation: %s", reason)
        if verified.not_found:
            yield _with(self._not_found(pp, article_texts))
        elif verified.answer is None:
            log.warning("LLM reader: no citation of the reply could be verified (%s); answering with the "
                        "offline reader", "; ".join(verified.dropped) or "no citations")
            yield self._fall_back(question, passages, article_texts,
                                  "The language model's reply could not be matched to the articles, "
                                  "so this is the offline reader's answer.")
        else:
            checked = self._checked(question, verified.answer, passages, article_texts, answer_found=bool(
                verified.short_answer) and verified.answer.answer_span != verified.answer.evidence_span)
            yield _with(checked, reply=verified.text)

    def _checked(self, question: str, answer: ExtractedAnswer, passages: Sequence[Passage],
                 texts: Mapping[str, str], *, answer_found: bool) -> ExtractedAnswer:
        """The verified answer held to the offline reader's rules
        (:mod:`retrieval.readers.answer_rules`): the answer's type, the question's constraints
        near the evidence, and a short answer found inside its supporting sentence. The
        confidence is the alignment score when all hold; 0.3 when the short answer was not
        found in the sentence (below the default abstain threshold), 0 when a rule fails."""
        from retrieval.question import analyze_question
        from retrieval.readers.answer_rules import constraint_support, expected_kind, number_unit, question_constraints, type_ok

        analysis = analyze_question(question)
        kind = expected_kind(analysis)
        text = texts[answer.article_id]
        meta = next((p for p in passages if p.article_id == answer.article_id), None)
        ev = answer.evidence_span
        context = text[max(0, ev.start - 400): ev.end + 400]
        _, hard_ok = constraint_support(question_constraints(question, analysis), context,
                                        meta.title if meta else "", (meta.published or "") if meta else "")
        typed = type_ok(kind, answer.answer, set(), number_unit(analysis)) if answer_found else True
        confidence = answer.confidence if answer_found else min(answer.confidence, 0.3)
        if not hard_ok or not typed:
            confidence = 0.0
        return replace(answer, confidence=confidence, reader="llm")

    def read(self, question: str, passages: Sequence[Passage],
             article_texts: Mapping[str, str]) -> ExtractedAnswer | None:
        """See :meth:`Reader.read`: the final item of :meth:`stream`. NOT FOUND gives a
        confidence-0 candidate (so the pipeline abstains)."""
        final: ExtractedAnswer | None = None
        for item in self.stream(question, passages, article_texts):
            if not isinstance(item, str):
                final = item
        return final

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """``question`` rewritten by the model into a standalone query, using ``history``
        (earlier ``(question, answer)`` turns, oldest first). Raises :class:`LLMError` when
        the endpoint fails or the reply is unusable (empty, multi-paragraph, too long), and
        ``RuntimeError`` when ``rewrite_followups`` is off; callers fall back to rules."""
        if not self.rewrite_followups:
            raise RuntimeError("reader.llm.rewrite_followups is off")
        if not history:
            return question
        turns = "\n".join(f"Q: {' '.join(q.split())}\nA: {' '.join((a or '(no answer)').split())}"
                          for q, a in list(history)[-6:])
        messages = [{"role": "system", "content": REWRITE_PROMPT},
                     {"role": "user", "content": f"Conversation:\n{turns}\n\nLast question: {' '.join(question.split())}"}]
        reply = self.client.complete(messages, max_tokens=96)
        lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
        if not lines:
            raise LLMError("the LLM returned an empty rewrite")
        line = re.sub(r"^(?:standalone\s+)?(?:question|query|rewritten(?: question)?)\s*:\s*", "", lines[0],
                      flags=re.IGNORECASE).strip().strip('"“”').strip()
        if not line or len(line) > max(300, 4 * len(question)):
            raise LLMError(f"the LLM's rewrite is unusable: {reply[:120]!r}")
        return line
