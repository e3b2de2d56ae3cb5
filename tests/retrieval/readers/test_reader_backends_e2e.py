"""All three readers end to end: QAPipeline.ask/stream over a real archive, and
``byline ask/eval --reader ...``. Slow: they load MiniLM (and spaCy for the offline reader)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from llm_fake_server import FakeLLM
from retrieval.readers.llm import REWRITE_PROMPT
from tiny_qa_model import build_tiny_qa_model

pytestmark = pytest.mark.slow

COST = "twelve million dollars"
# As tests/conftest.py's TEST_CHUNKING (not imported: tests/browser has a conftest.py too,
# so "from conftest import ..." depends on collection order).
CHUNKING = {"chunk_tokens": 32, "overlap_tokens": 8}
REWRITTEN = "How much did the harbour bridge repairs cost?"


def cite_cost(body: dict) -> str:
    """The fake model: rewrites follow-ups, and cites whichever passage mentions the cost."""
    system, user = body["messages"][0]["content"], body["messages"][-1]["content"]
    if system == REWRITE_PROMPT:
        return REWRITTEN
    if "Question: How much" not in user:
        return "NOT FOUND"
    for n, text in re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, flags=re.S):
        if COST in text:
            return (f"Answer: {COST} [{n}]\nThe council said \"the work cost {COST}\" [{n}], "
                    f"while \"ferry operators reported fewer passengers\" [{n}].")
    return "NOT FOUND"


@pytest.fixture
def llm():
    fake = FakeLLM().start()
    fake.reply = cite_cost
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qa_model(tmp_path_factory.mktemp("tiny-qa"))


@pytest.fixture
def pipeline_for(make_settings, make_article, embedder):
    from index.archive import Archive
    from retrieval.pipeline import QAPipeline

    opened = []

    def build(**reader: object) -> QAPipeline:
        cfg = make_settings(reader=reader)
        archive = Archive.open(cfg, embedder=embedder)
        opened.append(archive)
        archive.add([make_article(t, id=t) for t in ("bridge", "orchard", "chess", "volcano")])
        return QAPipeline(archive, cfg)

    yield build
    for archive in opened:
        archive.store.close()


def assert_verified(answer, pipeline) -> None:
    texts = pipeline.backend.texts({c.article_id for c in answer.citations})
    for c in answer.citations:
        assert texts[c.article_id][c.start:c.end] == c.quote


def test_llm_pipeline_ask_and_stream(pipeline_for, llm) -> None:
    pipeline = pipeline_for(name="llm", llm={"base_url": llm.base_url, "model": "m"})
    answer = pipeline.ask("How much did the bridge repairs cost?")
    assert not answer.abstained and answer.answer == COST
    assert answer.text.startswith(f"{COST} [1]") and "[2]" in answer.text
    assert len(answer.citations) == 2
    assert_verified(answer, pipeline)
    events = list(pipeline.stream("How much did the bridge repairs cost?"))
    # The LLM's own tokens are unverified: they come as drafts, never as answer deltas.
    assert not [v for k, v in events if k == "delta"]
    drafts = [v for k, v in events if k == "draft"]
    assert len(drafts) > 5 and "".join(drafts).startswith(f"Answer: {COST}")
    kind, final = events[-1]
    assert kind == "answer" and final.to_dict() == answer.to_dict()


def test_llm_rewrites_follow_ups(pipeline_for, llm) -> None:
    pipeline = pipeline_for(name="llm", llm={"base_url": llm.base_url, "model": "m"})
    answer = pipeline.ask("And how much did it cost?", history=[("When did the bridge reopen?", "Thursday")])
    assert answer.standalone_question == REWRITTEN and answer.answer == COST


def test_llm_endpoint_down_gives_the_offline_answer(pipeline_for, llm) -> None:
    llm.mode, llm.status = "status", 500
    pipeline = pipeline_for(name="llm", llm={"base_url": llm.base_url, "model": "m"})
    answer = pipeline.ask("How much did the bridge repairs cost?")
    assert "offline reader" in answer.text and "HTTP 500" in answer.text
    assert_verified(answer, pipeline)
    events = list(pipeline.stream("How much did the bridge repairs cost?"))
    assert events[-1][0] == "answer" and "offline reader" in events[-1][1].text


def test_transformers_pipeline_cites_exact_spans(pipeline_for, tiny_model) -> None:
    pipeline = pipeline_for(name="transformers", abstain_threshold=0.0,
                            transformers={"model": str(tiny_model), "max_seq_length": 64, "doc_stride": 16})
    answer = pipeline.ask("How much did the bridge repairs cost?")
    assert not answer.abstained and answer.citations
    assert_verified(answer, pipeline)
    strict = pipeline_for(name="transformers", abstain_threshold=0.9, transformers={"model": str(tiny_model)})
    assert strict.ask("How much did the bridge repairs cost?").abstained  # confidence 0.5 < 0.9


# -- the command line -------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder):
    monkeypatch.setenv("BYLINE_CHUNKING__CHUNK_TOKENS", str(CHUNKING["chunk_tokens"]))
    monkeypatch.setenv("BYLINE_CHUNKING__OVERLAP_TOKENS", str(CHUNKING["overlap_tokens"]))
    data_dir = tmp_path / "data"
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli.app, ["--data-dir", str(data_dir), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def write_corpus(tmp_path: Path, make_article) -> tuple[Path, Path]:
    articles = tmp_path / "articles.jsonl"
    records = []
    for topic in ("bridge", "orchard", "chess", "volcano"):
        a = make_article(topic, id=topic)
        records.append({"id": a.id, "title": a.title, "text": a.text, "source": a.source,
                        "published": "2024-03-14", "url": f"https://news.example/{topic}"})
    articles.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    bridge = records[0]["text"]
    questions = [
        {"id": "q1", "article_id": "bridge", "question": "How much did the bridge repairs cost?",
         "answers": [{"text": COST, "start": bridge.index(COST)}], "answerable": True, "corpus": "news"},
        {"id": "q2", "article_id": None, "question": "Who won the football cup final?", "answers": [],
         "answerable": False, "corpus": "news"},
    ]
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    return articles, qfile


def test_cli_ask_with_each_reader(run, tmp_path: Path, llm, tiny_model, monkeypatch, make_article) -> None:
    articles, _ = write_corpus(tmp_path, make_article)
    assert run("add", str(articles)).exit_code == 0
    monkeypatch.setenv("BYLINE_READER__LLM__BASE_URL", llm.base_url)
    monkeypatch.setenv("BYLINE_READER__LLM__MODEL", "m")
    result = run("ask", "--json", "--reader", "llm", "How much did the bridge repairs cost?")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == COST
    result = run("ask", "--reader", "transformers", "How much did the bridge repairs cost?")
    assert result.exit_code == 2 and "reader.transformers.model is empty" in result.stderr
    monkeypatch.setenv("BYLINE_READER__TRANSFORMERS__MODEL", str(tiny_model))
    result = run("ask", "--json", "--reader", "transformers", "How much did the bridge repairs cost?")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) >= {"answer", "citations", "confidence"}
    result = run("ask", "--reader", "offline", "How much did the bridge repairs cost?")
    assert result.exit_code == 0, result.output
    result = run("ask", "--reader", "gpt", "How much?")
    assert result.exit_code == 2 and "--reader" in result.stderr


def test_cli_eval_reports_the_same_metrics_for_every_reader(run, tmp_path: Path, llm, tiny_model,
                                                             monkeypatch, make_article) -> None:
    articles, questions = write_corpus(tmp_path, make_article)
    monkeypatch.setenv("BYLINE_READER__LLM__BASE_URL", llm.base_url)
    monkeypatch.setenv("BYLINE_READER__LLM__MODEL", "m")
    monkeypatch.setenv("BYLINE_READER__TRANSFORMERS__MODEL", str(tiny_model))
    keys = {}
    for reader in ("offline", "transformers", "llm"):
        result = run("eval", "--questions", str(questions), "--articles", str(articles), "--json",
                     "--no-baselines", "--reader", reader)
        assert result.exit_code == 0, result.output
        metrics = json.loads(result.stdout)
        keys[reader] = set(metrics)
        assert metrics["n"] == 2
        if reader == "llm":
            assert metrics["em"] == 1.0 and metrics["abstain_recall"] == 1.0
    assert keys["offline"] == keys["transformers"] == keys["llm"]
