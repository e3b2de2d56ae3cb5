"""The Gradio chat: a custom theme (system fonts), a header, answer cards that show the
three outcomes, a source panel (an overlay with "Back to the answer" on a phone),
example questions from the archive in use, filters, a Claims panel (who said what about
the current question's topic, each claim opening its article at the claim) and a "New
conversation" button.

Styles and page behaviour live in ``web/static/chat.css`` and ``chat.js`` (served with
the page by Gradio, never from another host).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import gradio as gr

from web.claims_view import claims_notice, claims_panel
from web.pages import STATIC_DIR
from web.render import (answer_html, article_html, esc, panel_placeholder, parse_cite_target,
                        streaming_html)
from web.service import SAMPLE_ARTICLES, QAService, RequestError, load_sample_questions

# System fonts only: Gradio then requests no font files at all.
SANS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "Consolas", "Menlo", "monospace"]
HEADER = ('<header class="byline-header"><span class="byline-logo">Byline</span>'
          '<span class="byline-tagline">Ask the news archive. Every answer quotes the sentence it comes from; '
          'open a citation to read it in its article.</span></header>')
BACK = '<button type="button" class="byline-back">&#x2190; Back to the answer</button>'

# Runs once when the source panel mounts: a document-level (capturing) click listener
# turns clicks on citation links (chat messages, the Claims panel) into a `click` event of the panel
# carrying the citation reference (on a phone it also opens the source overlay); after
# each update the highlighted sentence is scrolled into view.
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
    if (window.matchMedia('(max-width: 760px)').matches) {
      window.__bylineLastCite = a;
      var col = document.getElementById('byline-source-col');
      if (col) col.classList.add('byline-open');
      document.body.style.overflow = 'hidden';
      var back = document.querySelector('.byline-back');
      if (back) back.focus({preventScroll: true});
    }
    window.__bylineTrigger('click', {ref: href.slice(href.indexOf('#byline-cite:'))});
  }, true);
}
watch('value', function () {
  var mark = element.querySelector('mark.byline-answer') || element.querySelector('mark');
  var box = element.querySelector('.byline-source-text');
  if (!mark || !box) return;
  var col = document.getElementById('byline-source-col');
  var overlay = !!(col && col.classList.contains('byline-open'));
  if (overlay) { mark.scrollIntoView({block: 'center', inline: 'nearest'}); return; }
  box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  var r = element.getBoundingClientRect();
  if (r.top < 0 || r.top > window.innerHeight) element.scrollIntoView({block: 'start'});
});
"""


def theme() -> gr.themes.Base:
    """Byline's theme: newsroom blue, system fonts, quiet borders, AA contrast."""
    return gr.themes.Base(
        primary_hue=gr.themes.Color(c50="#eef4fa", c100="#d6e4f1", c200="#adc9e3", c300="#7fa8cf",
                                    c400="#4f83b6", c500="#2a6398", c600="#1f4e79", c700="#193f62",
                                    c800="#13304b", c900="#0d2134", c950="#08151f"),
        neutral_hue="slate", radius_size="md", font=SANS, font_mono=MONO,
    ).set(body_text_color="#1b2430", body_text_color_subdued="#4d5866",
          button_primary_background_fill="#1f4e79", button_primary_background_fill_hover="#193f62",
          button_primary_text_color="#ffffff", block_title_text_weight="600")


def chat_css() -> str:
    """The chat's style sheet (``web/static/chat.css``)."""
    return (STATIC_DIR / "chat.css").read_text(encoding="utf-8")


def chat_js() -> str:
    """The chat page's script (``web/static/chat.js``), run once on load."""
    return (STATIC_DIR / "chat.js").read_text(encoding="utf-8")


def _sample_ids() -> set[str]:
    """Ids of the sample corpus's articles."""
    try:
        return {json.loads(line)["id"] for line in SAMPLE_ARTICLES.read_text(encoding="utf-8").splitlines()
                if line.strip()}
    except (OSError, ValueError, KeyError):
        return set()


def example_questions(service: QAService, limit: int = 6) -> tuple[str, list[str]]:
    """``(label, questions)``: the sample corpus's questions when the sample is in the
    archive, else questions about its most recent headlines (none for an empty archive)."""
    try:
        recent = service.archive.list_articles()
    except Exception:  # noqa: BLE001 - no examples rather than no chat
        return "Example questions", []
    sample, sample_ids = load_sample_questions(limit), _sample_ids()
    if sample and sample_ids and sample_ids <= {a.id for a in recent}:
        return "Example questions", sample
    titles = [a.title.strip() for a in recent if (a.title or "").strip()][:limit]
    return "Recent in the archive", [f"What do the articles say about “{t}”?" for t in titles]


