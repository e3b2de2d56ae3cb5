"""Both index backends satisfy :class:`index.base.IndexBackend`: every member the Protocol
declares exists on the class with the same parameters (names, kinds, defaults), and an
opened embedded archive has every member (the Milvus one is checked against Milvus Lite
in test_milvus.py). No model is loaded: members are looked up statically (an
``isinstance`` check of a Protocol would evaluate ``embedder`` and ``chunker``)."""

from __future__ import annotations

import inspect

import pytest

from index.archive import Archive
from index.base import IndexBackend
from index.milvus import MilvusArchive

DATA = {"settings", "data_dir"}


def protocol_members() -> set[str]:
    return {n for n in vars(IndexBackend) if not n.startswith("_")} | set(IndexBackend.__annotations__)


def missing_members(backend: object) -> list[str]:
    """The Protocol's members that ``backend`` (an instance) lacks."""
    return sorted(n for n in protocol_members() if inspect.getattr_static(backend, n, None) is None)


def test_protocol_declares_what_callers_use() -> None:
    used = {"settings", "data_dir", "embedder", "chunker", "add", "remove", "rebuild", "write_lock", "close",
            "claims_index", "get", "list_articles", "summaries", "texts", "sources", "read_snapshot", "refresh", "count",
            "dense_search", "lexical_search", "chunks", "stats", "verify", "index_health"}
    assert protocol_members() == used


def parameters(function) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("backend", [Archive, MilvusArchive], ids=["embedded", "milvus"])
def test_backend_classes_define_every_member(backend: type) -> None:
    for name in sorted(protocol_members() - DATA):
        declared = inspect.getattr_static(IndexBackend, name)
        assert hasattr(backend, name), f"{backend.__name__} lacks {name}"
        defined = inspect.getattr_static(backend, name)
        if isinstance(declared, property):
            assert isinstance(defined, property), f"{backend.__name__}.{name} is not a property"
            continue
        implementation = getattr(backend, name)
        assert parameters(implementation) == parameters(declared), f"{backend.__name__}.{name}"
    # Data members are set by the constructor.
    source = inspect.getsource(backend.__init__)
    for name in DATA:
        assert f"self.{name} = " in source, f"{backend.__name__}.__init__ does not set {name}"


def test_embedded_archive_is_an_index_backend(settings) -> None:
    class NoModel:
        """An embedder that must not be needed to open an empty archive."""

    archive = Archive.open(settings, embedder=NoModel())
    try:
        assert missing_members(archive) == []
        assert missing_members(object()) == sorted(protocol_members())
    finally:
        archive.close()


def test_open_backend_returns_the_protocol() -> None:
    from typing import get_type_hints

    from index.factory import open_backend

    assert get_type_hints(open_backend)["return"] is IndexBackend
