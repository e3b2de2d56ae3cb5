"""Security middleware for the whole app (API, embed page, widget and the Gradio chat).

One pure-ASGI middleware, :class:`SecurityMiddleware`, does, in this order:

1. **Origins.** A request with an ``Origin`` header is served only when that origin is
   the server's own (same host, also behind a proxy via ``X-Forwarded-Host``, or a
   browser's ``Sec-Fetch-Site: same-origin``) or one of
   ``server.allowed_origins``; any other origin gets ``403``. CORS headers are sent for
   allowed origins only; preflight ``OPTIONS`` requests are answered here.
2. **Size.** A body larger than ``server.max_request_bytes`` gets ``413`` (checked on
   ``Content-Length`` and while reading, for chunked bodies).
3. **Access.** With ``server.access_token`` set, every path except ``/healthz`` needs the
   token: ``Authorization: Bearer <token>``, ``?token=<token>`` (for the embed page and
   the widget script) or the ``byline_token`` cookie that a page opened with
   ``?token=`` sets. Write endpoints (``POST``/``DELETE`` on ``/api/articles``) need
   ``Authorization: Bearer <server.admin_token>``; with no admin token they are disabled.
4. **Headers.** ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``
   and a ``Content-Security-Policy`` whose ``frame-ancestors`` lists ``'self'`` and the
   allowed origins; API responses are ``Cache-Control: no-store``.

Errors are JSON ``{"error": "..."}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "byline_token"
PUBLIC_PATHS = {"/healthz"}
# Paths served by Byline itself (strict CSP); everything else is the Gradio chat.
OWN_PREFIXES = ("/api/", "/embed", "/byline-web/", "/widget.js", "/docs", "/openapi.json", "/healthz")
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"

STRICT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'")
# Gradio's page uses inline bootstrap scripts, inline styles and compiled templates.
GRADIO_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
              "connect-src 'self'; media-src 'self' data: blob:; worker-src 'self' blob:; "
              "frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'")


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case without a trailing slash or path;
    default ports (80 for http, 443 for https) are dropped. ``*`` stays ``*``."""
    origin = origin.strip()
    if origin == "*":
        return origin
    parts = urlsplit(origin.lower())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"server.allowed_origins: not an origin: {origin!r} (use https://host[:port])")
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class SecurityPolicy:
    """What :class:`SecurityMiddleware` enforces (built from ``settings.server``)."""

    allowed_origins: tuple[str, ...] = ()
    access_token: str = ""
    admin_token: str = ""
    max_request_bytes: int = 6_000_000
    cookie_path: str = "/"

    @classmethod
    def from_settings(cls, server: Any, root_path: str = "") -> "SecurityPolicy":
        """The policy of ``settings.server`` (raises ``ValueError`` for a bad origin)."""
        return cls(allowed_origins=tuple(normalise_origin(o) for o in server.allowed_origins),
                   access_token=server.access_token.get_secret_value(),
                   admin_token=server.admin_token.get_secret_value(),
                   max_request_bytes=server.max_request_bytes, cookie_path=root_path or "/")

    @property
    def frame_ancestors(self) -> str:
        """The ``frame-ancestors`` directive."""
        if "*" in self.allowed_origins:
            return "frame-ancestors *"
        return " ".join(["frame-ancestors 'self'", *self.allowed_origins])

    def origin_allowed(self, origin: str) -> bool:
        """True if a page of ``origin`` may call the API and frame the embed page."""
        if "*" in self.allowed_origins:
            return True
        try:
            return normalise_origin(origin) in self.allowed_origins
        except ValueError:
            return False


class _BodyTooLarge(Exception):
    pass