def build_chat(service: QAService) -> gr.Blocks:
    """The Gradio chat: streaming replies with the answer marked in its quoted sentence,
    sources per article, a source panel with the sentence and the answer highlighted,
    follow-ups, a new-conversation button, example questions, outlet/date filters and a
    Claims panel for the current question's topic."""

    def outlet_choices() -> list[tuple[str, str]]:
        return [("All outlets", "")] + [(f"{name} ({count})", name)
                                        for name, count in service.archive.sources().items() if name]

    def refresh_outlets() -> Any:
        return gr.update(choices=outlet_choices())

    def respond(message: str, messages: list[dict[str, Any]], history: list[list[str]],
                outlet: str, since: str, until: str, topic: str) -> Iterator[tuple[Any, ...]]:
        try:
            question = service.check_question(message)
            filters = service.check_filters({"source": outlet or None, "since": (since or "").strip() or None,
                                             "until": (until or "").strip() or None})
        except RequestError as exc:
            # The API's own message, as a toast; the conversation and the question stay.
            gr.Warning(str(exc))
            yield message, messages, history, topic
            return
        messages = list(messages or []) + [{"role": "user", "content": esc(question)},
                                           {"role": "assistant", "content": streaming_html("")}]
        yield "", messages, history, question  # the Claims panel's topic, until the answer refines it
        text, answer = "", None
        try:
            for kind, value in service.stream(question, [tuple(t) for t in history or []], filters):
                if kind in ("delta", "draft"):
                    text += str(value)
                    messages[-1] = {"role": "assistant", "content": streaming_html(text, draft=kind == "draft")}
                    yield "", messages, history, question
                else:
                    answer = value
        except RequestError as exc:
            messages[-1] = {"role": "assistant", "content": f'<div class="byline-error">{esc(exc)}</div>'}
            yield "", messages, history, question
            return
        if answer is None:
            return
        data = answer.to_dict()
        ids = [c["article_id"] for c in data["citations"]] + [p["article_id"] for p in data["passages"]]
        texts = service.archive.texts({p["article_id"] for p in data["passages"]}) if not data["citations"] else None
        messages[-1] = {"role": "assistant", "content": answer_html(data, service.article_meta(ids), texts)}
        yield "", messages, list(history or []) + [[question, answer.text]], data.get("standalone_question") or question

    def open_citation(evt: gr.EventData) -> str:
        ref = (getattr(evt, "_data", None) or {}).get("ref", "")
        try:
            article_id, start, end, answer = parse_cite_target(ref)
        except (ValueError, TypeError):
            return panel_placeholder("That citation could not be read.")
        article = service.archive.get(article_id)
        if article is None:
            return panel_placeholder(f"The article {article_id} is no longer in the archive.")
        return article_html(article.to_dict(), start, end, answer)

    def show_claims(topic: str) -> str:
        # The Claims panel for the current topic (a follow-up's standalone question).
        return claims_panel(service, topic)

    def new_conversation() -> tuple[Any, ...]:
        return [], [], "", panel_placeholder(), "", claims_notice()

    with gr.Blocks(title="Byline", analytics_enabled=False, fill_width=True) as demo:
        with gr.Row(elem_id="byline-toolbar"):
            gr.HTML(HEADER, elem_id="byline-header")
            new = gr.Button("New conversation", variant="secondary", size="md", scale=0, min_width=170,
                            elem_id="byline-new")
        history = gr.State([])
        topic = gr.State("")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=340):
                chatbot = gr.Chatbot(elem_id="byline-chat", height=470, latex_delimiters=[],
                                     feedback_options=None, show_label=False, buttons=["copy"],
                                     placeholder="Ask a question about the archive below.")
                with gr.Row():
                    # No max_length: a question over the limit gets the API's clear error
                    # instead of being cut silently.
                    question = gr.Textbox(show_label=False, placeholder="Ask a question…", lines=1,
                                          scale=6, elem_id="byline-question", autofocus=True)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="byline-ask")
                with gr.Accordion("Claims: who said what", open=False, elem_id="byline-claims-acc"):
                    claims = gr.HTML(claims_notice(), elem_id="byline-claims-panel")
                label, examples = example_questions(service)
                chips = []
                if examples:
                    # Buttons, not gr.Examples: its chips cut a question at 60 characters.
                    with gr.Column(elem_id="byline-examples"):
                        gr.HTML(f'<p class="byline-examples-label">{esc(label)}</p>')
                        with gr.Row(elem_classes=["byline-chips"]):
                            for q in examples:
                                chips.append((gr.Button(q, size="sm", variant="secondary", scale=0,
                                                        elem_classes=["byline-chip"]), q))
                with gr.Accordion("Filters", open=False):
                    with gr.Row():
                        outlet = gr.Dropdown(label="Outlet", choices=outlet_choices(), value="",
                                             elem_id="byline-outlet")
                        since = gr.Textbox(label="Published since", placeholder="YYYY-MM-DD", elem_id="byline-since")
                        until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD", elem_id="byline-until")
            with gr.Column(scale=2, min_width=300, elem_id="byline-source-col"):
                gr.HTML(BACK, elem_id="byline-back-bar")
                gr.Markdown("### Source")
                source = gr.HTML(panel_placeholder(), elem_id="byline-source-panel", js_on_load=SOURCE_PANEL_JS)

        inputs = [question, chatbot, history, outlet, since, until, topic]
        outputs = [question, chatbot, history, topic]
        # A new question clears the source and Claims panels, so that an earlier answer's
        # article or claims are never shown beside an answer they do not belong to.
        def clear_panels() -> tuple[str, str]:
            return panel_placeholder(), claims_notice("Looking for claims about the new question…")

        panels = [source, claims]
        question.submit(respond, inputs, outputs, concurrency_limit=2).then(show_claims, topic, claims)
        question.submit(clear_panels, None, panels, queue=False)
        ask.click(respond, inputs, outputs, concurrency_limit=2).then(show_claims, topic, claims)
        ask.click(clear_panels, None, panels, queue=False)
        for chip, text in chips:  # a click on an example question asks it at once
            chip.click(lambda text=text: text, None, question, queue=False).then(
                respond, inputs, outputs, concurrency_limit=2).then(show_claims, topic, claims)
            chip.click(clear_panels, None, panels, queue=False)
        # A click on a claim is a click on a citation link: the source panel opens the
        # claim's article with its content highlighted.
        source.click(open_citation, None, source)
        reset = [chatbot, history, question, source, topic, claims]
        new.click(new_conversation, None, reset)
        chatbot.clear(new_conversation, None, reset)
        demo.load(refresh_outlets, None, outlet)
    return demo
