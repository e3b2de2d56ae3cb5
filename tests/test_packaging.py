"""The wheel is complete: built (offline, from the tracked files only, in a temporary copy
so that nothing is written into the checkout) and installed without ``-e``, it holds every
Python module of the runtime packages, the default settings, the sample corpus, the web
assets and the trained reader's model files, and it imports from where it was installed.

An editable install (``make install``) hides a missing package: this is the test that
does not (issue 11: the wheel once lacked ``retrieval.readers`` and ``corpus/sample``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# What `pip install byline` must give: the app module and these packages, nothing else
# (tests/, bench/ and training/ are development tools).
TOP_LEVEL = {"app.py", "cli", "config", "corpus", "index", "retrieval", "web"}
# Data the code opens by path relative to its package.
DATA = ["config/default.toml", "corpus/sample/articles.jsonl", "corpus/sample/questions.jsonl",
        "web/static/chat.js", "web/static/widget.js", "web/static/embed.html"]
READER_MODEL = "retrieval/readers/models/byline-reader-minilm"
READER_FILES = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "calibration.json"]


def _tracked_files() -> list[str]:
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    """(the wheel, its file names, the tracked files of the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist = tmp / "src", tmp / "dist"
    tracked = _tracked_files()
    for name in tracked:
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not built
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(dist)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [wheel] = dist.glob("byline-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return wheel, names, tracked


def test_wheel_holds_every_runtime_module_and_nothing_else(built) -> None:
    _, names, tracked = built
    assert {n.split("/", 1)[0] for n in names if ".dist-info/" not in n} == TOP_LEVEL
    # every tracked module of the runtime packages, subpackages (retrieval/readers) included
    modules = {n for n in tracked if n.endswith(".py") and n.split("/", 1)[0] in TOP_LEVEL
               and (REPO_ROOT / n).is_file()}
    assert "retrieval/readers/__init__.py" in modules and "retrieval/readers/trained.py" in modules
    missing = sorted(modules - set(names))
    assert not missing, f"modules missing from the wheel: {missing}"


def test_wheel_holds_the_data_and_the_reader_model(built) -> None:
    _, names, _ = built
    present = set(names)
    assert not [d for d in DATA if d not in present]
    assert not [f for f in READER_FILES if f"{READER_MODEL}/{f}" not in present]
    # no tracked file of the model folder is left out (a new one must be packaged too)
    model_files = [n for n in _tracked_files() if n.startswith(READER_MODEL + "/") and (REPO_ROOT / n).is_file()]
    assert model_files and not sorted(set(model_files) - present)


def test_wheel_declares_the_byline_command(built) -> None:
    wheel, names, _ = built
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry_points).decode()
    assert "[console_scripts]" in text and "byline = cli:main" in text


def test_installed_wheel_imports_from_its_own_files(built, tmp_path: Path) -> None:
    """Installed (not editable) into a folder put first on ``sys.path``, the modules and the
    files they open come from the installed copy, not from this checkout."""
    wheel, _, _ = built
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    probe = f"""
import json, sys
sys.path.insert(0, {str(target)!r})
import app, cli, retrieval.readers, retrieval.readers.trained as trained, web.service as service
from config.settings import DEFAULT_TOML, load_settings
from retrieval.readers import make_reader
files = [app.__file__, cli.__file__, retrieval.readers.__file__, DEFAULT_TOML, service.SAMPLE_ARTICLES,
         service.SAMPLE_QUESTIONS, trained.DEFAULT_MODEL_DIR / "model.safetensors"]
print(json.dumps({{"files": [str(f) for f in files], "reader": load_settings().reader.name}}))
"""
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["reader"] == "offline"
    for name in result["files"]:
        path = Path(name)
        assert path.is_relative_to(target), f"{name} comes from outside the installed wheel"
        assert path.is_file(), name


def test_installed_wheel_adds_asks_and_serves(built, tmp_path: Path) -> None:
    """The installed copy (``pip install`` without ``-e``, run from outside the checkout)
    adds the sample corpus, answers a sample question with an exact citation and serves
    ``/healthz`` and ``/api/ask``."""
    import socket
    import time
    import urllib.request

    wheel, _, _ = built
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    runner = f"import sys; sys.path.insert(0, {str(target)!r}); from cli import main; main()"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    data = tmp_path / "data"

    def byline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", runner, "--data-dir", str(data), *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600, env=env)

    sample = target / "corpus" / "sample" / "articles.jsonl"
    added = byline("--no-server", "add", str(sample))
    assert added.returncode == 0, added.stderr
    asked = byline("--no-server", "ask", "--json", "Who is the finance director of Northfield?")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["answer"] and answer["citations"], answer
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", runner, "--data-dir", str(data), "serve", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "byline serve from the wheel did not come up in 300 s"
                time.sleep(1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/ask", method="POST",
                                         data=json.dumps({"question": "Who is the finance director of Northfield?"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as reply:
            served = json.loads(reply.read())
        assert served["answer"] == answer["answer"]
    finally:
        server.terminate()
        server.wait(timeout=60)