def _token_matches(given: str | None, expected: str) -> bool:
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _route_path(scope: Scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path


def _own_origins(headers: dict[str, str]) -> set[str]:
    hosts = {h.strip().lower() for h in (headers.get("host", ""), headers.get("x-forwarded-host", "")) if h}
    hosts |= {h.split(",")[0].strip().lower() for h in hosts}
    return hosts


def is_write(method: str, path: str) -> bool:
    """True for the endpoints that change the archive."""
    return method in ("POST", "DELETE", "PUT", "PATCH") and (path == "/api/articles" or path.startswith("/api/articles/"))


def json_response_messages(status: int, payload: dict[str, Any],
                           headers: list[tuple[bytes, bytes]] | None = None) -> list[Message]:
    """ASGI messages for a JSON response."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs.extend(headers or [])
    return [{"type": "http.response.start", "status": status, "headers": hdrs},
            {"type": "http.response.body", "body": body}]


class SecurityMiddleware:
    """Origin checks and CORS, request size limit, access tokens and security headers
    (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = _route_path(scope)
        method = scope["method"]
        policy = self.policy
        cors: list[tuple[bytes, bytes]] = []

        async def reply(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
            hdrs = list(cors) + self._security_headers(path, api=True) + list(extra or [])
            for m in json_response_messages(status, {"error": message, "status": status}, hdrs):
                await send(m)

        # 1. Origins and CORS.
        origin = headers.get("origin")
        if origin is not None:
            # Behind a proxy that rewrites Host (nginx's default) without X-Forwarded-Host the
            # page's origin differs from Host; browsers then still say the request is
            # same-origin in Sec-Fetch-Site, which pages cannot set.
            same = (origin != "null" and urlsplit(origin).netloc.lower() in _own_origins(headers)) \
                or headers.get("sec-fetch-site") == "same-origin"
            if not same:
                if not policy.origin_allowed(origin):
                    await reply(403, f"origin not allowed: {origin} (add it to server.allowed_origins)")
                    return
                cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]
                if method == "OPTIONS" and "access-control-request-method" in headers:
                    hdrs = cors + [(b"access-control-allow-methods", CORS_METHODS.encode()),
                                   (b"access-control-allow-headers", CORS_HEADERS.encode()),
                                   (b"access-control-max-age", b"600")]
                    await send({"type": "http.response.start", "status": 204,
                                "headers": hdrs + self._security_headers(path, api=True)})
                    await send({"type": "http.response.body", "body": b""})
                    return

        # 2. Size.
        length = headers.get("content-length")
        if length is not None:
            try:
                too_large = int(length) > policy.max_request_bytes
            except ValueError:
                await reply(400, "invalid Content-Length")
                return
            if too_large:
                await reply(413, f"request body of {length} bytes is over the limit of {policy.max_request_bytes} bytes")
                return

        # 3. Access.
        set_cookie: str | None = None
        if path not in PUBLIC_PATHS:
            auth = headers.get("authorization", "")
            bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            if is_write(method, path):
                if not policy.admin_token:
                    await reply(403, "writes through the API are disabled: set server.admin_token "
                                     "(BYLINE_SERVER__ADMIN_TOKEN) and send it as Authorization: Bearer <token>")
                    return
                if not _token_matches(bearer, policy.admin_token):
                    await reply(401, "admin token required: send Authorization: Bearer <admin token>",
                                [(b"www-authenticate", b'Bearer realm="byline-admin"')])
                    return
            elif policy.access_token:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                from_query = (query.get("token") or [None])[0]
                cookie = SimpleCookie()
                try:
                    cookie.load(headers.get("cookie", ""))
                except Exception:  # noqa: BLE001 - a malformed cookie header is no token
                    pass
                from_cookie = cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None
                ok = any(_token_matches(t, policy.access_token) for t in (bearer, from_query, from_cookie)) \
                    or _token_matches(bearer, policy.admin_token)
                if not ok:
                    await reply(401, "access token required: send Authorization: Bearer <token> "
                                     "or open the page with ?token=<token>",
                                [(b"www-authenticate", b'Bearer realm="byline"')])
                    return
                if from_query and from_cookie != from_query and method == "GET":
                    set_cookie = (f"{TOKEN_COOKIE}={from_query}; Path={policy.cookie_path}; HttpOnly; "
                                  "SameSite=Lax")

        # 4. Run the app with a size-checked body and added headers.
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > policy.max_request_bytes:
                    raise _BodyTooLarge
            return message

        started = False
        extra = cors + self._security_headers(path, api=path.startswith("/api/"))
        if set_cookie:
            extra.append((b"set-cookie", set_cookie.encode("latin-1")))

        async def wrapped_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k for k, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names
                        or k.lower() in (b"set-cookie", b"vary")]
                message = {**message, "headers": kept + extra}
            await send(message)

        try:
            await self.app(scope, limited_receive, wrapped_send)
        except _BodyTooLarge:
            if not started:
                await reply(413, f"request body is over the limit of {policy.max_request_bytes} bytes")

    def _security_headers(self, path: str, api: bool) -> list[tuple[bytes, bytes]]:
        own = any(path == p.rstrip("/") or path.startswith(p) for p in OWN_PREFIXES)
        csp = (STRICT_CSP if own else GRADIO_CSP) + "; " + self.policy.frame_ancestors
        hdrs = [(b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (b"content-security-policy", csp.encode("latin-1"))]
        if path == "/widget.js":
            hdrs.append((b"cross-origin-resource-policy", b"cross-origin"))
        if api:
            hdrs.append((b"cache-control", b"no-store"))
        return hdrs


_TOKEN_IN_URL = re.compile(r"([?&;](?:token|access_token)=)[^&#\s\"']*", re.IGNORECASE)


def redact_tokens(text: str) -> str:
    """``text`` with the values of ``token=`` query parameters replaced by ``[redacted]``."""
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)


class RedactTokensFilter(logging.Filter):
    """A logging filter that keeps access tokens out of log lines: uvicorn's access log
    prints each request's path with its query string, and pages are opened with
    ``?token=<token>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with :class:`RedactTokensFilter` on every
    handler (tokens in ``?token=`` never reach the logs)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["byline_redact_tokens"] = {"()": RedactTokensFilter}
    for handler in config.get("handlers", {}).values():
        handler.setdefault("filters", []).append("byline_redact_tokens")
    return config


class RootPathMiddleware:
    """Sets the ASGI ``root_path`` (the public sub-path behind a reverse proxy, e.g.
    ``/qa``) unless the server already set one; routing then works whether or not the
    proxy strips the prefix, and generated URLs (OpenAPI servers, Gradio) include it."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.root_path and scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope = {**scope, "root_path": self.root_path}
            path = scope.get("path", "")
            if path != self.root_path and not path.startswith(self.root_path + "/"):
                # A proxy that strips the prefix: put it back, so that mounted apps (static
                # files under /byline-web, Gradio) see the same path as without stripping.
                scope["path"] = self.root_path + (path if path.startswith("/") else "/" + path)
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = self.root_path.encode("latin-1") + (raw if raw.startswith(b"/") else b"/" + raw)
        await self.app(scope, receive, send)
