"""HTML rendering helpers for the chat: answers with numbered citations, abstentions and
the source panel with the cited span highlighted.

Everything that comes from an article (title, outlet, text, quotes, URLs) goes through
:func:`esc`, so markup inside an article is shown as text and never renders or runs.
Besides ``html.escape``, :func:`esc` also turns characters that Markdown, Handlebars or
JS template strings would interpret (``{ } $ ` * _ [ ] ~ \\ |``) into numeric
entities: the chat renders messages through Markdown and ``gr.HTML`` through a template.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

from retrieval.pipeline import quoted

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


def cite_ref(article_id: str, start: int, end: int) -> str:
    """The link target the chat uses for a citation: ``#byline-cite:START:END:ID``."""
    return f"{CITE_PREFIX}{int(start)}:{int(end)}:{quote(article_id, safe='')}"


def parse_cite_ref(ref: str) -> tuple[str, int, int]:
    """Inverse of :func:`cite_ref` (the prefix is optional); raises ``ValueError``."""
    ref = (ref or "").strip()
    if ref.startswith(CITE_PREFIX):
        ref = ref[len(CITE_PREFIX):]
    elif ref.startswith(CITE_PREFIX[1:]):
        ref = ref[len(CITE_PREFIX) - 1:]
    start, end, article_id = ref.split(":", 2)
    return unquote(article_id), int(start), int(end)


def describe(meta: Mapping[str, Any] | None) -> str:
    """"Outlet, 2024-06-12" for an article summary dict (escaped), or ""."""
    if not meta:
        return ""
    return esc(", ".join(x for x in (meta.get("source") or "", meta.get("published") or "") if x))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def answer_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The chat reply for an answer dict (``Answer.to_dict()``): the short answer, the
    sentence and numbered citations; or, for an abstention, the notice and the closest
    articles. ``meta`` maps article ids to summary dicts (outlet and date).

    The result is one line of HTML (no blank lines), so the chat's Markdown renderer
    leaves it as an HTML block.
    """
    meta = meta or {}
    status = answer.get("status") or ("abstained" if answer.get("abstained") else "answered")
    if status == "abstained" and answer.get("reader") == "small-talk":
        return f'<div class="byline-smalltalk"><p>{esc(answer.get("text"))}</p></div>'
    if status == "abstained":
        return abstention_html(answer, meta)
    if status == "uncertain":
        return uncertain_html(answer, meta)
    citations = list(answer.get("citations") or [])
    parts = ['<div class="byline-answer">']
    parts.append(f'<p class="byline-short"><strong>{esc(answer.get("answer"))}</strong></p>')
    if citations:
        first = citations[0]
        parts.append(
            f'<p class="byline-sentence">{esc(quoted(first["quote"]))} '
            f'<a class="byline-cite" href="{cite_ref(first["article_id"], first["start"], first["end"])}">[{int(first["n"])}]</a></p>')
        parts.append('<ol class="byline-citations">')
        for c in citations:
            where = describe(meta.get(c["article_id"]))
            snippet = _one_line(c["quote"])
            snippet = snippet if len(snippet) <= 90 else snippet[:89].rstrip() + "…"
            parts.append(
                f'<li><a class="byline-cite" href="{cite_ref(c["article_id"], c["start"], c["end"])}" '
                f'title="Open the source with the cited span highlighted">[{int(c["n"])}] {esc(c.get("title") or c["article_id"])}</a>'
                + (f' <span class="byline-where">{where}</span>' if where else "")
                + (f' <span class="byline-snippet">“{esc(snippet)}”</span>' if int(c["n"]) > 1 else "") + "</li>")
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def uncertain_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A tentative answer: labelled uncertain, never bold; the cited sentence with the
    tentative answer marked (``<mark>``) and its citation."""
    meta = meta or {}
    citations = list(answer.get("citations") or [])
    parts = ['<div class="byline-uncertain"><p class="byline-uncertain-label">Uncertain: the archive may say</p>']
    if citations:
        first = citations[0]
        quote = _one_line(first["quote"])
        tentative = answer.get("answer") or ""
        at = quote.find(tentative) if tentative else -1
        body = (esc(quote[:at]) + f"<mark>{esc(tentative)}</mark>" + esc(quote[at + len(tentative):])) if at >= 0 else esc(quote)
        where = describe(meta.get(first["article_id"]))
        parts.append(f'<p class="byline-sentence">“{body}” <a class="byline-cite" '
                     f'href="{cite_ref(first["article_id"], first["start"], first["end"])}">[{int(first["n"])}]</a>'
                     + (f' <span class="byline-where">{esc(first.get("title") or "")} {where}</span>' if where else "")
                     + "</p>")
    parts.append("<p>Check the cited sentence: the reader is not sure it answers the question.</p></div>")
    return "".join(parts)


def closest_articles(passages: Iterable[Mapping[str, Any]], limit: int = 3) -> list[Mapping[str, Any]]:
    """The first passage of each of the ``limit`` best-ranked distinct articles."""
    seen: dict[str, Mapping[str, Any]] = {}
    for p in passages:
        if p["article_id"] not in seen:
            seen[p["article_id"]] = p
        if len(seen) >= limit:
            break
    return list(seen.values())


def abstention_html(answer: Mapping[str, Any], meta: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The chat reply when the reader abstains: says so and lists the closest articles."""
    meta = meta or {}
    closest = closest_articles(answer.get("passages") or [])
    parts = ['<div class="byline-abstain"><p><strong>No answer:</strong> the articles do not say.</p>']
    if closest:
        parts.append('<p>Closest articles:</p><ul class="byline-closest">')
        for p in closest:
            where = describe(meta.get(p["article_id"]))
            parts.append(f'<li><a class="byline-cite" href="{cite_ref(p["article_id"], p["start"], p["end"])}">'
                         f'{esc(p.get("title") or p["article_id"])}</a>'
                         + (f' <span class="byline-where">{where}</span>' if where else "") + "</li>")
        parts.append("</ul>")
    else:
        parts.append("<p>The archive holds no article that matches this question.</p>")
    parts.append("</div>")
    return "".join(parts)


def streaming_html(text: str) -> str:
    """The reply while it streams: the escaped text so far."""
    return f'<div class="byline-streaming">{esc(_one_line(text))}</div>'


def article_html(article: Mapping[str, Any], start: int | None = None, end: int | None = None) -> str:
    """The source panel: title, outlet, date, link and the article text with
    ``text[start:end]`` wrapped in ``<mark id="byline-hl">``. Offsets outside the text
    are ignored (no highlight). Everything is escaped."""
    text = str(article.get("text") or "")
    title = esc(article.get("title") or article.get("id"))
    meta_bits = [esc(x) for x in (article.get("source"), article.get("published")) if x]
    url = safe_url(article.get("url"))
    if url:
        meta_bits.append(f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">Original article</a>')
    if start is not None and end is not None and 0 <= start < end <= len(text):
        body = (esc(text[:start]) + '<mark id="byline-hl" class="byline-hl">' + esc(text[start:end])
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
