"""Common mistakes get a clear message naming the path, file or setting, and the right
exit code (1: the command failed, 2: a usage error)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from byline_testing import REPO_ROOT, TEST_CHUNKING, TOPICS, article_html, article_record

ENV = {"BYLINE_CHUNKING__CHUNK_TOKENS": str(TEST_CHUNKING["chunk_tokens"]),
       "BYLINE_CHUNKING__OVERLAP_TOKENS": str(TEST_CHUNKING["overlap_tokens"])}


def invoke(data_dir: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli.app, ["--data-dir", str(data_dir), "--no-server", *args], input=input,
                                env={**ENV, **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.fixture
def filled(tmp_path: Path, embedder) -> Path:
    """A data dir holding two articles."""
    data_dir = tmp_path / "data"
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(article_record(t, id=t)) + "\n" for t in ("bridge", "chess")), encoding="utf-8")
    assert invoke(data_dir, "add", str(path)).exit_code == 0
    return data_dir


@pytest.mark.parametrize("args", [("list",), ("show", "x"), ("stats",), ("verify",), ("remove", "x"),
                                  ("ask", "Who won?"), ("rebuild",)])
def test_a_missing_data_dir_is_named_and_not_created(tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "dta"
    result = invoke(typo, *args)
    assert result.exit_code == 1, result.output
    assert f"no Byline index in {typo}: the folder does not exist" in result.stderr
    assert "only `byline add` creates" in result.stderr
    assert not typo.exists()


def test_only_add_creates_the_data_dir(tmp_path: Path, embedder) -> None:
    data_dir = tmp_path / "new" / "data"
    story = tmp_path / "story.txt"
    story.write_text(f"{TOPICS['bridge'][0]}\n\n{TOPICS['bridge'][1]}", encoding="utf-8")
    assert invoke(data_dir, "add", str(story)).exit_code == 0
    assert (data_dir / "byline.sqlite").exists()


def test_an_empty_archive_is_named_as_such(tmp_path: Path, filled: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    result = invoke(folder, "ask", "Who won the chess title?")
    assert result.exit_code == 1
    assert f"no Byline index in {folder}: the archive is empty (add articles with `byline add" in result.stderr
    assert invoke(filled, "remove", "bridge", "chess").exit_code == 0
    for args in (("ask", "Who won the chess title?"), ("ask", "--json", "Who won?")):
        result = invoke(filled, *args)
        assert result.exit_code == 1
        assert f"the archive in {filled} is empty: add articles with `byline add" in result.stderr
        assert result.stdout == ""
    listed = invoke(filled, "list")
    assert listed.exit_code == 0 and "0 articles" in listed.stderr and "is empty" in listed.stderr


def test_the_pipeline_says_the_archive_is_empty(archive, settings) -> None:
    from retrieval.pipeline import QAPipeline

    answer = QAPipeline(archive, settings).ask("Who is the finance director?")
    assert answer.status == "abstained" and answer.citations == []
    assert answer.text == "The archive is empty: add articles with `byline add`."


@pytest.mark.parametrize("question, language", [
    ("Wer ist der Bürgermeister von Northfield?", "German"),
    ("Qui est le directeur financier de la ville ?", "French"),
    ("¿Quién ganó el campeonato de ajedrez?", "Spanish"),
    ("谁赢得了国际象棋冠军？", "Chinese"),
])
def test_a_question_not_in_english_is_told_so(filled: Path, question: str, language: str) -> None:
    result = invoke(filled, "ask", "--json", question)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "abstained" and answer["abstained"] is True
    assert answer["citations"] == [] and answer["answer"] is None
    assert "answers questions in English" in answer["text"] and language in answer["text"]


def test_port_in_use_says_so_and_how_to_choose_another(filled: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = invoke(filled, "serve", "--port", str(port), "--no-sample")
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr and "make run PORT=" in result.stderr
    assert "Byline: http" not in result.stdout  # no banner before the failure


def test_make_run_passes_the_port() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(if $(PORT),--port $(PORT))" in makefile


def test_help_is_plain_and_light() -> None:
    """--help shows no <bool> for flags and imports no model library (it stays fast)."""
    code = ("import sys, runpy; sys.argv = ['byline', '--help']\n"
            "try:\n    runpy.run_module('cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'spacy', 'gradio', 'rich', 'numpy')"
            " if m in sys.modules]\nprint('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    for args in ([], ["add"], ["ask"], ["list"]):
        text = CliRunner().invoke(cli.app, [*args, "--help"]).stdout
        assert "<bool>" not in text and "--help" in text
    assert "--json " in CliRunner().invoke(cli.app, ["add", "--help"]).stdout


def test_bodiless_articles_are_rejected_keeping_the_given_id(tmp_path: Path, embedder) -> None:
    data_dir = tmp_path / "data"
    headline = tmp_path / "headline.txt"
    headline.write_text("Council Approves Budget\n", encoding="utf-8")
    invisible = tmp_path / "invisible.txt"
    invisible.write_text("\u00a0\u200b\ufeff\u2060\u00a0\n\u200b", encoding="utf-8")
    hidden_body = tmp_path / "hidden_body.txt"
    hidden_body.write_text("Title\n\n\u00a0\u200b\ufeff\u2060\n\u200b", encoding="utf-8")
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"id": "blank-1", "title": "T", "text": "\u200b\u00a0\ufeff"}) + "\n"
                       + json.dumps(article_record("bridge", id="fine")) + "\n", encoding="utf-8")
    result = invoke(data_dir, "add", "--json", str(headline), str(invisible), str(hidden_body), str(records))
    assert result.exit_code == 1
    rows = {r["source"]: r for r in json.loads(result.stdout)}
    assert rows[str(headline)]["status"] == "rejected"
    assert "headline only, no article body" in rows[str(headline)]["reason"]
    assert rows[str(invisible)]["status"] == "rejected"
    assert "only invisible characters" in rows[str(invisible)]["reason"]
    assert "headline only, no article body (the rest holds only invisible characters)" in rows[str(hidden_body)]["reason"]
    assert rows[f"{records}:1"] == {"source": f"{records}:1", "article_id": "blank-1", "status": "rejected",
                                    "chunks": 0, "reason": rows[f"{records}:1"]["reason"]}
    assert "only invisible characters" in rows[f"{records}:1"]["reason"]
    assert rows[f"{records}:2"]["status"] == "added"
    stdin = invoke(data_dir, "add", "--json", "-", "--id", "given-id", input="Only A Headline\n")
    assert stdin.exit_code == 1
    [row] = json.loads(stdin.stdout)
    assert row["article_id"] == "given-id" and row["status"] == "rejected"
    assert [a["id"] for a in json.loads(invoke(data_dir, "list", "--json").stdout)] == ["fine"]


def test_a_chunk_size_above_the_model_limit_is_clamped_with_a_warning(tmp_path: Path, embedder, caplog) -> None:
    import logging

    import index.embedder

    caplog.set_level(logging.WARNING, logger="index.embedder")

    index.embedder._WARNED.clear()
    story = tmp_path / "story.txt"
    story.write_text(f"{TOPICS['bridge'][0]}\n\n{TOPICS['bridge'][1]}", encoding="utf-8")
    result = invoke(tmp_path / "data", "add", str(story), env={"BYLINE_CHUNKING__CHUNK_TOKENS": "300"})
    assert result.exit_code == 0, result.output
    # (the command line prints warnings on stderr as "WARNING index.embedder: ...")
    assert "chunking.chunk_tokens = 300 is above what the embedding model" in caplog.text
    assert "using 254" in caplog.text


def test_html_keeps_paragraphs_and_drops_the_repeated_headline(tmp_path: Path, embedder) -> None:
    from corpus.loaders import ArticleFactory, load_html

    paragraphs = [TOPICS["orchard"][1], "Growers met on Monday, said Ann Lee of the cooperative.",
                  "The next harvest is expected in September."]
    html = article_html("Frost Damages Apple Orchards", paragraphs)
    result = load_html(html.encode(), "page.html", ArticleFactory(), id_origin="page.html")
    assert result.article is not None, result.reason
    assert result.article.title == "Frost Damages Apple Orchards"
    assert result.article.text == "\n\n".join(paragraphs)
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    data_dir = tmp_path / "data"
    [row] = json.loads(invoke(data_dir, "add", "--json", str(path)).stdout)
    shown = json.loads(invoke(data_dir, "show", "--json", row["article_id"]).stdout)
    assert shown["text"] == "\n\n".join(paragraphs)
    assert invoke(data_dir, "verify").exit_code == 0  # chunk offsets agree with the text


def test_remove_accepts_the_url_an_article_was_added_by(tmp_path: Path, http_server, embedder) -> None:
    page = http_server.serve("/news/chess-title", article_html("Teenager Wins National Chess Title",
                                                               [TOPICS["chess"][1]]))
    data_dir = tmp_path / "data"
    [row] = json.loads(invoke(data_dir, "add", "--json", page).stdout)
    result = invoke(data_dir, "remove", page)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"removed  {row['article_id']}"


def test_two_articles_under_one_id_keep_the_first(tmp_path: Path, embedder) -> None:
    """What the README says: the second is rejected naming the first, the first is added."""
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(article_record("bridge", id="same")) + "\n"
                    + json.dumps(article_record("chess", id="same")) + "\n", encoding="utf-8")
    rows = json.loads(invoke(tmp_path / "data", "add", "--json", str(path)).stdout)
    assert [r["status"] for r in rows] == ["added", "rejected"]
    assert f"first from {path}:1, which is kept" in rows[1]["reason"]


@pytest.mark.slow
def test_in_process_add_without_claims_loads_no_spacy_and_no_command_loads_gradio(tmp_path: Path) -> None:
    """``add`` in its own process with ``index.claims = false`` loads the embedding model
    only: no spaCy (claim extraction is what needs it), and no command loads Gradio (a
    fresh interpreter, as a script calling ``byline add`` has)."""
    story = tmp_path / "story.txt"
    story.write_text(f"{TOPICS['bridge'][0]}\n\n{TOPICS['bridge'][1]}", encoding="utf-8")
    data = tmp_path / "data"
    code = ("import sys, runpy\n"
            "def run(*args):\n"
            f"    sys.argv = ['byline', '--data-dir', {str(data)!r}, '--no-server', *args]\n"
            "    try:\n        runpy.run_module('cli', run_name='__main__')\n    except SystemExit as e:\n"
            "        assert not e.code, e.code\n"
            f"run('add', {str(story)!r})\n"
            "print('AFTER-ADD', [m for m in ('spacy', 'gradio') if m in sys.modules])\n"
            "run('list')\n"
            "run('ask', 'Wer ist der Bürgermeister?')\n"
            "print('AFTER-ASK', [m for m in ('gradio',) if m in sys.modules])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYLINE_")}
    env.update(HF_HUB_OFFLINE="1", BYLINE_INDEX__CLAIMS="false", **ENV)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "AFTER-ADD []" in done.stdout and "AFTER-ASK []" in done.stdout


def test_serve_on_a_damaged_store_says_so_without_a_traceback(tmp_path: Path) -> None:
    # A store file this process never opened (SQLite shares open files within a process,
    # so damaging one opened here would not show), overwritten by something else.
    filled = tmp_path / "data"
    filled.mkdir()
    (filled / "byline.sqlite").write_bytes(b"\x00damaged" * 2048)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = invoke(filled, "serve", "--port", str(port), "--no-sample")
    assert result.exit_code == 1
    assert f"cannot serve {filled}" in result.stderr and "not a database" in result.stderr
    assert "restore it from a backup" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
