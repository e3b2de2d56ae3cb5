"""Byline's server: the Gradio chat, the HTTP API and the embeddable widget in one
FastAPI app.

- :func:`create_app` builds the app for given settings (one archive and ONE
  question-answering pipeline per process, warmed up in a background thread at startup).
- :func:`serve` runs it with uvicorn (``byline serve`` and ``python app.py``).

The API routes, the security middleware, the widget/embed assets and the HTML rendering
helpers live in :mod:`web`; the chat UI in :mod:`web.ui`; this module holds the wiring.
"""

from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

# Before Gradio is imported: no telemetry, no version check, no model downloads.
from config.environment import use_offline_environment

use_offline_environment()

import gradio as gr
from fastapi import FastAPI

from config.settings import Settings, load_settings
from web.api import build_api_router, install_error_handlers
from web.pages import STATIC_MOUNT, build_pages_router, static_files
from web.security import RootPathMiddleware, SecurityMiddleware, SecurityPolicy
from web.service import QAService, ensure_sample
from web.ui import build_chat, chat_css, chat_js, theme

log = logging.getLogger(__name__)

def create_app(settings: Settings, *, service: QAService | None = None) -> FastAPI:
    """The FastAPI app: ``/api/*``, ``/healthz``, ``/docs``, ``/widget.js``, ``/embed``
    and the Gradio chat at ``/``, behind :class:`web.security.SecurityMiddleware`.

    ``service`` (archive + pipeline) is created from ``settings`` when not given; its
    models are warmed up in a background thread when the app starts.
    """
    root_path = settings.server.root_path.rstrip("/")
    if root_path and not root_path.startswith("/"):
        raise ValueError(f"server.root_path: must start with '/': {root_path!r}")
    policy = SecurityPolicy.from_settings(settings.server, root_path)
    service = service or QAService(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start_warm_up()
        yield

    app = FastAPI(title="Byline", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="Question answering over a news archive; every answer cites exact "
                              "character spans of its source articles.")
    app.state.service = service
    install_error_handlers(app)
    app.include_router(build_api_router(service))
    app.include_router(build_pages_router(app.openapi))
    app.mount(STATIC_MOUNT, static_files(), name="byline-web")
    app = gr.mount_gradio_app(app, build_chat(service), path="/", root_path=root_path or None,
                              theme=theme(), css=chat_css(), js=chat_js(), footer_links=[], run_history=False, pwa=False,
                              ssr_mode=False, mcp_server=False, show_error=True,
                              max_file_size=settings.server.max_request_bytes)
    app.add_middleware(SecurityMiddleware, policy=policy)
    app.add_middleware(RootPathMiddleware, root_path=root_path)  # outermost
    return app


def serve(settings: Settings | None = None, *, host: str | None = None, port: int | None = None,
          root_path: str | None = None, build_sample: bool = True) -> None:
    """Run the server with uvicorn (blocks). Arguments override ``settings.server``; the
    default interface is 127.0.0.1 (0.0.0.0 only when asked). With ``build_sample`` an
    empty archive first gets the sample corpus."""
    import uvicorn

    settings = settings or load_settings()
    update = {k: v for k, v in (("host", host), ("port", port), ("root_path", root_path)) if v is not None}
    if update:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=update)})
    service = QAService(settings)
    if build_sample:
        added = ensure_sample(service.archive, settings)
        if added:
            print(f"Added the sample corpus ({sum(r.status == 'added' for r in added)} articles).", flush=True)
    app = create_app(settings, service=service)
    server = settings.server
    print(f"Byline: http://{server.host}:{server.port}{server.root_path.rstrip('/')}/  "
          f"(API docs at {server.root_path.rstrip('/')}/docs)", flush=True)
    from web.security import uvicorn_log_config

    uvicorn.run(app, host=server.host, port=server.port, proxy_headers=True, log_level="info",
                log_config=uvicorn_log_config())


if __name__ == "__main__":
    serve()
