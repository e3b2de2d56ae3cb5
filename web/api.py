"""The HTTP API (FastAPI router): ask, ask as server-sent events, search claims,
list/get/add/remove articles, health. Errors are JSON ``{"error": "...", "status": N}``, never a traceback."""

from __future__ import annotations

import json
import logging
import queue
import threading
from pathlib import PurePosixPath
from typing import Any, Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.types import Citation, PassageRef
from web.service import QAService, RequestError

# A comment line every 15 s while nothing else is sent (an LLM reading a long prompt on a
# CPU takes 10-60 s before its first token): proxies close idle responses after 60 s by
# default (nginx ``proxy_read_timeout``), and the SSE spec ignores comment lines.
SSE_KEEPALIVE_S = 15.0


def _with_keepalive(items: Iterator[Any], interval: float = SSE_KEEPALIVE_S) -> Iterator[Any]:
    """``items`` produced in a daemon thread and passed on; ``None`` is yielded whenever
    ``interval`` seconds pass without one (the caller sends a keep-alive then). An
    exception of ``items`` is re-raised here."""
    box: queue.Queue = queue.Queue()

    def produce() -> None:
        try:
            for item in items:
                box.put(("item", item))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            box.put(("error", exc))
        box.put(("end", None))

    threading.Thread(target=produce, name="byline-sse", daemon=True).start()
    while True:
        try:
            tag, value = box.get(timeout=interval)
        except queue.Empty:
            yield None
            continue
        if tag == "end":
            return
        if tag == "error":
            raise value
        yield value

log = logging.getLogger(__name__)


# -- schemas (for validation and the OpenAPI docs) ---------------------------------------------
class AskRequest(BaseModel):
    """A question, the conversation so far and optional filters."""

    question: Any = Field(..., description="The question (at most server.max_question_chars characters).",
                          json_schema_extra={"type": "string", "example": "Who is Northfield's finance director?"})
    history: Any = Field(default_factory=list, description="Earlier turns as [question, answer] pairs, oldest first.",
                         json_schema_extra={"type": "array", "items": {"type": "array", "items": {"type": "string"},
                                                                       "minItems": 2, "maxItems": 2}})
    filters: Any = Field(None, description='{"source": outlet, "since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}',
                         json_schema_extra={"type": "object"})
    k: int | None = Field(None, ge=1, le=100, description="Passages to retrieve (default: retrieval.top_k).")


class AnswerOut(BaseModel):
    """The answer object (also ``byline ask --json``)."""

    question: str
    answer: str | None
    text: str
    status: str = Field(description='"answered", "uncertain" (a tentative answer, labelled) or "abstained"')
    abstained: bool
    confidence: float
    # The retrieval dataclasses themselves: pydantic validates and documents them.
    citations: list[Citation]
    passages: list[PassageRef]
    standalone_question: str | None
    reader: str = Field("", description="The reader that answered (offline, llm, ...; claims for an attribution question "
                        "answered from the extracted claims; small-talk for chat openers)")
    fallback: bool = Field(False, description="True when a fallback reader answered instead of the configured one")


class ArticleOut(BaseModel):
    """A stored article."""

    id: str
    title: str
    text: str
    url: str
    published: str | None
    source: str


class ArticleSummaryOut(BaseModel):
    """An article without its text."""

    id: str
    title: str
    url: str
    published: str | None
    source: str
    chunks: int
    chars: int


class ArticleListOut(BaseModel):
    """Every stored article, newest first, and counts per outlet."""

    count: int
    articles: list[ArticleSummaryOut]
    sources: dict[str, int]


class AddResultOut(BaseModel):
    """What happened to one input (as ``byline add --json``)."""

    source: str
    article_id: str | None
    status: str
    chunks: int
    reason: str | None


class AddOut(BaseModel):
    """Per-input results and their counts."""

    results: list[AddResultOut]
    counts: dict[str, int]


class ErrorOut(BaseModel):
    """An error."""

    error: str
    status: int


ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut},
          422: {"model": ErrorOut}}


