"""A running ``byline serve`` advertises itself to the commands of the same archive.

While it serves, the server keeps ``<data_dir>/server.json`` (mode 0600: readable by the
same user only) with its URL, a random per-run token for its local command endpoints
(:mod:`web.local_api`), its process id and a digest of the settings that decide what
the archive holds and how questions are answered. ``byline add|remove|list|ask`` read it
and go through the server when it is alive and serves the same archive with the same
settings; the file is removed at shutdown, and one left behind by a killed server is
ignored (its process is gone, or its URL does not answer with the same instance id).

Standard library only: reading the advertisement must not slow a command down.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ADVERT_FILE = "server.json"


@dataclass(frozen=True)
class Advert:
    """What a server writes: ``url`` (``http://host:port``, no root path), ``token`` (for
    ``Authorization: Bearer``), ``pid``, ``instance`` (random per run), ``data_dir``
    (resolved) and ``settings`` (:func:`settings_digest`)."""

    url: str
    token: str
    pid: int
    instance: str
    data_dir: str
    settings: str

    @classmethod
    def new(cls, url: str, data_dir: Path, settings: Any) -> "Advert":
        """A fresh advertisement for this process (new token and instance id)."""
        return cls(url=url, token=secrets.token_urlsafe(32), pid=os.getpid(),
                   instance=secrets.token_hex(8), data_dir=str(Path(data_dir).expanduser().resolve()),
                   settings=settings_digest(settings))


def settings_digest(settings: Any) -> str:
    """SHA-256 (16 hex digits) of every setting except ``server`` and ``data_dir``: a
    command goes through a server only when they agree (same model, chunks, reader...)."""
    values = settings.model_dump(mode="json")
    values.pop("server", None)
    values.pop("data_dir", None)
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def advert_path(data_dir: Path) -> Path:
    """``<data_dir>/server.json``."""
    return Path(data_dir).expanduser() / ADVERT_FILE


def write_advert(data_dir: Path, advert: Advert) -> Path:
    """Write ``advert`` atomically with mode 0600 (replacing an older one); returns its path."""
    path = advert_path(data_dir)
    fd, tmp = tempfile.mkstemp(prefix=".server-", suffix=".json", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(advert), handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def remove_advert(data_dir: Path, advert: Advert) -> None:
    """Remove the advertisement if it is still ``advert``'s (a newer server's stays)."""
    current = read_advert(data_dir)
    if current is not None and current.instance == advert.instance:
        with contextlib.suppress(OSError):
            advert_path(data_dir).unlink()


def read_advert(data_dir: Path) -> Advert | None:
    """The advertisement in ``data_dir``, or None when there is none, it is unreadable or
    malformed, or it is readable by other users (then it is not trusted)."""
    path = advert_path(data_dir)
    try:
        if path.stat().st_mode & 0o077:
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Advert(url=str(raw["url"]), token=str(raw["token"]), pid=int(raw["pid"]),
                      instance=str(raw["instance"]), data_dir=str(raw["data_dir"]),
                      settings=str(raw["settings"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists (signal 0; a process of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

