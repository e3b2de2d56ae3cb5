"""Shared fixtures: settings in a temporary data dir, one embedder per test process,
small article factories and a local HTTP server (127.0.0.1 only, no other network).

Test modules import the plain helpers of this file as ``from byline_testing import ...``:
other folders have their own ``conftest.py``, so the module name ``conftest`` is ambiguous
(whichever conftest pytest loaded last wins).
"""

from __future__ import annotations

import os

# Set before anything imports sentence-transformers / huggingface_hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datetime as dt
import http.server
import itertools
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
sys.modules.setdefault("byline_testing", sys.modules[__name__])

# Small chunks so that short test articles still make several chunks.
TEST_CHUNKING = {"chunk_tokens": 32, "overlap_tokens": 8}


def shared_path(*parts: str) -> Path:
    """A file under ``../shared`` (relative to the repo root); skips the test if absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(autouse=True)
def _clean_byline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BYLINE_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("BYLINE_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def embedder():
    """The default all-MiniLM-L6-v2 embedder; the model loads once per process."""
    from index.embedder import Embedder

    emb = Embedder()
    emb.tokenizer  # noqa: B018 - load now, not inside a timed hypothesis example
    return emb


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., object]:
    """``make_settings(**overrides)``: settings with the data dir under ``tmp_path`` and
    small chunks; keyword overrides are merged section-wise (``index={...}``)."""
    from config.settings import load_settings

    def make(data_dir: Path | None = None, **overrides: object):
        values: dict[str, object] = {"chunking": dict(TEST_CHUNKING)}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(values.get(key), dict):
                values[key] = {**values[key], **value}  # type: ignore[dict-item]
            else:
                values[key] = value
        return load_settings(data_dir=data_dir or tmp_path / "data", **values)

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def archive(settings, embedder):
    from index.archive import Archive

    arch = Archive.open(settings, embedder=embedder)
    yield arch
    arch.store.close()


_ids = itertools.count()

TOPICS = {
    "bridge": ("Harbour bridge reopens after repairs",
               "The harbour bridge reopened on Thursday after eight months of repairs. Engineers "
               "replaced the corroded steel cables and resurfaced the deck. The council said the "
               "work cost twelve million dollars. Ferry operators reported fewer passengers."),
    "orchard": ("Frost damages apple orchards",
                "A late frost damaged apple orchards across the valley this spring. Growers expect "
                "the harvest to fall by a third. Some farmers lit fires between the rows to keep "
                "the blossoms warm overnight, with mixed results."),
    "chess": ("Teenager wins national chess title",
              "A sixteen-year-old from Dunmore won the national chess championship on Sunday. She "
              "defeated the defending champion in a tense final game that lasted six hours. Her "
              "coach said she trains with puzzles every morning before school."),
    "volcano": ("Volcano eruption grounds flights",
                "Ash from the erupting volcano grounded flights across the north on Monday. Airlines "
                "cancelled hundreds of departures. Geologists said the eruption could continue for "
                "weeks, and villagers near the crater were evacuated by bus."),
}


@pytest.fixture
def make_article() -> Callable[..., object]:
    """``make_article(topic="bridge", id=None, **fields)``: a short valid Article."""
    from corpus.article import Article

    def make(topic: str = "bridge", id: str | None = None, **fields: object):
        title, text = TOPICS[topic]
        values: dict[str, object] = {"title": title, "text": text, "source": "Test Gazette",
                                     "published": dt.date(2024, 3, 14), "url": ""}
        values.update(fields)
        return Article(id=id or f"{topic}-{next(_ids)}", **values)  # type: ignore[arg-type]

    return make


def article_record(topic: str = "bridge", id: str | None = None, **fields: object) -> dict:
    """A JSON Lines record in the format of ``articles.jsonl``."""
    title, text = TOPICS[topic]
    record = {"id": id or f"{topic}-{next(_ids)}", "title": title, "text": text,
              "url": f"https://news.example/{topic}", "published": "2024-03-14",
              "source": "Test Gazette"}
    record.update(fields)
    return record


class LocalServer:
    """Serves ``routes`` (path -> (content type, body bytes, status)) on 127.0.0.1."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes, int]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server API
                hits.append(self.path)
                content_type, body, status = routes.get(self.path, ("text/plain", b"not found", 404))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
              status: int = 200) -> str:
        self.routes[path] = (content_type, body.encode("utf-8") if isinstance(body, str) else body, status)
        return self.url(path)


@pytest.fixture
def http_server():
    server = LocalServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def article_html(title: str, paragraphs: list[str], *, site: str = "Coastal Gazette",
                 date: str = "2024-03-14") -> str:
    """An article page with title, outlet and date metadata and some boilerplate."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html><head>"
        f"<title>{title} | {site}</title>"
        f'<meta property="og:title" content="{title}">'
        f'<meta property="og:site_name" content="{site}">'
        f'<meta property="article:published_time" content="{date}T09:00:00Z">'
        "</head><body><nav><a href='/'>Home</a> <a href='/sport'>Sport</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer><p>Contact the newsroom</p></footer></body></html>"
    )


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():  # a playwright Browser
    """One headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) for
    the whole session: Playwright's sync API allows one running instance per thread."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, embedder):
    """A warmed-up QAService (archive + pipeline) over the sample corpus in a temp data dir."""
    from config.settings import load_settings
    from index.archive import Archive
    from web.service import QAService, ensure_sample

    settings = load_settings(data_dir=tmp_path_factory.mktemp("service-data"))
    archive = Archive.open(settings, embedder=embedder)
    ensure_sample(archive, settings)
    svc = QAService(settings, archive=archive)
    svc.warm_up()
    yield svc
    archive.store.close()
