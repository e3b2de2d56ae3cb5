"""``reader = "transformers"``: any extractive question-answering model (SQuAD / SQuAD 2.0
style, e.g. deepset/roberta-base-squad2) loaded with ``AutoModelForQuestionAnswering``.

transformers 5 has no question-answering pipeline, so the logits are decoded here, the
way the SQuAD 2.0 reference post-processing does it:

1. each retrieved passage is widened to whole sentences of its article; passages of the
   same article that overlap are merged into one context;
2. ``question + context`` is tokenised into windows of ``max_seq_length`` tokens that
   overlap by ``doc_stride`` tokens (``truncation="only_second"``,
   ``return_overflowing_tokens``, ``return_offsets_mapping``);
3. for every window, the best span ``(i, j)`` of context tokens with ``i <= j`` and
   ``j - i < max_answer_tokens`` maximises ``start_logit[i] + end_logit[j]``; the
   window's null ("no answer") score is ``start_logit[cls] + end_logit[cls]``;
4. the confidence of a span is the softmax of its score against its window's null score,
   ``sigmoid(span - null)`` in [0, 1]; the best span over all windows wins;
5. token offsets (``str`` indices into the context) are shifted to article offsets, so
   ``article_text[answer_span] == answer`` holds for any Unicode text; the evidence is the
   sentence (or sentences) containing the answer.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from retrieval.readers.alignment import grapheme_safe, strip_span
from retrieval.readers.base import Reader, check_answer
from retrieval.readers.sentences import split_sentences
from retrieval.types import ExtractedAnswer, Passage, Span

if TYPE_CHECKING:  # pragma: no cover
    from config.settings import TransformersReaderSettings

__all__ = ["ReaderUnavailable", "SpanCandidate", "TransformersReader"]

log = logging.getLogger(__name__)


class ReaderUnavailable(ValueError):
    """The configured model cannot be used (not set, not found locally, not a QA model,
    no fast tokenizer). The message says which setting to change."""


@dataclass(frozen=True)
class SpanCandidate:
    """The best span of one window: article offsets ``[start, end)``, raw ``score``
    (start + end logit), the window's ``null`` score, and ``confidence = sigmoid(score - null)``."""

    article_id: str
    start: int
    end: int
    score: float
    null: float
    confidence: float


