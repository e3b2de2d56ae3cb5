"""Byline's server: the Gradio chat, the HTTP API and the embeddable widget in one
FastAPI app.

- :func:`create_app` builds the app for given settings (one archive and ONE
  question-answering pipeline per process, warmed up in a background thread at startup).
- :func:`serve` runs it with uvicorn (``byline serve`` and ``python app.py``).

The API routes, the security middleware, the widget/embed assets and the HTML rendering
helpers live in :mod:`web`; this module holds the chat UI and the wiring.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, AsyncIterator, Iterator

# Before Gradio is imported: no telemetry, no version check, no model downloads.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from config.settings import Settings, load_settings  # noqa: E402
from web.api import build_api_router, install_error_handlers  # noqa: E402
from web.pages import STATIC_MOUNT, build_pages_router, static_files  # noqa: E402
from web.render import (answer_html, article_html, esc, panel_placeholder, parse_cite_ref,  # noqa: E402
                        streaming_html)
from web.security import RootPathMiddleware, SecurityMiddleware, SecurityPolicy  # noqa: E402
from web.service import QAService, RequestError, ensure_sample, load_sample_questions  # noqa: E402

log = logging.getLogger(__name__)

# System fonts only: Gradio then requests no font files at all.
SANS = ["Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["Consolas", "Menlo", "monospace"]

CHAT_CSS = """
#byline-chat .byline-short { font-size: 1.05em; margin: 0 0 .3em; }
#byline-chat .byline-sentence { margin: 0 0 .4em; }
#byline-chat .byline-citations, #byline-chat .byline-closest { margin: .2em 0 0; padding-left: 1.2em; }
#byline-chat .byline-where { color: var(--body-text-color-subdued); font-size: .9em; }
#byline-chat .byline-snippet { display: block; color: var(--body-text-color-subdued); font-size: .9em; }
#byline-chat a.byline-cite { cursor: pointer; }
#byline-chat .byline-abstain { color: var(--body-text-color); }
#byline-source-panel .byline-source-title { margin: 0 0 .2em; font-size: 1.15em; }
#byline-source-panel .byline-source-meta { margin: 0 0 .6em; color: var(--body-text-color-subdued); font-size: .9em; }
#byline-source-panel .byline-source-text { position: relative; white-space: pre-wrap; max-height: 62vh;
    overflow-y: auto; padding: .6em .8em; border: 1px solid var(--border-color-primary); border-radius: 8px;
    line-height: 1.55; }
#byline-source-panel mark.byline-hl { background: #ffe58a; color: #111; border-radius: 2px;
    box-shadow: 0 0 0 2px #ffe58a; }
