"""HTML rendering for the chat: the three outcomes (an answer with its quoted sentence and
the answer marked in it, an uncertain answer, an abstention with the closest articles),
sources listed once per article, and the source panel with the cited sentence and the
answer highlighted. What is shown is derived by :mod:`web.present`.

Everything that comes from an article (title, outlet, text, quotes, URLs) goes through
:func:`esc`, so markup inside an article is shown as text and never renders or runs.
Besides ``html.escape``, :func:`esc` also turns characters that Markdown, Handlebars or
JS template strings would interpret (``{ } $ ` * _ [ ] ~ \\ |``) into numeric
entities: the chat renders messages through Markdown and ``gr.HTML`` through a template.
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlsplit

from web.present import Cited, closest, other_figures, sources, status_of, supporting

CITE_PREFIX = "#byline-cite:"

# One pass: HTML's special characters plus those of Markdown and templates.
_TABLE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
                        **{c: f"&#{ord(c)};" for c in "{}$`*_[]~\\|#"}})


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes too) and neutralise Markdown/template characters."""
    return ("" if text is None else str(text)).translate(_TABLE)


def safe_url(url: str | None) -> str:
    """``url`` if it is an absolute http(s) URL, else "" (no ``javascript:`` links)."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def cite_ref(article_id: str, start: int, end: int, answer: tuple[int, int] | None = None) -> str:
    """The link target the chat uses for a citation: ``#byline-cite:START:END:ID``, or
    ``#byline-cite:START:END,ASTART,AEND:ID`` with the answer span inside the sentence."""
    span = f"{int(start)}:{int(end)}"
    if answer is not None:
        span += f",{int(answer[0])},{int(answer[1])}"
    return f"{CITE_PREFIX}{span}:{quote(article_id, safe='')}"


def parse_cite_target(ref: str) -> tuple[str, int, int, tuple[int, int] | None]:
    """Inverse of :func:`cite_ref`: ``(article_id, start, end, answer span or None)``
    (the prefix is optional); raises ``ValueError``."""
    ref = (ref or "").strip()
    if ref.startswith(CITE_PREFIX):
        ref = ref[len(CITE_PREFIX):]
    elif ref.startswith(CITE_PREFIX[1:]):
        ref = ref[len(CITE_PREFIX) - 1:]
    start, end, article_id = ref.split(":", 2)
    answer = None
    if "," in end:
        end, a_start, a_end = end.split(",")
        answer = (int(a_start), int(a_end))
    return unquote(article_id), int(start), int(end), answer


def parse_cite_ref(ref: str) -> tuple[str, int, int]:
    """``(article_id, start, end)`` of a :func:`cite_ref` target; raises ``ValueError``."""
    article_id, start, end, _ = parse_cite_target(ref)
    return article_id, start, end


def describe(meta: Mapping[str, Any] | None) -> str:
    """"Outlet, 2024-06-12" for an article summary dict (escaped), or ""."""
    if not meta:
        return ""
    return esc(", ".join(x for x in (meta.get("source") or "", meta.get("published") or "") if x))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def quote_html(quote: str, answer: tuple[int, int] | None = None) -> str:
    """``quote`` on one line in curly quotes (a quotation mark it already starts or ends
    with is not doubled), escaped, with ``quote[answer[0]:answer[1]]`` wrapped in
    ``<mark class="byline-answer">``."""
    if answer and 0 <= answer[0] < answer[1] <= len(quote):
        pieces = [quote[:answer[0]], quote[answer[0]:answer[1]], quote[answer[1]:]]
    else:
        pieces = [quote, "", ""]
    pieces = [re.sub(r"\s+", " ", x) for x in pieces]
    pieces[0] = pieces[0].lstrip()
    if pieces[1]:
        pieces[2] = pieces[2].rstrip()
    else:
        pieces[0] = pieces[0].rstrip()
    whole = "".join(pieces)
    opening = "" if whole.startswith(("“", '"')) else "“"
    closing = "" if whole.endswith(("”", '"')) else "”"
    body = esc(pieces[0]) + (f'<mark class="byline-answer">{esc(pieces[1])}</mark>' if pieces[1] else "") + esc(pieces[2])
    return f"{opening}{body}{closing}"


