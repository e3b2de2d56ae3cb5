"""Open the configured index backend: ``index.backend = "embedded"`` (SQLite + FTS5 +
FAISS, :class:`index.archive.Archive`) or ``"milvus"`` (:class:`index.milvus.MilvusArchive`)."""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from index.base import IndexBackend


def open_backend(settings: Settings, **kw: Any) -> IndexBackend:
    """``Archive.open(settings, **kw)`` or ``MilvusArchive.open(settings, **kw)`` by
    ``settings.index.backend``; both accept ``data_dir``, ``embedder``, ``create`` and
    ``check_embedder`` and raise :class:`index.base.ArchiveError` with what to do."""
    if settings.index.backend == "milvus":
        from index.milvus import MilvusArchive

        return MilvusArchive.open(settings, **kw)
    from index.archive import Archive

    return Archive.open(settings, **kw)
