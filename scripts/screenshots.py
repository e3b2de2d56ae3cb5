"""Screenshots of Byline for the README: ``python scripts/screenshots.py [--out docs/screenshots]``.

Starts a real server (``app.serve`` in a subprocess, the sample corpus and the seed article
in a temporary data dir, 127.0.0.1 only), serves ``examples/intranet.html`` from a second
local origin, and drives Debian's Chromium (``/usr/bin/chromium``) through Playwright, as
the browser tests do. Nothing is downloaded. Writes:

    chat-answer.png       an answer, its quoted sentence with the answer marked, its source
    chat-source.png       the source panel: the sentence lightly, the answer strongly highlighted
    chat-uncertain.png    an uncertain answer
    chat-abstain.png      an abstention with the closest articles
    widget-intranet.png   the widget on the example intranet page
    phone-answer.png / phone-source.png   the phone layout (390 px) and its source overlay
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seeds" / "000_5394cb9d20c982bd.txt"
CHROMIUM = "/usr/bin/chromium"
ANSWERED = "How many dockworkers walked off the job at the Port of Calloway?"
ABSTAINED = "What is the population of Marrowby?"
UNCERTAIN = os.environ.get("BYLINE_SHOT_UNCERTAIN")  # else the first sample question the reader is unsure of


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, allowed: str, port: int) -> subprocess.Popen:
    """``app.serve`` on 127.0.0.1:port over ``data_dir``, allowing ``allowed`` to frame it."""
    code = ("import app\nfrom config.settings import load_settings\n"
            f"app.serve(load_settings(data_dir={str(data_dir)!r}, server={{'allowed_origins': [{allowed!r}]}}),"
            f" host='127.0.0.1', port={port})\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    """Wait for ``/healthz`` to report ready."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=2).json().get("ready"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not get ready")


def host_site(html: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A second local origin serving ``/intranet.html``."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server API
            data = html.encode() if self.path.startswith("/intranet.html") else b"not found"
            self.send_response(200 if self.path.startswith("/intranet.html") else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def ask(page, question: str, selector: str) -> None:
    """Type ``question``, press Enter and wait for a reply matching ``selector``."""
    before = page.locator(selector).count()
    page.locator("#byline-question textarea").fill(question)
    page.locator("#byline-question textarea").press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll({selector!r}).length > {before}", timeout=60_000)
    page.wait_for_timeout(400)


def uncertain_question(base: str) -> str:
    """The first sample question the running server marks ``uncertain`` (asked through
    the API), so the picture shows that state whatever the reader's figures are now.
    Raises ``SystemExit`` when none is."""
    import json

    if UNCERTAIN:
        return UNCERTAIN
    for line in (REPO / "corpus" / "sample" / "questions.jsonl").open(encoding="utf-8"):
        question = json.loads(line)["question"]
        if httpx.post(base + "/api/ask", json={"question": question}, timeout=60).json().get("status") == "uncertain":
            return question
    raise SystemExit("no sample question is answered 'uncertain'; set BYLINE_SHOT_UNCERTAIN")


def shoot(out: Path) -> None:
    """Take every screenshot into ``out``."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    httpd, origin = host_site((REPO / "examples" / "intranet.html").read_text(encoding="utf-8")
                              .replace("http://127.0.0.1:7860", base))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        inputs = [str(REPO / "corpus" / "sample" / "articles.jsonl")] + ([str(SEED)] if SEED.exists() else [])
        subprocess.run([sys.executable, "-m", "cli", "--data-dir", str(data_dir), "add", *inputs], cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        proc = start_server(data_dir, origin, port)
        try:
            wait_ready(base, proc)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1366, "height": 860})
                page.goto(base + "/")
                page.wait_for_selector("#byline-question textarea", timeout=60_000)
                ask(page, ANSWERED, "#byline-chat .byline-answered")
                page.screenshot(path=str(out / "chat-answer.png"))
                page.locator("#byline-chat .byline-answered a.byline-cite").first.click()
                page.locator("#byline-source-panel mark.byline-answer").wait_for(timeout=15_000)
                page.wait_for_timeout(400)
                page.screenshot(path=str(out / "chat-source.png"))
                ask(page, uncertain_question(base), "#byline-chat .byline-uncertain")
                page.screenshot(path=str(out / "chat-uncertain.png"))
                ask(page, ABSTAINED, "#byline-chat .byline-abstain")
                page.screenshot(path=str(out / "chat-abstain.png"))
                page.close()
                page = browser.new_page(viewport={"width": 1366, "height": 860})
                page.goto(origin + "/intranet.html")
                page.locator("#byline-widget button.byline-launcher").click()
                frame = page.frame_locator("#byline-widget iframe")
                frame.locator("#question").fill(ANSWERED)
                frame.locator("#question").press("Enter")
                frame.locator(".msg.bot mark.byline-answer").first.wait_for(timeout=60_000)
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / "widget-intranet.png"))
                page.close()
                phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                         is_mobile=True, has_touch=True)
                phone.goto(base + "/")
                phone.wait_for_selector("#byline-question textarea", timeout=60_000)
                ask(phone, ANSWERED, "#byline-chat .byline-answered")
                phone.screenshot(path=str(out / "phone-answer.png"))
                phone.locator("#byline-chat .byline-answered a.byline-cite").first.click()
                phone.locator("#byline-source-panel mark.byline-answer").wait_for(timeout=15_000)
                phone.wait_for_timeout(400)
                phone.screenshot(path=str(out / "phone-source.png"))
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            httpd.shutdown()
    print(f"screenshots in {out}")


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    shoot(parser.parse_args().out)


if __name__ == "__main__":
    main()
