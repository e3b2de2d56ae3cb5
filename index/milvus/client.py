"""Connecting to Milvus and the low-level reads: where the archive is (``index.milvus.uri``:
a Milvus Lite ``*.db`` path or a server URL), the client, filter-expression literals and
queries that return every matching row."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Sequence

from config.settings import Settings
from index.base import ArchiveError

QUERY_BATCH = 1000       # ids per "in [...]" expression
INSERT_BATCH = 500       # rows per insert/upsert call
ITERATOR_BATCH = 1000
QUERY_LIMIT = 16384      # Milvus's largest result window for one query or search
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
_REMOTE = ("http://", "https://", "tcp://", "unix:", "grpc://")


def q(value: str) -> str:
    """A Milvus string literal (double quotes; backslash and quote escaped)."""
    return json.dumps(value, ensure_ascii=False)


def ids_expr(field: str, values: Sequence[Any]) -> str:
    """``field in [v1, v2, ...]`` (strings quoted, numbers as integers)."""
    items = ", ".join(q(v) if isinstance(v, str) else str(int(v)) for v in values)
    return f"{field} in [{items}]"


def check_prefix(prefix: str) -> None:
    """Raise :class:`ArchiveError` unless ``prefix`` can start a collection name."""
    if not _NAME_OK.match(prefix):
        raise ArchiveError(f"index.milvus.collection_prefix {prefix!r}: use letters, "
                           "digits and underscores, starting with a letter or underscore")


def resolve_uri(settings: Settings, data_dir: Path | str | None = None) -> tuple[str, bool]:
    """``(uri, is_lite)``: ``index.milvus.uri``, or ``<data_dir>/milvus.db`` when empty."""
    uri = settings.index.milvus.uri.strip()
    if uri.startswith(_REMOTE):
        return uri, False
    path = Path(uri).expanduser() if uri else Path(data_dir or settings.data_dir).expanduser() / "milvus.db"
    if path.suffix != ".db":
        raise ArchiveError(f"index.milvus.uri {uri!r}: a Milvus Lite path must end in .db "
                           "(or give http://host:19530 for a Milvus server)")
    return str(path.resolve()), True


def connect(settings: Settings, uri: str, lite: bool, create: bool) -> Any:
    """A ``pymilvus.MilvusClient`` for ``uri`` (starting Milvus Lite for a ``.db`` path,
    whose folder is made with ``create``). Raises :class:`ArchiveError` with what to do."""
    cfg = settings.index.milvus
    if lite and not Path(uri).exists():
        if not create:
            raise ArchiveError(f"no Byline index in {uri} (add articles first: byline add ...)")
        try:
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create {Path(uri).parent}: {exc.strerror}") from None
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ArchiveError("index.backend = \"milvus\" needs pymilvus (and milvus-lite for a .db path): "
                           "pip install 'byline[milvus]'") from None
    # Milvus Lite has no MVCC timestamps; pymilvus warns about it on every query iterator.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    if lite:
        # pymilvus asks for AllocTimestamp after creating an index, which Milvus Lite's
        # in-process gRPC server does not implement (harmless; logged as an error).
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    token = os.environ.get(cfg.token_env, "") if cfg.token_env else ""
    options: dict[str, Any] = {}
    if lite:
        # Milvus Lite's in-process gRPC server refuses pings more often than every 5
        # minutes (GOAWAY "too_many_pings" while a long embedding batch runs).
        options["grpc_options"] = {"grpc.keepalive_time_ms": 600_000}
    try:
        return MilvusClient(uri=uri, token=token, **options) if token else MilvusClient(uri=uri, **options)
    except Exception as exc:  # noqa: BLE001 - connection errors of any kind
        hint = (" (Milvus Lite serves one process at a time: stop the other Byline process, "
                "or run a Milvus server)") if lite else ""
        raise ArchiveError(f"cannot connect to Milvus at {uri}: {exc}{hint}") from None


def query_all(client: Any, lite: bool, name: str, expr: str, fields: list[str]) -> list[dict[str, Any]]:
    """All rows of collection ``name`` matching ``expr`` (iterates on a server; no
    result-window limit)."""
    if lite:
        # Milvus Lite has no query-result window, and no AllocTimestamp for iterators.
        return [dict(r) for r in client.query(name, filter=expr, output_fields=fields)]
    out: list[dict[str, Any]] = []
    iterator = client.query_iterator(name, batch_size=ITERATOR_BATCH, filter=expr, output_fields=fields)
    try:
        while True:
            rows = iterator.next()
            if not rows:
                break
            out.extend(dict(r) for r in rows)
    finally:
        iterator.close()
    return out


def query_in(client: Any, name: str, field: str, values: Sequence[Any], fields: list[str],
             extra: str = "") -> list[dict[str, Any]]:
    """The rows whose ``field`` is one of ``values`` (and match ``extra``), in batches of
    :data:`QUERY_BATCH` ids."""
    out: list[dict[str, Any]] = []
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), QUERY_BATCH):
        expr = ids_expr(field, values[start:start + QUERY_BATCH]) + (f" and {extra}" if extra else "")
        out.extend(dict(r) for r in client.query(name, filter=expr, output_fields=fields, limit=QUERY_LIMIT))
    return out
