"""The local command endpoints of ``byline serve`` (``/_byline/local/*``): what
``byline add|remove|list|ask|claims`` use when a server holds their archive (see
:mod:`cli.advert` and :mod:`cli.remote`).

:class:`LocalCommandsMiddleware` sits outside the app's own middleware and answers these
paths itself: only with ``Authorization: Bearer <token>``, the random per-run token that
the server writes into ``<data_dir>/server.json`` (mode 0600), and never to a browser
(any request with an ``Origin`` header is refused). Everything else passes through.
Writes use the service's archive, so they keep its guarantees: one transaction per
article, ``write.lock``, the statuses of ``byline add``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

LOCAL_PREFIX = "/_byline/local"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def build_local_app(service: Any, instance: str) -> Any:
    """The FastAPI app of the local endpoints, bound to ``service`` (a
    :class:`web.service.QAService`); ``instance`` is the advertised instance id."""
    from corpus.article import Article
    from corpus.loaders import LoadResult
    from index.base import ArchiveError
    from web.service import RequestError

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    archive = service.archive

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message, "status": status}, status_code=status)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return error(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}"
                                    for e in exc.errors()) or "invalid request")

    @app.exception_handler(ArchiveError)
    async def _archive_error(request: Request, exc: ArchiveError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        return error(507, f"could not write the index in {archive.data_dir}: {exc.strerror or exc}; "
                          "nothing of the failed batch was stored")

    @app.get(LOCAL_PREFIX + "/hello")
    def hello() -> dict[str, Any]:
        return {"instance": instance, "data_dir": str(archive.data_dir), "chunks": archive.count(),
                "max_request_bytes": service.settings.server.max_request_bytes}

    @app.post(LOCAL_PREFIX + "/add")
    async def add(request: Request) -> Any:
        from starlette.concurrency import run_in_threadpool

        try:
            body = json.loads(await request.body())
        except ValueError:
            raise RequestError("body: not JSON") from None
        loaded = []
        for i, item in enumerate(body.get("articles") or []):
            raw = item["article"]
            try:
                article = Article(id=raw["id"], title=raw.get("title") or "", text=raw["text"],
                                  url=raw.get("url") or "", source=raw.get("source") or "",
                                  published=dt.date.fromisoformat(raw["published"]) if raw.get("published") else None)
            except (KeyError, TypeError, ValueError) as exc:
                raise RequestError(f"articles[{i}]: {exc}") from None
            loaded.append(LoadResult(str(item.get("where") or article.id), article=article))
        results = await run_in_threadpool(archive.add, loaded)
        return {"results": [r.to_dict() for r in results]}

    @app.post(LOCAL_PREFIX + "/remove")
    def remove(body: dict[str, Any]) -> dict[str, Any]:
        ids = [str(x) for x in body.get("ids") or []]
        return {"removed": archive.remove(ids) if ids else []}

    @app.get(LOCAL_PREFIX + "/articles")
    def list_articles() -> dict[str, Any]:
        return {"articles": [a.to_dict() for a in archive.list_articles()]}

    @app.get(LOCAL_PREFIX + "/articles/{article_id:path}")
    def get_article(article_id: str) -> Any:
        article = archive.get(article_id)
        return article.to_dict() if article is not None else error(404, f"no article with id {article_id!r}")

    @app.post(LOCAL_PREFIX + "/ask")
    def ask(body: dict[str, Any]) -> dict[str, Any]:
        question = service.check_question(body.get("question"))
        filters = service.check_filters(body.get("filters"))
        k = body.get("k")
        if k is not None and (not isinstance(k, int) or k < 1):
            raise RequestError("k: must be a positive integer")
        return service.ask(question, (), filters, k).to_dict()

    @app.post(LOCAL_PREFIX + "/claims")
    def claims(body: dict[str, Any]) -> dict[str, Any]:
        filters = body.get("filters") or {}
        if not isinstance(filters, dict):
            raise RequestError("filters: must be an object with source, since, until")
        hits = service.claims(body.get("query"), body.get("speaker"), filters.get("since"), filters.get("until"),
                              body.get("k", 10), filters.get("source"))
        return {"query": body.get("query"), "claims": hits}

    return app


class LocalCommandsMiddleware:
    """Answers ``/_byline/local/*`` with :func:`build_local_app` for requests bearing
    ``token`` (401 otherwise, 403 for browser requests); passes everything else to ``app``."""

    def __init__(self, app: Any, service: Any, token: str, instance: str) -> None:
        self.app = app
        self.token = token
        self.local = build_local_app(service, instance)
        self.max_bytes = service.settings.server.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(LOCAL_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if "origin" in headers:
            await _reply(send, 403, "the local command endpoints do not answer browsers")
        elif not (given and hmac.compare_digest(given.encode(), self.token.encode())):
            await _reply(send, 401, "local command token required (byline reads it from <data_dir>/server.json)")
        elif not (headers.get("content-length") or "0").isdigit():
            await _reply(send, 400, "invalid Content-Length")
        elif int(headers.get("content-length") or 0) > self.max_bytes:
            await _reply(send, 413, f"request body over the limit of {self.max_bytes} bytes")
        else:
            await self.local({**scope, "root_path": ""}, receive, send)


async def _reply(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