def _cite_link(c: Cited, label: str | None = None) -> str:
    return (f'<a class="byline-cite" href="{cite_ref(c.article_id, c.start, c.end, c.answer_span)}" '
            f'title="Open the source with this sentence highlighted">{esc(label or f"[{c.n}]")}</a>')


def _quote_block(c: Cited) -> str:
    rel = (c.answer_span[0] - c.start, c.answer_span[1] - c.start) if c.answer_span else None
    return f'<blockquote class="byline-sentence">{quote_html(c.quote, rel)} {_cite_link(c)}</blockquote>'


def sources_html(answer: Mapping[str, Any], cited: list[Cited],
                 meta: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The source list: one entry per article (title, outlet, date) with its citations as
    [n] links; no numbering besides the [n] markers."""
    meta = meta or {}
    entries = sources(answer, cited)
    if not entries:
        return ""
    parts = ['<div class="byline-sources"><p class="byline-sources-label">Source' + ("s" if len(entries) > 1 else "")
             + '</p><ul class="byline-citations">']
    for s in entries:
        where = describe(meta.get(s.article_id))
        parts.append('<li class="byline-source-item"><span class="byline-markers">'
                     + " ".join(_cite_link(c) for c in s.cites) + "</span> "
                     f'<span class="byline-source-name">{esc(s.title or s.article_id)}</span>'
                     + (f' <span class="byline-where">{where}</span>' if where else "") + "</li>")
    parts.append("</ul></div>")
    return "".join(parts)


def answer_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None,
                texts: Mapping[str, str] | None = None) -> str:
    """The chat reply for an answer dict (``Answer.to_dict()``), by ``status``: the short
    answer and the quoted sentence with the answer marked, then its sources; an uncertain
    reply (labelled, never bold); or an abstention with the closest articles. ``meta``
    maps article ids to summary dicts (outlet and date); ``texts`` maps article ids to
    their text (for the closest articles' best sentences).

    The result is one line of HTML (no blank lines), so the chat's Markdown renderer
    leaves it as an HTML block.
    """
    meta = meta or {}
    status = status_of(answer)
    if status == "abstained" and answer.get("reader") == "small-talk":
        return f'<div class="byline-reply byline-smalltalk"><p>{esc(answer.get("text"))}</p></div>'
    if status == "abstained":
        return abstention_html(answer, meta, texts)
    if status == "uncertain":
        return uncertain_html(answer, meta)
    cited = supporting(answer)
    parts = ['<div class="byline-reply byline-answered" data-status="answered">',
             f'<p class="byline-short"><strong>{esc(answer.get("answer"))}</strong></p>']
    if cited:
        parts.append(_quote_block(cited[0]))
        figures = other_figures(answer)
        for c in cited[1:]:
            if c.n in figures:
                outlet = (meta.get(c.article_id) or {}).get("source") or ""
                parts.append('<p class="byline-other">Another figure is given'
                             + (f" by {esc(outlet)}" if outlet else "") + f": {esc(figures[c.n])}</p>")
            parts.append(_quote_block(c))
        parts.append(sources_html(answer, cited, meta))
    parts.append("</div>")
    return "".join(parts)


def uncertain_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A tentative answer: labelled uncertain, never bold; the cited sentence with the
    tentative answer marked and its source."""
    cited = supporting(answer)[:1]
    parts = ['<div class="byline-reply byline-uncertain" data-status="uncertain">'
             '<p class="byline-uncertain-label"><span class="byline-badge">Uncertain</span> The archive may say:</p>']
    if cited:
        parts.append(_quote_block(cited[0]))
        parts.append(sources_html(answer, cited, meta))
    parts.append('<p class="byline-hint">Check the cited sentence: the reader is not sure it answers the question.</p></div>')
    return "".join(parts)


def abstention_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None,
                    texts: Mapping[str, str] | None = None) -> str:
    """The chat reply when the reader abstains: says so (not bold) and lists at most three
    closest articles, each linking to its best sentence when ``texts`` has the article."""
    meta = meta or {}
    near = closest(answer, texts)
    parts = ['<div class="byline-reply byline-abstain" data-status="abstained">'
             '<p class="byline-abstain-label">The articles do not say.</p>']
    if near:
        parts.append('<p class="byline-closest-label">Closest articles:</p><ul class="byline-closest">')
        for p in near:
            where = describe(meta.get(p.article_id))
            parts.append(f'<li><a class="byline-cite" href="{cite_ref(p.article_id, p.start, p.end)}" '
                         'title="Open the article at its closest sentence">'
                         f'{esc(p.title or p.article_id)}</a>'
                         + (f' <span class="byline-where">{where}</span>' if where else "")
                         + (f' <span class="byline-snippet">{quote_html(_short(p.sentence))}</span>' if p.sentence else "")
                         + "</li>")
        parts.append("</ul>")
    else:
        parts.append("<p>The archive holds no article that matches this question.</p>")
    parts.append("</div>")
    return "".join(parts)


def _short(text: str, limit: int = 140) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def streaming_html(text: str, draft: bool = False) -> str:
    """The reply while it is being prepared or streams: a busy indicator, then the escaped
    text so far; ``draft`` text (an LLM's reply before its citations are checked) is
    labelled as such and shown in the draft style, never as an answer."""
    text = _one_line(text).strip("…").strip()
    label = "" if text else '<span class="byline-busy-label">Searching the archive…</span>'
    if draft and text:
        label = '<span class="byline-busy-label">Draft, being checked against the articles:</span> '
    cls = "byline-reply byline-streaming" + (" byline-draft" if draft else "")
    return (f'<div class="{cls}" aria-busy="true"><span class="byline-spinner" '
            f'aria-hidden="true"></span>{label}{esc(text)}</div>')


def article_html(article: Mapping[str, Any], start: int | None = None, end: int | None = None,
                 answer: tuple[int, int] | None = None) -> str:
    """The source panel: title, outlet, date, link and the article text with
    ``text[start:end]`` (the cited sentence) wrapped in ``<mark id="byline-hl">`` and,
    inside it, ``text[answer[0]:answer[1]]`` in ``<mark class="byline-answer">``. Offsets
    outside the text (or an answer outside the sentence) are ignored. Everything is escaped."""
    text = str(article.get("text") or "")
    title = esc(article.get("title") or article.get("id"))
    meta_bits = [esc(x) for x in (article.get("source"), article.get("published")) if x]
    url = safe_url(article.get("url"))
    if url:
        meta_bits.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">Original article</a>')
    if start is not None and end is not None and 0 <= start < end <= len(text):
        inner = esc(text[start:end])
        if answer is not None and start <= answer[0] < answer[1] <= end:
            inner = (esc(text[start:answer[0]]) + '<mark class="byline-answer">' + esc(text[answer[0]:answer[1]])
                     + "</mark>" + esc(text[answer[1]:end]))
        body = (esc(text[:start]) + '<mark id="byline-hl" class="byline-hl">' + inner
                + "</mark>" + esc(text[end:]))
    else:
        body = esc(text)
    return ('<article class="byline-source">'
            f'<h3 class="byline-source-title">{title}</h3>'
            f'<p class="byline-source-meta">{" · ".join(meta_bits)}</p>'
            f'<div class="byline-source-text">{body}</div>'
            "</article>")


def panel_placeholder(message: str = "Click a citation to read the source here.") -> str:
    """The source panel before a citation is opened (or with a short notice)."""
    return f'<div class="byline-source-empty">{esc(message)}</div>'
