"""A small OpenAI-compatible chat-completions server for the LLM reader tests.

Speaks real HTTP on 127.0.0.1 (``http.server``): ``POST /v1/chat/completions`` answers
with server-sent events (``data: {chunk}`` lines and ``data: [DONE]``), or misbehaves as
``mode`` says: ``json`` (one non-streamed completion), ``status`` (HTTP ``status`` with an
OpenAI-style error body), ``malformed`` (a non-JSON event), ``truncated`` (closes before
``[DONE]``), ``error_event`` (an ``{"error": ...}`` event), ``slow`` (sleeps ``delay``
seconds before the first byte).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from typing import Any, Callable


class FakeLLM:
    """Start with :meth:`start`, stop with :meth:`stop`; ``requests`` records every call
    as ``{"path", "headers", "body"}``; ``reply`` is a string or ``f(body) -> str``."""

    def __init__(self) -> None:
        self.mode = "sse"
        self.reply: str | Callable[[dict[str, Any]], str] = "NOT FOUND"
        self.status = 500
        self.delay = 0.0
        self.chunk_chars = 5
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server API
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                try:
                    fake.respond(self, body)
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeLLM":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def text_for(self, body: dict[str, Any]) -> str:
        return self.reply(body) if callable(self.reply) else self.reply

    @staticmethod
    def _send(handler: http.server.BaseHTTPRequestHandler, status: int, ctype: str, data: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def respond(self, h: http.server.BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if h.path != "/v1/chat/completions":
            self._send(h, 404, "application/json", b'{"error": {"message": "no such route"}}')
            return
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "status":
            err = {"error": {"message": f"fake failure {self.status}", "type": "server_error"}}
            self._send(h, self.status, "application/json", json.dumps(err).encode())
            return
        text = self.text_for(body)
        if self.mode == "json" or not body.get("stream"):
            completion = {"id": "c1", "object": "chat.completion", "model": body.get("model"),
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": text}}]}
            self._send(h, 200, "application/json", json.dumps(completion).encode())
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()

        def event(payload: str) -> None:
            h.wfile.write(f"data: {payload}\n\n".encode())
            h.wfile.flush()

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return json.dumps({"id": "c1", "object": "chat.completion.chunk", "model": body.get("model"),
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]},
                              ensure_ascii=False)

        h.wfile.write(b": keep-alive\n\n")
        event(chunk({"role": "assistant", "content": ""}))
        pieces = [text[i:i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        if self.mode == "malformed":
            event(chunk({"content": pieces[0] if pieces else "x"}))
            event('{"choices": [{"delta": {"content": "broken')
            return
        if self.mode == "error_event":
            event(json.dumps({"error": {"message": "model overloaded"}}))
            return
        for i, piece in enumerate(pieces):
            if self.mode == "truncated" and i >= len(pieces) // 2:
                return
            event(chunk({"content": piece}))
        event(chunk({}, "stop"))
        event("[DONE]")