#byline-source-panel .byline-source-empty { color: var(--body-text-color-subdued); padding: 1em 0; }
"""

# Runs once when the source panel mounts: a document-level (capturing) click listener
# turns clicks on citation links inside chat messages into a `click` event of the panel
# carrying the citation reference; after each update the highlight is scrolled into view.
SOURCE_PANEL_JS = """
window.__bylineTrigger = trigger;
if (!window.__bylineCiteListener) {
  window.__bylineCiteListener = true;
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a[href*="#byline-cite:"]') : null;
    if (!a) return;
    e.preventDefault();
    e.stopPropagation();
    var href = a.getAttribute('href');
    window.__bylineTrigger('click', {ref: href.slice(href.indexOf('#byline-cite:'))});
  }, true);
}
watch('value', function () {
  var mark = element.querySelector('mark');
  var box = element.querySelector('.byline-source-text');
  if (!mark || !box) return;
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  var r = element.getBoundingClientRect();
  if (r.top < 0 || r.top > window.innerHeight) element.scrollIntoView({block: 'start'});
});
"""


def build_chat(service: QAService) -> gr.Blocks:
    """The Gradio chat: streaming replies with numbered citations, a source panel that
    shows the cited span highlighted, follow-ups, a new-conversation button, example
    questions and outlet/date filters."""
    limit = service.settings.server.max_question_chars

    def outlet_choices() -> list[tuple[str, str]]:
        return [("All outlets", "")] + [(f"{name} ({count})", name)
                                        for name, count in service.archive.sources().items() if name]

    def refresh_outlets() -> Any:
        return gr.update(choices=outlet_choices())

    def respond(message: str, messages: list[dict[str, Any]], history: list[list[str]],
                outlet: str, since: str, until: str) -> Iterator[tuple[Any, ...]]:
        try:
            question = service.check_question(message)
            filters = service.check_filters({"source": outlet or None, "since": (since or "").strip() or None,
                                             "until": (until or "").strip() or None})
        except RequestError as exc:
            # A toast; the conversation stays as it is and the question stays in the box.
            gr.Warning(str(exc))
            yield message, messages, history
            return
        messages = list(messages or []) + [{"role": "user", "content": esc(question)},
                                           {"role": "assistant", "content": streaming_html("…")}]
        yield "", messages, history
        text, answer = "", None
        try:
            for kind, value in service.stream(question, [tuple(t) for t in history or []], filters):
                if kind == "delta":
                    text += str(value)
                    messages[-1] = {"role": "assistant", "content": streaming_html(text)}
                    yield "", messages, history
                else:
                    answer = value
        except RequestError as exc:
            messages[-1] = {"role": "assistant", "content": f'<div class="byline-error">{esc(exc)}</div>'}
            yield "", messages, history
            return
        if answer is None:
            return
        data = answer.to_dict()
        ids = [c["article_id"] for c in data["citations"]] + [p["article_id"] for p in data["passages"]]
        messages[-1] = {"role": "assistant", "content": answer_html(data, service.article_meta(ids))}
        yield "", messages, list(history or []) + [[question, answer.text]]

    def open_citation(evt: gr.EventData) -> str:
        ref = (getattr(evt, "_data", None) or {}).get("ref", "")
        try:
            article_id, start, end = parse_cite_ref(ref)
        except (ValueError, TypeError):
            return panel_placeholder("That citation could not be read.")
        article = service.archive.get(article_id)
        if article is None:
            return panel_placeholder(f"The article {article_id} is no longer in the archive.")
        return article_html(article.to_dict(), start, end)

    def new_conversation() -> tuple[Any, ...]:
        return [], [], "", panel_placeholder()

    with gr.Blocks(title="Byline", analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown("## Byline\nAsk the news archive. Every answer quotes the sentence it comes from; "
                    "click a citation to read it in its article.")
        history = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                chatbot = gr.Chatbot(elem_id="byline-chat", height=520, latex_delimiters=[],
                                     feedback_options=None, show_label=False, buttons=["copy"],
                                     placeholder="Ask a question about the archive below.")
                with gr.Row():
                    question = gr.Textbox(show_label=False, placeholder="Ask a question…", lines=1,
                                          max_length=limit, scale=6, elem_id="byline-question", autofocus=True)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="byline-ask")
                with gr.Row():
                    new = gr.Button("New conversation", size="sm", elem_id="byline-new")
                with gr.Accordion("Filters", open=False):
                    with gr.Row():
                        outlet = gr.Dropdown(label="Outlet", choices=outlet_choices(), value="",
                                             elem_id="byline-outlet")
                        since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD", elem_id="byline-since")
                        until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD", elem_id="byline-until")
                examples = load_sample_questions()
                example_list = None
                if examples:
                    example_list = gr.Examples(examples=[[q] for q in examples], inputs=[question],
                                               label="Example questions")
            with gr.Column(scale=2, min_width=320):
                gr.Markdown("### Source")
                source = gr.HTML(panel_placeholder(), elem_id="byline-source-panel", js_on_load=SOURCE_PANEL_JS)

        inputs = [question, chatbot, history, outlet, since, until]
        outputs = [question, chatbot, history]
        question.submit(respond, inputs, outputs, concurrency_limit=2)
        ask.click(respond, inputs, outputs, concurrency_limit=2)
        if example_list is not None:  # a click on an example question asks it at once
            example_list.load_input_event.then(respond, inputs, outputs, concurrency_limit=2)
        source.click(open_citation, None, source)
        new.click(new_conversation, None, [chatbot, history, question, source])
        chatbot.clear(new_conversation, None, [chatbot, history, question, source])
        demo.load(refresh_outlets, None, outlet)
    return demo


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
    theme = gr.themes.Default(primary_hue="blue", font=SANS, font_mono=MONO)
    app = gr.mount_gradio_app(app, build_chat(service), path="/", root_path=root_path or None,
                              theme=theme, css=CHAT_CSS, footer_links=[], run_history=False, pwa=False,
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
