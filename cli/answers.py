"""``byline ask | chat | eval``: questions answered from the archive.

``ask`` goes through a running ``byline serve`` of the same archive when there is one
(and ``--reader`` is not another reader than the server's), else loads the models here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

from cli.common import app, ask_server, empty_archive_message, fail, open_archive, search_filters, settings

READER_HELP = "Answer backend: offline | offline-rules | transformers | llm (default: settings reader.name)."


def with_reader(cfg, reader: Optional[str]):  # config.Settings
    """``cfg`` with ``reader.name`` replaced by ``--reader`` (unchanged when None); exits 2
    for an unknown name."""
    if reader is None:
        return cfg
    from retrieval.readers import READERS

    if reader not in READERS:
        fail(f"--reader: {reader!r} is not one of {', '.join(READERS)}", 2)
    return cfg.model_copy(update={"reader": cfg.reader.model_copy(update={"name": reader})})


def print_answer(answer: dict[str, Any]) -> None:
    """The answer object (``Answer.to_dict()``) as text: the reply, its citations and,
    when answered, the confidence."""
    typer.echo(answer["text"])
    for c in answer["citations"]:
        typer.echo(f"  [{c['n']}] {c['title']} ({c['article_id']}, chars {c['start']}-{c['end']})")
    if not answer["abstained"]:
        typer.echo(f"  confidence {answer['confidence']:.2f}")


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer object as JSON."),
    k: Optional[int] = typer.Option(None, "--k", min=1, help="Passages to retrieve (default: settings)."),
    source: Optional[str] = typer.Option(None, "--source", help="Only articles of this outlet."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles published on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles published on or before YYYY-MM-DD."),
    reader: Optional[str] = typer.Option(None, "--reader", help=READER_HELP),
) -> None:
    """Answer a question from the archive, with citations of exact article spans.

    Exit 1 when the archive is missing or empty, 2 for an invalid question or option."""
    filters = search_filters(source, since, until)
    cfg = settings()
    answer = None
    if reader is None or reader == cfg.reader.name:
        answer = _ask_server(cfg, question, {"source": source, "since": since, "until": until}, k)
    if answer is None:
        from retrieval.pipeline import QAPipeline

        archive = open_archive(create=False)
        if archive.count() == 0:
            fail(empty_archive_message(archive.data_dir))
        pipeline = QAPipeline(archive, with_reader(archive.settings, reader))
        try:
            answer = pipeline.ask(question, filters=filters, k=k).to_dict()
        except ValueError as exc:
            fail(str(exc), 2)
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        print_answer(answer)


def _ask_server(cfg, question: str, filters: dict[str, Any], k: Optional[int]) -> dict[str, Any] | None:
    """The answer from the running server of this archive, or None when there is none."""
    return ask_server(cfg, lambda remote: remote.ask(
        question, filters={k_: v for k_, v in filters.items() if v} or None, k=k))


@app.command()
def chat(
    source: Optional[str] = typer.Option(None, "--source", help="Only articles of this outlet."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles published on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles published on or before YYYY-MM-DD."),
) -> None:
    """An interactive multi-turn prompt; follow-up questions use the conversation.
    Type /new to start a new conversation, /quit (or Ctrl-D) to leave."""
    from retrieval.pipeline import QAPipeline

    filters = search_filters(source, since, until)
    archive = open_archive(create=False)
    if archive.count() == 0:
        fail(empty_archive_message(archive.data_dir))
    pipeline = QAPipeline(archive, archive.settings)
    history: list[tuple[str, str]] = []
    typer.echo("Ask about the archive. /new starts over, /quit leaves.", err=True)
    while True:
        try:
            question = input("? ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo("", err=True)
            return
        if not question:
            continue
        if question in {"/quit", "/exit"}:
            return
        if question == "/new":
            history.clear()
            typer.echo("(new conversation)", err=True)
            continue
        try:
            answer = pipeline.ask(question, history=history, filters=filters)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            continue
        print_answer(answer.to_dict())
        history.append((question, answer.answer or ""))


@app.command(name="eval")
def evaluate(
    questions: Path = typer.Option(..., "--questions", exists=True, dir_okay=False, help="Questions JSONL with gold answer spans."),
    articles: Optional[List[Path]] = typer.Option(None, "--articles", exists=True, dir_okay=False,
                                                  help="Articles JSONL to index (repeatable; all of them go into one "
                                                       "index, the rest are distractors)."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Only questions of this corpus (news, wikipedia)."),
    split: Optional[str] = typer.Option(None, "--split",
                                        help="Only dev questions of this split by article: train | calib | heldout "
                                             "(the trained reader learned from train and was calibrated on calib)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N questions."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    dump: Optional[Path] = typer.Option(None, "--dump", help="Write one JSON line per question here."),
    index_dir: Optional[Path] = typer.Option(None, "--index-dir",
                                             help="Keep the evaluation index here and reuse it (default: a temp dir)."),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="Also report BM25-only and dense-only retrieval."),
    reader: Optional[str] = typer.Option(None, "--reader", help=READER_HELP),
) -> None:
    """Measure retrieval (recall@k, MRR) and answers (EM, F1, evidence, abstention, latency)."""
    import tempfile

    from corpus.loaders import ArticleFactory, load_inputs
    from index.factory import open_backend
    from retrieval.evaluation import QAEvaluator, read_questions
    from retrieval.pipeline import QAPipeline

    cfg = with_reader(settings(), reader)
    try:
        gold = read_questions(questions, corpus, limit, split=split)
    except ValueError as exc:
        fail(str(exc), 2)
    if not gold:
        fail(f"no questions in {questions}" + (f" for corpus {corpus!r}" if corpus else ""), 2)
    with tempfile.TemporaryDirectory(prefix="byline-eval-") as tmp:
        if articles:
            data_dir = index_dir or Path(tmp)
            # The evaluation index is private: with backend "milvus" it is a Milvus Lite
            # file in data_dir, never the configured archive's collections.
            eval_cfg = cfg.model_copy(update={"index": cfg.index.model_copy(
                update={"milvus": cfg.index.milvus.model_copy(update={"uri": ""})})})
            archive = open_backend(eval_cfg, data_dir=data_dir)
            factory = ArticleFactory(max_bytes=cfg.ingest.max_file_bytes)
            results = archive.add(load_inputs([str(a) for a in articles], factory), progress=sys.stderr.isatty())
            rejected = [r for r in results if r.status == "rejected"]
            for r in rejected[:5]:
                typer.echo(f"rejected  {r.reason}", err=True)
        else:
            archive = open_archive(create=False)
        pipeline = QAPipeline(archive, cfg)
        evaluator = QAEvaluator(gold, baselines=baselines)
        try:
            metrics = evaluator.run(pipeline)
        except ValueError as exc:  # e.g. a reader whose model is not configured
            fail(str(exc), 2)
        if dump is not None:
            with dump.open("w", encoding="utf-8") as handle:
                for row in evaluator.dump:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    for key, value in metrics.items():
        if key == "baselines":
            for name, values in value.items():
                typer.echo(f"retrieval {name:<7} " + "  ".join(f"{k} {v}" for k, v in values.items()))
        elif key != "reliability":
            typer.echo(f"{key:<18} {value}")
