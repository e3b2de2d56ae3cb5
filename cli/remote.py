"""Commands through a running ``byline serve``: :func:`find_server` reads the server's
advertisement (:mod:`cli.advert`) and returns a :class:`RemoteArchive` when the server is
alive and holds the same archive with the same settings, else None (the command then runs
in its own process).

:class:`RemoteArchive` offers what the commands use of :class:`index.archive.Archive`
(``add``, ``remove``, ``get``, ``list_articles``, ``count``) plus ``ask``; the server's
:mod:`web.local_api` does the work, with the archive's guarantees (one transaction per
article, ``write.lock``, the same statuses).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from cli.advert import Advert, pid_alive, read_advert, settings_digest

log = logging.getLogger(__name__)

LOCAL_PREFIX = "/_byline/local"
HELLO_TIMEOUT = 2.0
# Seconds a request may take: a large add embeds every article; an LLM reader is slow.
REQUEST_TIMEOUT = 900.0
# Articles per request (the server commits them in its own batches); requests also stay
# under half of the server's server.max_request_bytes.
REQUEST_ARTICLES = 200


class RemoteError(RuntimeError):
    """The server refused a request or stopped answering; ``status`` is the HTTP status
    (0 when there was no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def find_server(settings: Any, *, no_server: bool = False) -> "RemoteArchive | None":
    """The server advertised in ``settings.data_dir`` if it is alive (its process exists
    and its URL answers with the advertised instance id) and runs with the same settings
    and data dir; None otherwise, or with ``no_server`` (``--no-server``, env
    ``BYLINE_NO_SERVER=1``). A stale advertisement is ignored, never trusted."""
    if no_server or os.environ.get("BYLINE_NO_SERVER", "") not in ("", "0"):
        return None
    data_dir = Path(settings.data_dir).expanduser()
    advert = read_advert(data_dir)
    if advert is None:
        return None
    if not pid_alive(advert.pid):
        log.info("ignoring %s/server.json: process %d is gone", data_dir, advert.pid)
        return None
    try:
        if advert.data_dir != str(data_dir.resolve()):
            return None
    except OSError:
        return None
    if advert.settings != settings_digest(settings):
        log.info("not using the server at %s: it runs with other settings", advert.url)
        return None
    remote = RemoteArchive(advert, data_dir)
    try:
        hello = remote.hello()
    except RemoteError as exc:
        log.info("ignoring %s/server.json: %s", data_dir, exc)
        remote.close()
        return None
    if hello.get("instance") != advert.instance:
        log.info("ignoring %s/server.json: %s is another server", data_dir, advert.url)
        remote.close()
        return None
    return remote


class RemoteArchive:
    """A client of the local command endpoints of the server described by ``advert``."""

    def __init__(self, advert: Advert, data_dir: Path) -> None:
        from urllib.parse import urlsplit

        self.advert = advert
        self.data_dir = data_dir
        self.url = advert.url
        self.max_request_bytes = 6_000_000
        parts = urlsplit(advert.url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80

    def close(self) -> None:
        """Nothing to close (one connection per request); kept for symmetry."""

    def _call(self, method: str, path: str, *, body: Any = None, timeout: float = REQUEST_TIMEOUT,
              missing_ok: bool = False) -> Any:
        """``method path`` with a JSON body; the decoded JSON answer. Raises
        :class:`RemoteError` with the server's message (or why it did not answer); a 404
        gives None with ``missing_ok``.

        The standard library's ``http.client`` (it imports in milliseconds), and a new
        connection per request: the server closes idle ones after a few seconds."""
        import http.client

        headers = {"Authorization": f"Bearer {self.advert.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            conn.request(method, LOCAL_PREFIX + path, body=data, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(f"the server at {self.url} did not answer ({type(exc).__name__}: {exc})") from None
        finally:
            conn.close()
        if status == 404 and missing_ok:
            return None
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"error": raw[:200].decode("utf-8", "replace")}
        if status >= 400:
            message = payload.get("error") if isinstance(payload, dict) else None
            raise RemoteError(message or f"HTTP {status}", status)
        return payload

    # -- what the commands use ----------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        """``{"instance", "data_dir", "articles", "chunks", "max_request_bytes"}`` (quick)."""
        hello = self._call("GET", "/hello", timeout=HELLO_TIMEOUT)
        self.max_request_bytes = int(hello.get("max_request_bytes") or self.max_request_bytes)
        return hello

    def count(self) -> int:
        """Chunks in the archive."""
        return int(self.hello().get("chunks") or 0)

    def add(self, items: Iterable[Any], *, progress: bool = False,
            on_result: Callable[[Any], None] | None = None) -> list[Any]:
        """Add loader results through the server, with the statuses and order of
        :meth:`index.archive.Archive.add` (two articles with one id in this call: the
        second is ``unchanged`` or ``rejected`` as there). ``progress`` is ignored."""
        from index.base import AddResult
        from index.batching import BatchIds

        ids = BatchIds()
        slots: list[AddResult | None] = []
        pending: list[tuple[int, dict[str, Any]]] = []
        size = 0
        budget = max(self.max_request_bytes // 2, 1)

        def emit(index: int, result: AddResult) -> None:
            slots[index] = result
            if on_result:
                on_result(result)

        def flush() -> None:
            nonlocal size
            if pending:
                answer = self._call("POST", "/add", body={"articles": [p for _, p in pending]})
                results = answer.get("results", [])
                if len(results) != len(pending):
                    raise RemoteError(f"the server answered {len(results)} results for {len(pending)} articles")
                for (index, _), raw in zip(pending, results):
                    emit(index, AddResult(raw["source"], raw.get("article_id"), raw["status"],
                                          int(raw.get("chunks") or 0), raw.get("reason")))
            pending.clear()
            size = 0

        for item in items:
            slots.append(None)
            index = len(slots) - 1
            if item.article is None:
                emit(index, AddResult(item.where, getattr(item, "article_id", None), "rejected", reason=item.reason))
                continue
            repeated = ids.check(item.where, item.article)
            if repeated is not None:
                emit(index, repeated)
                continue
            payload = {"where": item.where, "article": item.article.to_dict()}
            weight = len(json.dumps(payload, ensure_ascii=False).encode("utf-8")) + 2
            if pending and (size + weight > budget or len(pending) >= REQUEST_ARTICLES):
                flush()
            pending.append((index, payload))
            size += weight
        flush()
        return [r for r in slots if r is not None]

    def remove(self, article_ids: Sequence[str]) -> list[str]:
        """Remove articles by id; returns the ids that were stored."""
        return list(self._call("POST", "/remove", body={"ids": list(article_ids)}).get("removed", []))

    def get(self, article_id: str) -> Any:
        """The stored :class:`corpus.article.Article`, or None."""
        from urllib.parse import quote

        from corpus.article import Article

        raw = self._call("GET", f"/articles/{quote(article_id, safe='')}", missing_ok=True)
        if raw is None:
            return None
        return Article(id=raw["id"], title=raw["title"], text=raw["text"], url=raw.get("url") or "",
                       published=_date(raw.get("published")), source=raw.get("source") or "")

    def list_articles(self) -> list[Any]:
        """Every article's :class:`index.base.ArticleSummary`, newest first."""
        from index.base import ArticleSummary

        return [ArticleSummary(id=a["id"], title=a["title"], url=a["url"], published=_date(a.get("published")),
                               source=a["source"], chunks=int(a["chunks"]), chars=int(a["chars"]))
                for a in self._call("GET", "/articles").get("articles", [])]

    def ask(self, question: str, *, filters: dict[str, Any] | None = None, k: int | None = None) -> dict[str, Any]:
        """The answer object (as ``byline ask --json`` prints it). Raises
        :class:`RemoteError` (status 422 for an invalid question or filter)."""
        return self._call("POST", "/ask", body={"question": question, "filters": filters or None, "k": k})


    def claims(self, query: str, *, speaker: str | None = None, filters: dict[str, Any] | None = None,
               k: int = 10) -> dict[str, Any]:
        """``{"query", "claims": [...]}`` as ``byline claims --json`` prints it. Raises
        :class:`RemoteError` (422 for an invalid option, 501 for a backend without claims)."""
        return self._call("POST", "/claims", body={"query": query, "speaker": speaker, "filters": filters or None,
                                                   "k": k})


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None
