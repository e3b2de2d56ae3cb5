"""Routes for the embeddable widget: ``/widget.js`` (the launcher a host page includes),
``/embed`` (the compact chat page shown in the widget's iframe), their static assets
under ``/byline-web/`` and a self-contained API reference at ``/docs``.

No page here loads anything from another host: scripts, styles and data come from this
server, and the pages' CSP (see :mod:`web.security`) forbids anything else.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
STATIC_MOUNT = "/byline-web"


def static_files() -> StaticFiles:
    """The ``/byline-web`` static files app (embed page scripts and styles)."""
    return StaticFiles(directory=STATIC_DIR)


def build_pages_router(openapi: Callable[[], dict[str, Any]]) -> APIRouter:
    """``/widget.js``, ``/embed`` and ``/docs``; ``openapi`` returns the app's schema."""
    router = APIRouter(include_in_schema=False)

    @router.get("/widget.js")
    def widget_js() -> Response:
        """The launcher script for host pages."""
        return Response((STATIC_DIR / "widget.js").read_bytes(), media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    @router.get("/embed")
    def embed_page() -> HTMLResponse:
        """The compact chat page for the widget's iframe."""
        return HTMLResponse((STATIC_DIR / "embed.html").read_text(encoding="utf-8"),
                            headers={"Cache-Control": "no-store"})

    @router.get("/docs")
    def docs_page() -> HTMLResponse:
        """A self-contained reference of the HTTP API generated from ``/openapi.json``."""
        return HTMLResponse(render_docs(openapi()))

    return router


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    if ref:
        return ref.rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        return f"list of {_schema_name(schema['items'])}"
    return str(schema.get("type", "object"))


def render_docs(spec: dict[str, Any]) -> str:
    """The API reference as one HTML page (no scripts, no external assets)."""
    esc = html.escape
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f'<title>{esc(spec.get("info", {}).get("title", "API"))} reference</title>',
           '<link rel="stylesheet" href="byline-web/docs.css"></head><body><main>',
           f'<h1>{esc(spec.get("info", {}).get("title", "API"))} <small>{esc(spec.get("info", {}).get("version", ""))}</small></h1>',
           f'<p>{esc(spec.get("info", {}).get("description", ""))}</p>',
           '<p>Machine-readable schema: <a href="openapi.json">openapi.json</a>. Errors are JSON '
           '<code>{"error": "...", "status": N}</code>.</p>']
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            out.append(f'<section class="op"><h2><span class="method {esc(method)}">{esc(method.upper())}</span> '
                       f'<code>{esc(path)}</code> — {esc(op.get("summary", ""))}</h2>')
            if op.get("description"):
                out.append(f'<p class="desc">{esc(op["description"])}</p>')
            body = op.get("requestBody", {}).get("content", {})
            if body:
                out.append("<p><b>Body:</b> " + ", ".join(
                    f"<code>{esc(ct)}</code> ({esc(_schema_name(c.get('schema', {})))})" for ct, c in body.items()) + "</p>")
            rows = []
            for code, resp in op.get("responses", {}).items():
                content = resp.get("content", {})
                schema = next(iter(content.values()), {}).get("schema", {}) if content else {}
                rows.append(f"<li><code>{esc(code)}</code> {esc(resp.get('description', ''))}"
                            + (f" — {esc(_schema_name(schema))}" if schema else "") + "</li>")
            out.append("<ul>" + "".join(rows) + "</ul></section>")
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        out.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            props = schema.get("properties", {})
            out.append(f'<section class="schema"><h3 id="{esc(name)}">{esc(name)}</h3>'
                       f'<p>{esc(schema.get("description", ""))}</p><ul>')
            for prop, ps in props.items():
                kind = _schema_name(ps) if ("$ref" in ps or "type" in ps) else " | ".join(
                    _schema_name(x) for x in ps.get("anyOf", [])) or "any"
                out.append(f"<li><code>{esc(prop)}</code>: {esc(kind)}"
                           + (f" — {esc(ps['description'])}" if ps.get("description") else "") + "</li>")
            out.append("</ul></section>")
    out.append("</main></body></html>")
    return "".join(out)