# Punctuation trimmed from both ends of an answer span ("$5m." -> "$5m"); brackets and
# quotes only when unbalanced is not tracked, so a quoted title keeps its inner text.
_EDGE_PUNCT = " \t\r\n.,;:!?\"“”‘’()[]«»—–"


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _widen_to_sentences(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened to the sentences it overlaps (``sentences.split_sentences``)."""
    lo, hi = start, end
    for s, e in split_sentences(text):
        if s < end and start < e:
            lo, hi = min(lo, s), max(hi, e)
    return max(0, lo), min(len(text), hi)


def _contexts(passages: Sequence[Passage], texts: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """``(article_id, start, end)`` contexts in retrieval order; overlapping (or touching)
    passages of one article are merged."""
    ranges: dict[str, list[list[int]]] = {}
    order: list[str] = []
    for p in passages:
        text = texts.get(p.article_id)
        if not text:
            continue
        lo, hi = _widen_to_sentences(text, max(0, p.start), min(len(text), p.end))
        if hi <= lo:
            continue
        if p.article_id not in ranges:
            ranges[p.article_id] = []
            order.append(p.article_id)
        ranges[p.article_id].append([lo, hi])
    out: list[tuple[str, int, int]] = []
    for aid in order:
        merged: list[list[int]] = []
        for lo, hi in sorted(ranges[aid]):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        out.extend((aid, lo, hi) for lo, hi in merged)
    return out


class TransformersReader(Reader):
    """Extractive reader over a Hugging Face question-answering model.

    ``model``: a local directory or a cached model id (``local_files_only=True``; nothing
    is downloaded). Lengths are in model tokens. The model loads on first ``read`` (thread
    safe); :meth:`load` raises :class:`ReaderUnavailable` with the reason when it cannot.
    ``read`` takes ~0.1-0.5 s per 384-token window for a base-size model on 2 CPU cores.
    """

    def __init__(self, model: str, *, max_seq_length: int = 384, doc_stride: int = 128,
                 max_question_tokens: int = 64, max_answer_tokens: int = 30, batch_size: int = 8,
                 device: str = "cpu") -> None:
        if not model or not str(model).strip():
            raise ReaderUnavailable(
                "reader.transformers.model is empty: set it to a local directory holding an extractive "
                "question-answering model (e.g. your copy of deepset/roberta-base-squad2), in a --config "
                "file or BYLINE_READER__TRANSFORMERS__MODEL")
        self.model_name = str(model)
        self.max_seq_length = max_seq_length
        self.doc_stride = doc_stride
        self.max_question_tokens = max_question_tokens
        self.max_answer_tokens = max_answer_tokens
        self.batch_size = batch_size
        self.device = device
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = threading.Lock()
        # A fast tokenizer keeps its padding and truncation settings in the shared Rust
        # object and sets them on every call: a call without padding (the question's
        # length) racing one with padding="longest" in another request thread left a
        # batch unpadded ("expected sequence of length 35 at dim 1 (got 36)"). Tokenising
        # is ~1 ms a question; the model runs outside this lock.
        self._tokenize_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: "TransformersReaderSettings") -> "TransformersReader":
        """Build from ``settings.reader.transformers``."""
        return cls(settings.model, max_seq_length=settings.max_seq_length, doc_stride=settings.doc_stride,
                   max_question_tokens=settings.max_question_tokens,
                   max_answer_tokens=settings.max_answer_tokens, batch_size=settings.batch_size,
                   device=settings.device)

    # -- loading ----------------------------------------------------------------------
    def load(self) -> None:
        """Load tokenizer and model (once). Raises :class:`ReaderUnavailable`."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer

            name = self.model_name
            path = Path(name).expanduser()
            where = str(path) if path.exists() else name
            try:
                tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True)
                # transformers 5 loads weights in their stored dtype ("auto"); fp16 matrix
                # products on a CPU are ~20x slower than fp32 (our measurement: 12 s
                # against 0.2 s per question on 2 cores), so a CPU computes in fp32.
                dtype = torch.float32 if str(self.device).startswith("cpu") else "auto"
                model = AutoModelForQuestionAnswering.from_pretrained(where, local_files_only=True, dtype=dtype)
            except (OSError, ValueError, KeyError) as exc:
                raise ReaderUnavailable(
                    f"cannot load the question-answering model {name!r} (reader.transformers.model): "
                    f"{exc}. It must be a local directory (or a model already in the Hugging Face "
                    f"cache) with config.json, weights and tokenizer files; Byline never downloads models."
                ) from exc
            if not getattr(tokenizer, "is_fast", False):
                raise ReaderUnavailable(
                    f"the tokenizer of {name!r} is not a fast (Rust) tokenizer; character offsets "
                    "need one (add tokenizer.json to the model directory)")
            model.eval()
            model.to(self.device)
            self._tokenizer = tokenizer
            self._model = model

    # -- decoding ---------------------------------------------------------------------
    def _question(self, question: str) -> str:
        """The question cut to ``max_question_tokens`` tokens (at a token boundary)."""
        enc = self._tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= self.max_question_tokens:
            return question
        return question[: offsets[self.max_question_tokens - 1][1]]

    def _stride(self, question: str) -> int:
        """``doc_stride`` clamped below half of the room left for the context."""
        q_len = len(self._tokenizer(question, add_special_tokens=False)["input_ids"])
        specials = self._tokenizer.num_special_tokens_to_add(pair=True)
        room = self.max_seq_length - q_len - specials
        if room < 8:
            raise ReaderUnavailable(f"reader.transformers.max_seq_length {self.max_seq_length} leaves no "
                                    "room for the passage after the question")
        return max(0, min(self.doc_stride, room // 2))

    def candidates(self, question: str, passages: Sequence[Passage],
                   article_texts: Mapping[str, str], per_window: int = 1) -> list[SpanCandidate]:
        """The ``per_window`` best spans of every window (non-overlapping, each at most
        ``max_answer_tokens``), best confidence first, in article offsets. Confidence of
        each is ``sigmoid(score - window null score)``."""
        import torch

        self.load()
        contexts = _contexts(passages, article_texts)
        tok, model = self._tokenizer, self._model
        with self._tokenize_lock:
            question = self._question(question.strip())
            if not contexts or not question:
                return []
            ctx_texts = [article_texts[aid][lo:hi] for aid, lo, hi in contexts]
            pad_right = tok.padding_side == "right"
            enc = tok([question] * len(ctx_texts) if pad_right else ctx_texts,
                      ctx_texts if pad_right else [question] * len(ctx_texts),
                      truncation="only_second" if pad_right else "only_first",
                      max_length=self.max_seq_length, stride=self._stride(question),
                      return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest")
        context_seq = 1 if pad_right else 0
        sample_map = enc["overflow_to_sample_mapping"]
        names = [n for n in tok.model_input_names if n in enc]
        out: list[SpanCandidate] = []
        n_windows = len(enc["input_ids"])
        for b0 in range(0, n_windows, self.batch_size):
            rows = range(b0, min(n_windows, b0 + self.batch_size))
            batch = {n: torch.tensor([enc[n][i] for i in rows], device=self.device) for n in names}
            with torch.inference_mode():
                result = model(**batch)
            starts = result.start_logits.float().cpu()
            ends = result.end_logits.float().cpu()
            for r, i in enumerate(rows):
                out.extend(self._best_in_window(enc, i, starts[r], ends[r], context_seq,
                                                contexts[sample_map[i]], article_texts, per_window))
        out.sort(key=lambda c: (-c.confidence, -c.score))
        return out

    def _best_in_window(self, enc: Any, i: int, start_logits: Any, end_logits: Any, context_seq: int,
                        context: tuple[str, int, int], texts: Mapping[str, str],
                        per_window: int = 1) -> list[SpanCandidate]:
        import torch

        seq_ids = enc.sequence_ids(i)
        offsets = enc["offset_mapping"][i]
        ids = enc["input_ids"][i]
        cls_id = self._tokenizer.cls_token_id
        cls = ids.index(cls_id) if cls_id is not None and cls_id in ids else 0
        null = float(start_logits[cls] + end_logits[cls])
        ctx = torch.tensor([s == context_seq and offsets[k][1] > offsets[k][0] for k, s in enumerate(seq_ids)])
        if not bool(ctx.any()):
            return []
        n = len(seq_ids)
        scores = start_logits[:n, None] + end_logits[None, :n]
        length = torch.arange(n)[None, :] - torch.arange(n)[:, None]
        valid = (length >= 0) & (length < self.max_answer_tokens) & ctx[:, None] & ctx[None, :]
        scores = scores.masked_fill(~valid, float("-inf"))
        aid, lo, _hi = context
        text = texts[aid]
        out: list[SpanCandidate] = []
        taken: list[tuple[int, int]] = []
        flat_order = torch.argsort(scores.flatten(), descending=True)[: 40 * max(1, per_window)]
        for flat in flat_order.tolist():
            if len(out) >= per_window:
                break
            s_tok, e_tok = divmod(int(flat), n)
            best = float(scores[s_tok, e_tok])
            if best == float("-inf"):
                break
            if any(s_tok <= b and a <= e_tok for a, b in taken):
                continue  # overlaps a better span of this window
            start, end = grapheme_safe(text, *strip_span(text, lo + offsets[s_tok][0], lo + offsets[e_tok][1],
                                                          chars=_EDGE_PUNCT))
            if end <= start:
                continue
            taken.append((s_tok, e_tok))
            out.append(SpanCandidate(aid, start, end, best, null, _sigmoid(best - null)))
        return out

    @staticmethod
    def _evidence(text: str, start: int, end: int) -> Span:
        lo, hi = _widen_to_sentences(text, start, end)
        return Span(min(lo, start), max(hi, end))

    def read(self, question: str, passages: Sequence[Passage],
             article_texts: Mapping[str, str]) -> ExtractedAnswer | None:
        """See :meth:`Reader.read`. Confidence = ``sigmoid(best span score - null score)``;
        ``extra_evidence`` holds up to two other sentences whose spans are at least half as
        confident. Raises :class:`ReaderUnavailable` when the model cannot be loaded."""
        cands = self.candidates(question, passages, article_texts)
        if not cands:
            return None
        best = cands[0]
        text = article_texts[best.article_id]
        evidence = self._evidence(text, best.start, best.end)
        extra: list[tuple[str, Span]] = []
        for c in cands[1:]:
            if len(extra) == 2 or c.confidence < 0.5 * best.confidence:
                break
            ev = self._evidence(article_texts[c.article_id], c.start, c.end)
            key = (c.article_id, ev)
            if key != (best.article_id, evidence) and key not in extra:
                extra.append(key)
        answer = ExtractedAnswer(
            article_id=best.article_id, answer=text[best.start:best.end], answer_span=Span(best.start, best.end),
            evidence_span=evidence, confidence=float(min(1.0, max(0.0, best.confidence))),
            extra_evidence=tuple(extra))
        return check_answer(answer, text)