def error_response(status: int, message: str) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse({"error": message, "status": status}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """JSON errors for validation failures, HTTP errors and unexpected exceptions."""

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        return error_response(exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            problems.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
        return error_response(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error (see the server log)")


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _ask_args(service: QAService, body: AskRequest) -> tuple[str, list[tuple[str, str]], Any, int | None]:
    return (service.check_question(body.question), service.check_history(body.history),
            service.check_filters(body.filters), body.k)


def _load_upload(data: bytes, filename: str, content_type: str, factory: Any) -> list[Any]:
    """Loader results for one uploaded file (by suffix, else by content type): the same
    format dispatch as files on disk (:func:`corpus.loaders.load_bytes`)."""
    from corpus.loaders import load_bytes

    where = f"upload:{filename}" if filename else "request body"
    return list(load_bytes(data, where, factory, suffix=PurePosixPath(filename or "").suffix,
                           content_type=content_type or "", id_origin=f"upload:{filename}" if filename else None,
                           id_hint=PurePosixPath(filename).stem if filename else ""))


def build_api_router(service: QAService) -> APIRouter:
    """The ``/api`` routes and ``/healthz`` bound to ``service``."""
    router = APIRouter()

    @router.get("/healthz", tags=["service"], summary="Liveness and readiness")
    def healthz() -> dict[str, Any]:
        """``status`` ok when the archive is readable; ``ready`` once the models are loaded."""
        return service.health()

    @router.post("/api/ask", response_model=AnswerOut, responses=ERRORS, tags=["questions"],
                 summary="Answer a question with cited spans")
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answer ``question`` using ``history`` for follow-ups. Every citation's ``quote`` is
        ``article.text[start:end]``. When the archive does not say, ``abstained`` is true
        and ``passages`` lists the closest articles."""
        question, history, filters, k = _ask_args(service, body)
        return service.ask(question, history, filters, k).to_dict()

    @router.post("/api/ask/stream", responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
                 tags=["questions"], summary="Answer a question as server-sent events")
    def ask_stream(body: AskRequest) -> StreamingResponse:
        """Server-sent events: ``delta`` events ``{"text": piece, "draft": bool}`` with the
        reply text (``draft`` true for an LLM's unverified text, to be shown as a draft),
        then one ``answer`` event with the answer object (or an ``error`` event). A comment
        line (``: keep-alive``) is sent every ``SSE_KEEPALIVE_S`` seconds of silence."""
        question, history, filters, k = _ask_args(service, body)

        def events() -> Iterator[str]:
            try:
                for item in _with_keepalive(service.stream(question, history, filters, k)):
                    if item is None:
                        yield ": keep-alive\n\n"
                        continue
                    kind, value = item
                    if kind in ("delta", "draft"):
                        yield _sse("delta", {"text": value, "draft": kind == "draft"})
                    else:
                        yield _sse("answer", value.to_dict())  # type: ignore[union-attr]
            except RequestError as exc:
                yield _sse("error", {"error": str(exc), "status": exc.status})
            except Exception:
                log.exception("error while streaming an answer")
                yield _sse("error", {"error": "internal error (see the server log)", "status": 500})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/api/claims", responses={501: {"model": ErrorOut}, **ERRORS}, tags=["claims"],
                summary="Search attributed claims")
    def claims(q: str = "", speaker: str | None = None, since: str | None = None, until: str | None = None,
               k: int = 10) -> dict[str, Any]:
        """Who said, estimated or warned what about ``q``: claims ranked by relevance of
        their content (embeddings + BM25), each with speaker, role, cue, content, figures,
        date and citation (``article_id`` and the exact ``start``/``end`` of the content,
        ``quote == article.text[start:end]``). ``group``: claims about the same quantity
        share it and are listed together. ``speaker`` filters by name or role (substring)."""
        return {"query": q, "claims": service.claims(q, speaker, since, until, k)}

    @router.get("/api/articles", response_model=ArticleListOut, responses=ERRORS, tags=["articles"],
                summary="List articles")
    def list_articles() -> dict[str, Any]:
        """Every stored article's metadata, newest first."""
        articles = [a.to_dict() for a in service.archive.list_articles()]
        return {"count": len(articles), "articles": articles, "sources": service.archive.sources()}

    @router.get("/api/articles/{article_id:path}", response_model=ArticleOut,
                responses={404: {"model": ErrorOut}, **ERRORS}, tags=["articles"], summary="Get an article")
    def get_article(article_id: str) -> Any:
        """One article with its full text (ids may contain ``/`` and ``:``)."""
        article = service.archive.get(article_id)
        if article is None:
            return error_response(404, f"no article with id {article_id!r}")
        return article.to_dict()

    @router.post("/api/articles", response_model=AddOut, status_code=201,
                 responses={200: {"model": AddOut, "description": "Nothing new: every article was unchanged"},
                            201: {"model": AddOut, "description": "Articles added or updated"},
                            415: {"model": ErrorOut},
                            422: {"model": AddOut, "description": "Something was rejected (the rest is stored)"},
                            401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut}},
                 tags=["articles"], summary="Add articles (admin)",
                 openapi_extra={"requestBody": {"content": {
                     "application/json": {"schema": {"type": "object", "example": {
                         "id": "gazette/2024/bridge", "title": "Harbour bridge reopens", "text": "The bridge...",
                         "url": "https://news.example/bridge", "published": "2024-03-14", "source": "Gazette"}}},
                     "application/x-ndjson": {"schema": {"type": "string"}},
                     "multipart/form-data": {"schema": {"type": "object", "properties": {
                         "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}},
                     "required": True}})
    async def add_articles(request: Request) -> JSONResponse:
        """Add one JSON article (``id, title, text, url, published, source``), a JSON list,
        JSON Lines, or uploaded files (``.json .jsonl .html .txt .md``, multipart field
        ``file``). Statuses per article as ``byline add``: added, unchanged, updated,
        rejected. Answers 201 when something was added or updated, 200 when everything was
        unchanged, 422 when something was rejected (the valid ones are still stored).
        Needs ``Authorization: Bearer <admin token>``."""
        from corpus.loaders import ArticleFactory

        factory = ArticleFactory(max_bytes=service.settings.ingest.max_file_bytes)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        loaded: list[Any] = []
        if ctype == "multipart/form-data":
            form = await request.form()
            uploads = [v for _, v in form.multi_items() if hasattr(v, "read")]
            if not uploads:
                return error_response(422, "multipart request without a file (use field 'file')")
            for upload in uploads:
                data = await upload.read()  # type: ignore[union-attr]
                loaded += await run_in_threadpool(_load_upload, data, upload.filename or "upload",  # type: ignore[union-attr]
                                                  upload.content_type or "", factory)  # type: ignore[union-attr]
        elif ctype in ("application/json", "application/x-ndjson", "application/jsonl",
                       "text/plain", "text/markdown", "text/html"):
            data = await request.body()
            loaded = await run_in_threadpool(_load_upload, data, "", ctype, factory)
        else:
            return error_response(415, f"unsupported content type {ctype or '(none)'!r}: send application/json, "
                                       "application/x-ndjson, text/plain, text/html or multipart/form-data")
        if not loaded:
            return error_response(422, "the request holds no article")
        results = await run_in_threadpool(service.archive.add, loaded)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        status = 422 if counts.get("rejected") else 201 if counts.get("added") or counts.get("updated") else 200
        return JSONResponse({"results": [r.to_dict() for r in results], "counts": counts}, status_code=status)

    @router.delete("/api/articles/{article_id:path}", responses={404: {"model": ErrorOut}, **ERRORS},
                   tags=["articles"], summary="Remove an article (admin)")
    def delete_article(article_id: str) -> Any:
        """Remove an article from every index. Needs ``Authorization: Bearer <admin token>``."""
        removed = service.archive.remove([article_id])
        if not removed:
            return error_response(404, f"no article with id {article_id!r}")
        return {"removed": removed[0]}

    return router
