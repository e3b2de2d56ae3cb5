"""Fixtures for the browser tests: the real server (``app.serve`` in a subprocess on a
free port, sample corpus in a temporary data dir), a second local origin serving
``examples/intranet.html``, and headless Chromium (/usr/bin/chromium) through Playwright
with every request recorded."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
ADMIN_TOKEN = "browser-admin"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class StaticSite:
    """A second origin (another port on 127.0.0.1) serving given pages."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server API
                body = site.pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                data = (body or "not found").encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def host_site() -> Iterator[StaticSite]:
    """The intranet origin (its pages are filled in once the server's port is known)."""
    site = StaticSite({})
    yield site
    site.close()


@pytest.fixture(scope="session")
def other_site() -> Iterator[StaticSite]:
    """An origin that is NOT allowed to embed Byline."""
    site = StaticSite({})
    yield site
    site.close()


def launch_server(tmp_path_factory: pytest.TempPathFactory, name: str, server: dict[str, Any]) -> Iterator[str]:
    """Start a real Byline server (``app.serve`` in a subprocess, the sample corpus in a new
    data dir, ``server`` settings), yield its base URL once ready, then stop it."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp(f"{name}-data")
    code = ("import app\nfrom config.settings import load_settings\n"
            f"app.serve(load_settings(data_dir={str(data_dir)!r}, server={server!r}), host='127.0.0.1', port={port})\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    log = (tmp_path_factory.getbasetemp() / f"{name}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    root = str(server.get("root_path") or "").rstrip("/")
    deadline = time.time() + 240
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(base + root + "/healthz", timeout=2).json().get("ready"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"server not ready after 240 s; see {log.name}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def server_launcher() -> Any:
    """:func:`launch_server` and :class:`StaticSite` for modules that need their own server
    (``import conftest`` is ambiguous: every test folder has one)."""
    return launch_server, StaticSite


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, host_site: StaticSite) -> Iterator[str]:
    """Base URL of a real Byline server (uvicorn in a subprocess) allowing ``host_site``."""
    yield from launch_server(tmp_path_factory, "browser", {"allowed_origins": [host_site.origin],
                                                           "admin_token": ADMIN_TOKEN})


class RecordedPage:
    """A page and every URL it (or its frames) requested."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))

    def foreign_requests(self, *origins: str) -> list[str]:
        """Requested URLs outside ``origins`` (data: and blob: URLs are local)."""
        ok = tuple(o.rstrip("/") + "/" for o in origins)
        return [u for u in self.requests
                if not (u.startswith(ok) or u.startswith(("data:", "blob:", "about:")) or u in {o.rstrip("/") for o in origins})]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
def recorded(browser: Any) -> Iterator[RecordedPage]:
    """A fresh browser context and page (1280x860) with request recording."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = RecordedPage(context.new_page())
    yield page
    context.close()


@pytest.fixture
def intranet_page(server: str, host_site: StaticSite) -> str:
    """URL of examples/intranet.html on the allowed host origin, pointing at ``server``."""
    html = (REPO / "examples" / "intranet.html").read_text(encoding="utf-8")
    host_site.pages["/intranet.html"] = html.replace("http://127.0.0.1:7860", server)
    return host_site.origin + "/intranet.html"


