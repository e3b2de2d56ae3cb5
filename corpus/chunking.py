"""Chunking with exact character offsets.

Text is split where LangChain's ``RecursiveCharacterTextSplitter`` (langchain-text-splitters)
would split it (by our own code; :attr:`Chunker.reference_splitter` is that splitter), sized
by the embedder's own tokenizer so that no chunk is silently truncated by the model,
preferring paragraph, then line, then sentence, then clause and word boundaries. Offsets
are assigned by our own code: every chunk satisfies ``text[chunk.start:chunk.end] ==
chunk.text``, also where a passage repeats inside an article (LangChain's own
``add_start_index`` can point at the wrong occurrence or at -1 there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraph, line, sentence ends, clause ends, words, characters. Sentence and clause
# separators stay at the end of the piece before them (keep_separator="end").
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ": ", ", ", " ", ""]


class Tokenizer(Protocol):
    """What the chunker needs of a Hugging Face tokenizer."""

    def tokenize(self, text: str) -> list[str]: ...  # pragma: no cover


@dataclass(frozen=True)
class Chunk:
    """A chunk of an article: ``article_text[start:end] == text``; ``index`` is its
    0-based position in the article; ``tokens`` its length in word pieces (no special tokens)."""

    index: int
    start: int
    end: int
    text: str
    tokens: int


class Chunker:
    """Split article text into overlapping chunks of at most ``chunk_tokens`` word pieces.

    ``max_tokens`` is the hard limit (the model's ``max_seq_length`` minus the two special
    tokens: 254 for all-MiniLM-L6-v2); ``chunk_tokens`` must not exceed it. ``overlap_tokens``
    is the target overlap between neighbours. Raises ``ValueError`` on inconsistent sizes.
    """

    def __init__(self, tokenizer: Tokenizer, *, chunk_tokens: int = 160, overlap_tokens: int = 32,
                 max_tokens: int = 254) -> None:
        if chunk_tokens < 8:
            raise ValueError(f"chunk_tokens must be >= 8, got {chunk_tokens}")
        if not 0 <= overlap_tokens < chunk_tokens:
            raise ValueError(f"overlap_tokens must be in [0, chunk_tokens), got {overlap_tokens}")
        if chunk_tokens > max_tokens:
            raise ValueError(
                f"chunk_tokens ({chunk_tokens}) exceeds what the model reads ({max_tokens} word pieces)"
            )
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.max_tokens = max_tokens
        # LangChain measures the same pieces repeatedly while merging; memoise per instance.
        # The Rust tokenizer behind a fast HF tokenizer counts ~5x quicker than .tokenize().
        # It is copied: the model's tokenizer object gets truncation switched on whenever
        # sentence-transformers encodes, which would cap our counts at 256.
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is not None:
            from tokenizers import Tokenizer as RustTokenizer

            backend = RustTokenizer.from_str(backend.to_str())
            backend.no_truncation()
            backend.no_padding()

            def count(piece: str) -> int:
                return len(backend.encode(piece, add_special_tokens=False).ids)
        else:
            def count(piece: str) -> int:
                return len(tokenizer.tokenize(piece))
        self._count: Callable[[str], int] = functools.lru_cache(maxsize=65536)(count)

    @functools.cached_property
    def reference_splitter(self) -> RecursiveCharacterTextSplitter:
        """LangChain's splitter with this chunker's sizes and word-piece counter, whose
        chunk texts :meth:`split` reproduces (built on first use: :meth:`split` never
        calls it; it is the reference the chunking tests compare against)."""
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        return RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=self.chunk_tokens,
            chunk_overlap=self.overlap_tokens,
            length_function=self._count,
            strip_whitespace=True,
        )

    def split(self, text: str) -> list[Chunk]:
        """Chunks of ``text`` in reading order, each an exact substring at its offsets."""
        chunks: list[Chunk] = []
        for start, end in self._spans(text, 0, len(text), SEPARATORS):
            if not text[start:end].strip():
                continue
            for sub_start, sub_end in self._enforce_limit(text, start, end):
                sub_text = text[sub_start:sub_end]
                chunks.append(Chunk(len(chunks), sub_start, sub_end, sub_text, self._count(sub_text)))
        return chunks

    # Offsets are tracked while splitting, not searched for afterwards: searching
    # (``text.find``) lands on the wrong occurrence when passages repeat, leaving parts of
    # the article in no chunk. ``_spans``/``_merge`` mirror LangChain's
    # ``RecursiveCharacterTextSplitter._split_text``/``_merge_splits`` (keep_separator="end",
    # strip_whitespace=True), so
    # ``[text[s:e] for s, e in spans] == self.reference_splitter.split_text(text)``.
    def _spans(self, text: str, start: int, end: int, separators: list[str]) -> list[tuple[int, int]]:
        part = text[start:end]
        separator, new_separators = separators[-1], []
        for i, sep in enumerate(separators):
            if not sep:
                separator = sep
                break
            if sep in part:
                separator, new_separators = sep, separators[i + 1:]
                break
        splits: list[tuple[int, int]] = []
        if separator:
            pos = 0
            while True:
                found = part.find(separator, pos)
                if found < 0:
                    break
                splits.append((start + pos, start + found + len(separator)))
                pos = found + len(separator)
            splits.append((start + pos, end))
            splits = [(a, b) for a, b in splits if b > a]
        else:
            splits = [(start + i, start + i + 1) for i in range(len(part))]
        final: list[tuple[int, int]] = []
        good: list[tuple[int, int]] = []
        for a, b in splits:
            if self._count(text[a:b]) < self.chunk_tokens:
                good.append((a, b))
                continue
            if good:
                final.extend(self._merge(text, good))
                good = []
            if not new_separators:
                final.append((a, b))
            else:
                final.extend(self._spans(text, a, b, new_separators))
        if good:
            final.extend(self._merge(text, good))
        return final

    def _merge(self, text: str, splits: list[tuple[int, int]]) -> list[tuple[int, int]]:
        docs: list[tuple[int, int]] = []
        current: list[tuple[int, int]] = []
        total = 0
        for a, b in splits:
            length = self._count(text[a:b])
            if total + length > self.chunk_tokens and current:
                docs.append(_stripped(text, current[0][0], current[-1][1]))
                while total > self.overlap_tokens or (total + length > self.chunk_tokens and total > 0):
                    total -= self._count(text[current[0][0]:current[0][1]])
                    current = current[1:]
            current.append((a, b))
            total += length
        if current:
            docs.append(_stripped(text, current[0][0], current[-1][1]))
        return [d for d in docs if d[1] > d[0]]

    def _enforce_limit(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Split ``text[start:end]`` at word-piece boundaries if it exceeds ``max_tokens``.

        LangChain sums the lengths of merged pieces, which can differ by a few word pieces
        from the length of their concatenation; this keeps the hard limit exact.
        """
        if self._count(text[start:end]) <= self.max_tokens:
            return [(start, end)]
        encoding = self.tokenizer(text[start:end], add_special_tokens=False,
                                  return_offsets_mapping=True)
        offsets = [o for o in encoding["offset_mapping"] if o[1] > o[0]]
        spans = []
        step = self.chunk_tokens
        for i in range(0, len(offsets), step):
            window = offsets[i:i + step]
            spans.append((start + window[0][0], start + window[-1][1]))
        return spans


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` narrowed so that ``text[start:end]`` has no surrounding whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
