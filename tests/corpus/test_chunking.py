"""Chunking: exact offsets, order, coverage and the model's word-piece limit, checked with
hypothesis over awkward texts and the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from corpus.chunking import Chunk, Chunker
from corpus.loaders import normalise_newlines

CHUNK_TOKENS, OVERLAP = 24, 6
# Modest by default; raise for a longer search, e.g. CHUNKING_EXAMPLES=1000.
EXAMPLES = int(os.environ.get("CHUNKING_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def model_limit(embedder) -> int:
    assert embedder.max_seq_length == 256
    return embedder.max_seq_length - 2


@pytest.fixture(scope="module")
def chunker(embedder, model_limit) -> Chunker:
    return Chunker(embedder.tokenizer, chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP,
                   max_tokens=model_limit)


def word_pieces(embedder, text: str) -> int:
    """Length in word pieces, without special tokens and without truncation."""
    return len(embedder.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])


def check_chunks(text: str, chunks: list[Chunk], limit: int, embedder) -> None:
    if not text.strip():
        assert chunks == []
        return
    assert chunks, "non-empty text gave no chunks"
    covered = bytearray(len(text))
    previous = None
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert 0 <= chunk.start < chunk.end <= len(text)
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.text.strip(), "whitespace-only chunk"
        assert chunk.tokens <= limit
        assert word_pieces(embedder, chunk.text) <= limit
        if previous is not None:
            assert chunk.start > previous.start and chunk.end >= previous.end, (previous, chunk)
        previous = chunk
        covered[chunk.start:chunk.end] = b"\x01" * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered characters at {missing[:10]}: {[text[i] for i in missing[:10]]}"


WORDS = ["the", "council", "said", "on", "Thursday", "bridge", "репортаж", "新闻", "café",
         "naïve", "e\u0301", "\U0001F600", "\U0001F469\u200d\U0001F4BB", "“quoted”", "—", "...",
         "O’Brien", "x" * 300, "Donaudampfschifffahrtsgesellschaftskapitän" * 3, "%$#@!", "12,000"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", ". ", ", ", "; ", "? ", "\t", "\r\n", "\r"]

free_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
word_text = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)),
                     max_size=120).map(lambda parts: "".join(w + s for w, s in parts))


@st.composite
def article_texts(draw) -> str:
    base = draw(st.one_of(word_text, free_text))
    passage = draw(word_text)
    repeats = draw(st.integers(0, 4))
    text = base + passage * repeats
    return normalise_newlines(text) if draw(st.booleans()) else text


@hsettings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(text=article_texts())
def test_chunks_exact_ordered_covering_and_within_limit(chunker, model_limit, embedder, text) -> None:
    chunks = chunker.split(text)
    check_chunks(text, chunks, model_limit, embedder)
    # Same boundaries as LangChain's RecursiveCharacterTextSplitter (only offsets are ours),
    # unless a piece had to be cut to the model's limit.
    if all(c.tokens < model_limit for c in chunks):
        expected = [p for p in chunker.reference_splitter.split_text(text) if p.strip()]
        assert [c.text for c in chunks] == expected


@pytest.mark.parametrize("text", [
    "Same sentence again. " * 60,
    ("A repeated paragraph about the harbour bridge.\n\n" * 12).strip(),
    "x" * 5000,
    "\U0001F600" * 400,
    "e\u0301" * 600,
    "Zoë’s “café” — naïve façade… " * 40,
    "word\n" * 300,
])
def test_awkward_texts(chunker, model_limit, embedder, text: str) -> None:
    chunks = chunker.split(text)
    check_chunks(text, chunks, model_limit, embedder)
    assert len(chunks) > 1


def test_many_chunks_with_small_size(chunker, embedder) -> None:
    text = " ".join(f"Sentence number {i} tells about the harbour bridge." for i in range(40))
    chunks = chunker.split(text)
    assert len(chunks) >= 10
    assert all(c.tokens <= CHUNK_TOKENS for c in chunks)
    # Sentences are whole units: a chunk starts at a sentence.
    assert all(c.text.startswith("Sentence number") for c in chunks)


def test_neighbours_overlap_between_words(chunker) -> None:
    text = " ".join(f"w{i}" for i in range(300))
    chunks = chunker.split(text)
    assert len(chunks) > 5
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))


def test_default_size_respects_model_limit(embedder, model_limit) -> None:
    chunker = Chunker(embedder.tokenizer, chunk_tokens=model_limit, overlap_tokens=32,
                      max_tokens=model_limit)
    text = ("Ünïcödé \U0001F600 " + "x" * 700 + " 新闻报道 ") * 30
    chunks = chunker.split(text)
    check_chunks(text, chunks, model_limit, embedder)


def test_token_counts_not_capped_by_model_truncation(embedder, model_limit) -> None:
    """Encoding with the model switches truncation on for its tokenizer; the chunker must
    still count the full length (else long chunks would pass as 256)."""
    embedder.embed(["warm up the model so its tokenizer truncates"])
    chunker = Chunker(embedder.tokenizer, chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP,
                      max_tokens=model_limit)
    long_text = "bridge " * 1000
    assert chunker._count(long_text) == 1000
    check_chunks(long_text, chunker.split(long_text), model_limit, embedder)


def test_empty_text_gives_no_chunks(chunker) -> None:
    assert chunker.split("") == []
    assert chunker.split(" \n\n\t ") == []


@pytest.mark.parametrize("kwargs", [
    {"chunk_tokens": 4, "overlap_tokens": 0},
    {"chunk_tokens": 32, "overlap_tokens": 32},
    {"chunk_tokens": 300, "overlap_tokens": 10},
])
def test_inconsistent_sizes_rejected(embedder, kwargs) -> None:
    with pytest.raises(ValueError):
        Chunker(embedder.tokenizer, max_tokens=254, **kwargs)


def test_splitting_never_builds_the_langchain_splitter(embedder) -> None:
    """Production chunkers only split; LangChain's splitter is built when a test asks for it."""
    fresh = Chunker(embedder.tokenizer, chunk_tokens=CHUNK_TOKENS, overlap_tokens=OVERLAP, max_tokens=254)
    text = "The harbour bridge reopened on Thursday. " * 20
    chunks = fresh.split(text)
    assert len(chunks) > 1 and "reference_splitter" not in vars(fresh)
    assert [c.text for c in chunks] == fresh.reference_splitter.split_text(text)
