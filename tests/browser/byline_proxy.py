"""A small reverse proxy on 127.0.0.1 for the deployment tests: forwards every request
to an upstream Byline server, optionally stripping the public prefix, rewriting ``Host``
to the upstream's (as nginx does by default) and adding ``X-Forwarded-Host`` /
``X-Forwarded-Proto``. Responses stream through (server-sent events arrive as sent)."""

from __future__ import annotations

import http.client
import http.server
import threading
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class ReverseProxy:
    """``ReverseProxy(upstream, prefix="/qa", strip=True, rewrite_host=True, forwarded=False)``;
    ``origin`` is its public origin and ``base`` the public URL of the app (with the prefix)."""

    def __init__(self, upstream: str, prefix: str = "/qa", *, strip: bool = False, rewrite_host: bool = False,
                 forwarded: bool = False) -> None:
        target = urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # close-delimited responses: streams need no re-chunking

            def _forward(self) -> None:
                path = self.path
                if not path.startswith(prefix + "/") and path != prefix:
                    self.send_error(404, "outside the proxied prefix")
                    return
                if strip:
                    path = path[len(prefix):] or "/"
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
                headers["Host"] = target.netloc if rewrite_host else self.headers.get("Host", "")
                if forwarded:
                    headers["X-Forwarded-Host"] = self.headers.get("Host", "")
                    headers["X-Forwarded-Proto"] = "http"
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                try:
                    conn.request(self.command, path, body=body, headers=headers)
                    resp = conn.getresponse()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    while True:
                        chunk = resp.read1(65536)
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    conn.close()

            do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = do_HEAD = _forward

            def log_message(self, *args: object) -> None:
                proxy.log.append(args[0] % args[1:] if len(args) > 1 else str(args[0]))

        self.log: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.base = self.origin + prefix
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()
