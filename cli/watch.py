"""``byline add --watch DIR``: keep adding new and changed files of a folder.

Standard-library polling (no extra dependency, works on every file system, network
shares included): every ``interval`` seconds the folder is listed recursively (hidden
and unsupported files skipped, as ``byline add DIR`` does); a file that is new or changed
since it was last added is added once it has stayed the same for one more look, so a
file still being written is not read half-way.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

Signature = tuple[int, int]  # (mtime_ns, size)


def scan(folder: Path) -> dict[Path, Signature]:
    """Supported, non-hidden files under ``folder`` with their (mtime_ns, size)."""
    from corpus.loaders import SUPPORTED_SUFFIXES

    found: dict[Path, Signature] = {}
    for path in folder.rglob("*"):
        try:
            if any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            if path.suffix.lower() not in SUPPORTED_SUFFIXES or not path.is_file():
                continue
            st = path.stat()
        except OSError:  # removed while listing
            continue
        found[path] = (st.st_mtime_ns, st.st_size)
    return found


def watch_folder(folder: Path, add: Callable[[list[Path]], object], *, interval: float = 2.0,
                 stop: threading.Event | None = None, rounds: int | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
    """Call ``add(paths)`` (sorted) for the files of ``folder`` that are new or changed
    and have settled, every ``interval`` seconds, until ``stop`` is set, ``rounds``
    looks were taken, or Ctrl-C. Files already there at the start are added on the
    first looks (those stored before report ``unchanged``)."""
    added: dict[Path, Signature] = {}
    candidates: dict[Path, Signature] = {}
    stop = stop or threading.Event()
    looks = 0
    try:
        while not stop.is_set():
            current = scan(folder)
            ready = sorted(p for p, sig in current.items()
                           if added.get(p) != sig and candidates.get(p) == sig)
            candidates = {p: sig for p, sig in current.items() if added.get(p) != sig}
            if ready:
                add(ready)
                for p in ready:
                    added[p] = current[p]
                    candidates.pop(p, None)
            elif on_idle:
                on_idle()
            looks += 1
            if rounds is not None and looks >= rounds:
                return
            stop.wait(interval)
    except KeyboardInterrupt:
        return

