"""Where articles come from: a file or folder, uploaded bytes, standard input, URLs and
feeds; each dispatched by format to the loaders of this package."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from corpus.loaders.base import HTML_SUFFIXES, JSON_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES, ArticleFactory, LoadResult
from corpus.loaders.records import load_json
from corpus.loaders.text import load_text

__all__ = ["load_bytes", "load_inputs", "load_path", "load_stdin"]

# Content types a client may send instead of a file name (the HTTP upload).
_CONTENT_TYPES = {"application/x-ndjson": ".jsonl", "application/jsonl": ".jsonl", "application/json": ".json",
                  "text/html": ".html", "text/plain": ".txt", "text/markdown": ".md"}


def load_bytes(data: bytes, where: str, factory: ArticleFactory, *, suffix: str = "", content_type: str = "",
               id_origin: str | None = None, id_hint: str = "") -> Iterator[LoadResult]:
    """The articles of one file's bytes, by its ``suffix`` (``".jsonl"``...), else by its
    MIME ``content_type``; an unknown format is one rejection naming ``where`` and the
    formats there are. Used for files (:func:`load_path`) and HTTP uploads alike."""
    suffix = suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        suffix = _CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower(), suffix)
    if suffix in HTML_SUFFIXES:
        from corpus.loaders.web import load_html

        yield load_html(data, where, factory, id_origin=id_origin, id_hint=id_hint)
    elif suffix in JSON_SUFFIXES:
        yield from load_json(data, where, factory, lines=suffix != ".json")
    elif suffix in TEXT_SUFFIXES:
        yield load_text(data, where, factory, id_origin=id_origin, id_hint=id_hint)
    else:
        kind = suffix or (content_type or "").split(";")[0].strip() or "(none)"
        yield LoadResult(where, reason=f"{where}: unsupported file type {kind!r} "
                                       f"(use {', '.join(sorted(SUPPORTED_SUFFIXES))})")


def load_path(path: Path, factory: ArticleFactory, *, explicit: bool = True) -> Iterator[LoadResult]:
    """A file or a folder (recursive, sorted; hidden and unsupported files skipped)."""
    where = str(path)
    if not path.exists():
        yield LoadResult(where, reason=f"{where}: no such file or folder")
        return
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts)
                       and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            yield LoadResult(where, reason=f"{where}: folder holds no supported files ({', '.join(sorted(SUPPORTED_SUFFIXES))})")
        for file in files:
            yield from load_path(file, factory, explicit=False)
        return
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES and explicit and suffix:
        yield LoadResult(where, reason=f"{where}: unsupported file type {suffix!r} (use {', '.join(sorted(SUPPORTED_SUFFIXES))})")
        return
    size = path.stat().st_size
    if suffix not in JSON_SUFFIXES and size > factory.max_bytes:
        yield LoadResult(where, reason=f"{where}: file of {size} bytes is over the size limit of {factory.max_bytes} bytes")
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield LoadResult(where, reason=f"{where}: cannot read: {exc.strerror}")
        return
    # A file without a suffix inside a folder is skipped above; named explicitly, it is text.
    yield from load_bytes(data, where, factory, suffix=suffix if suffix in SUPPORTED_SUFFIXES else ".txt",
                          id_origin=str(path.resolve()), id_hint=path.stem)


def load_stdin(data: bytes, factory: ArticleFactory) -> Iterator[LoadResult]:
    """Standard input: JSON/JSON Lines if it starts with ``{`` or ``[``, HTML if it starts
    with ``<``, else a text article. Without ``--id`` the id comes from the content hash."""
    where = "<stdin>"
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        stripped = data.strip()
        is_single = head == b"[" or stripped.count(b"\n") == 0
        yield from load_json(data, where, factory, lines=not is_single)
    elif head == b"<":
        from corpus.loaders.web import load_html

        yield load_html(data, where, factory)
    else:
        yield load_text(data, where, factory, id_origin=None)


def load_inputs(inputs: Iterable[str], factory: ArticleFactory, *, feeds: Iterable[str] = (),
                timeout: float = 20.0, stdin: Any = None) -> Iterator[LoadResult]:
    """Load every input: paths, folders, ``-`` (stdin), ``http(s)://`` URLs, then feeds."""
    from corpus.loaders.web import load_feed, load_url

    for item in inputs:
        if item == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            yield from load_stdin(stream.read(factory.max_bytes + 1), factory)
        elif re.match(r"^https?://", item, re.I):
            yield from load_url(item, factory, timeout=timeout)
        else:
            yield from load_path(Path(item), factory)
    for feed_url in feeds:
        yield from load_feed(feed_url, factory, timeout=timeout)
