"""``byline``: the command line (typer). Heavy libraries are imported inside commands so
that ``byline --help`` stays fast."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Byline: ask a news archive; every answer cites exact spans of its articles.")


class State:
    """Options shared by all commands."""

    config_file: Optional[Path] = None
    data_dir: Optional[Path] = None


STATE = State()


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings():  # noqa: ANN201 - config.Settings
    """Settings from --config, BYLINE_* and --data-dir; exits 2 with the reason if invalid."""
    from config.settings import load_settings

    try:
        overrides: dict[str, Any] = {}
        if STATE.data_dir is not None:
            overrides["data_dir"] = STATE.data_dir
        return load_settings(STATE.config_file, **overrides)
    except ValueError as exc:
        _fail(f"invalid settings: {exc}", 2)


def open_archive(create: bool = True, check_embedder: bool = True, migrate: bool = False):  # noqa: ANN201 - index.archive.Archive
    """Open the archive of the configured data dir, or exit 1 with what to do."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from index.base import ArchiveError
    from index.factory import open_backend

    try:
        return open_backend(settings(), create=create, check_embedder=check_embedder, migrate=migrate)
    except (ArchiveError, ValueError) as exc:
        _fail(str(exc))


@app.callback()
def main_options(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Index folder (default: settings, env BYLINE_DATA_DIR)."),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file overriding config/default.toml."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Byline: ask a news archive; every answer cites exact spans of its articles."""
    STATE.data_dir = data_dir
    STATE.config_file = config
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "langchain_text_splitters", "trafilatura"):
        if not verbose:
            logging.getLogger(noisy).setLevel(logging.ERROR)


@app.command()
def add(
    inputs: list[str] = typer.Argument(None, help="Files, folders, http(s) URLs, or - for stdin."),
    feed: list[str] = typer.Option(None, "--feed", help="An RSS/Atom feed URL: add each entry's article."),
    article_id: Optional[str] = typer.Option(None, "--id", help="Article id (only with a single article)."),
    title: Optional[str] = typer.Option(None, "--title", help="Headline (overrides the file's)."),
    source: Optional[str] = typer.Option(None, "--source", help="Outlet name."),
    published: Optional[str] = typer.Option(None, "--published", help="Publication date, YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of results."),
) -> None:
    """Add articles; prints added | unchanged | updated | rejected per article.

    Exit 0 when nothing was rejected, 1 when something was (the rest is still added)."""
    from corpus.loaders import ArticleFactory, Overrides, RejectedInput, load_inputs, parse_date

    inputs = inputs or []
    feed = feed or []
    if not inputs and not feed:
        _fail("nothing to add: give files, folders, URLs, - or --feed URL", 2)
    try:
        date = parse_date(published, "--published") if published else None
    except RejectedInput as exc:
        _fail(str(exc), 2)
    if article_id is not None:
        from corpus.article import validate_article_id

        try:
            validate_article_id(article_id)
        except ValueError as exc:
            _fail(f"--id: {exc}", 2)
    cfg = settings()
    archive = open_archive()
    factory = ArticleFactory(Overrides(id=article_id, title=title, source=source, published=date),
                             max_bytes=cfg.ingest.max_file_bytes)
    loaded = load_inputs(inputs, factory, feeds=feed, timeout=cfg.ingest.http_timeout)
    if article_id is not None:
        loaded = _single_article(loaded)

    def show(result) -> None:  # noqa: ANN001
        if as_json:
            return
        if result.status == "rejected":
            typer.echo(f"rejected  {result.reason}")
        else:
            typer.echo(f"{result.status:<9} {result.article_id}  ({result.chunks} chunk{'' if result.chunks == 1 else 's'})  {result.where}")

    from index.base import ArchiveError

    try:
        results = archive.add(loaded, progress=sys.stderr.isatty() and not as_json, on_result=show)
    except ArchiveError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the index in {archive.data_dir}: {exc.strerror or exc}; nothing of the failed batch was stored")
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing added", err=True)
    raise typer.Exit(1 if any(r.status == "rejected" for r in results) else 0)


def _single_article(loaded):  # noqa: ANN001, ANN202
    """With --id, exactly one article may be loaded; more is a rejection of the extras."""
    from corpus.loaders import LoadResult

    count = 0
    for result in loaded:
        if result.article is not None:
            count += 1
            if count > 1:
                yield LoadResult(result.where, reason=f"{result.where}: --id given, but the inputs hold more than one article")
                continue
        yield result


@app.command()
def remove(article_ids: list[str] = typer.Argument(..., help="Ids of articles to remove, or the files they were added from.")) -> None:
    """Remove articles from every index (by id, or by the file, folder or JSON Lines they were added from)."""
    archive = open_archive(create=False, check_embedder=False)
    from index.base import ArchiveError

    article_ids = _ids_of(archive, article_ids)
    try:
        removed = archive.remove(article_ids)
    except ArchiveError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the index in {archive.data_dir}: {exc.strerror or exc}; nothing was removed")
    for article_id in article_ids:
        typer.echo(f"{'removed' if article_id in removed else 'not found'}  {article_id}")
    raise typer.Exit(0 if len(removed) == len(set(article_ids)) else 1)


def _ids_of(archive, names: list[str]) -> list[str]:  # noqa: ANN001
    """``names`` with every one that is not a stored id but an existing path replaced by the
    ids its articles get when added (the same derivation as ``byline add``)."""
    from corpus.loaders import ArticleFactory, load_inputs

    out: list[str] = []
    for name in names:
        if archive.get(name) is None and Path(name).exists():
            ids = [r.article.id for r in load_inputs([name], ArticleFactory()) if r.article is not None]
            out.extend(ids or [name])
        else:
            out.append(name)
    return out


@app.command(name="list")
def list_articles(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List stored articles, newest first."""
    archive = open_archive(create=False, check_embedder=False)
    articles = archive.list_articles()
    if as_json:
        typer.echo(json.dumps([a.to_dict() for a in articles], ensure_ascii=False, indent=2))
        return
    for a in articles:
        date = a.published.isoformat() if a.published else "          "
        typer.echo(f"{a.id}\t{date}\t{a.source[:30]}\t{a.title[:80]}\t{a.chunks} chunks")
    typer.echo(f"{len(articles)} articles", err=True)


@app.command()
def show(article_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one article."""
    archive = open_archive(create=False, check_embedder=False)
    article = archive.get(article_id)
    if article is None:
        _fail(f"no article with id {article_id!r}")
    if as_json:
        typer.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(article.title)
    meta = " · ".join(x for x in (article.source, article.published.isoformat() if article.published else "", article.url) if x)
    if meta:
        typer.echo(meta)
    typer.echo("")
    typer.echo(article.text)


@app.command()
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts, model and disk use of the index."""
    archive = open_archive(create=False, check_embedder=False)
    result = archive.stats()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    typer.echo(f"data dir      {result.data_dir}")
    typer.echo(f"articles      {result.articles}")
    typer.echo(f"chunks        {result.chunks} (FAISS {result.dense_vectors}, lexical {result.lexical_rows})")
    typer.echo(f"embedder      {result.embedder} ({result.dimension} dimensions), FAISS {result.faiss_type}")
    typer.echo(f"generation    {result.generation}")
    typer.echo(f"disk          {result.disk_bytes / 1e6:.1f} MB")
    for name, count in list(result.sources.items())[:10]:
        typer.echo(f"  {count:>5}  {name or '(no outlet)'}")


@app.command()
def verify() -> None:
    """Check that the article store, FAISS and the lexical index agree."""
    archive = open_archive(create=False, check_embedder=False)
    problems = archive.verify()
    if problems:
        for p in problems:
            typer.echo(f"problem: {p}", err=True)
        typer.echo("repair with: byline rebuild", err=True)
        raise typer.Exit(1)
    s = archive.stats()
    where = "Milvus" if archive.settings.index.backend == "milvus" else "SQLite, FAISS and the lexical index"
    typer.echo(f"ok: {s.articles} articles, {s.chunks} chunks agree in {where}")


@app.command()
def rebuild() -> None:
    """Re-chunk and re-embed every article (after changing the model or chunk sizes, or to repair)."""
    archive = open_archive(create=False, check_embedder=False, migrate=True)
    from index.base import ArchiveError

    try:
        chunks = archive.rebuild(progress=sys.stderr.isatty())
    except ArchiveError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"could not write the index in {archive.data_dir}: {exc.strerror or exc}")
    typer.echo(f"rebuilt: {len(archive.list_articles())} articles, {chunks} chunks")


def _filters(source: Optional[str], since: Optional[str], until: Optional[str]):  # noqa: ANN202
    from index.base import SearchFilters

    try:
        return SearchFilters.from_mapping({"source": source, "since": since, "until": until})
    except ValueError as exc:
        _fail(str(exc).replace("filters.", "--"), 2)


def _with_reader(cfg, reader: Optional[str]):  # noqa: ANN001, ANN202 - config.Settings
    """``cfg`` with ``reader.name`` replaced by ``--reader`` (unchanged when None); exits 2
    for an unknown name."""
    if reader is None:
        return cfg
    from retrieval.readers import READERS

    if reader not in READERS:
        _fail(f"--reader: {reader!r} is not one of {', '.join(READERS)}", 2)
    return cfg.model_copy(update={"reader": cfg.reader.model_copy(update={"name": reader})})


READER_HELP = "Answer backend: offline | offline-rules | transformers | llm (default: settings reader.name)."


def _print_answer(answer) -> None:  # noqa: ANN001
    typer.echo(answer.text)
    for c in answer.citations:
        typer.echo(f"  [{c.n}] {c.title} ({c.article_id}, chars {c.start}-{c.end})")
    if not answer.abstained:
        typer.echo(f"  confidence {answer.confidence:.2f}")


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
    """Answer a question from the archive, with citations of exact article spans."""
    from retrieval.pipeline import QAPipeline

    filters = _filters(source, since, until)
    archive = open_archive()
    pipeline = QAPipeline(archive, _with_reader(archive.settings, reader))
    try:
        answer = pipeline.ask(question, filters=filters, k=k)
    except ValueError as exc:
        _fail(str(exc), 2)
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)


@app.command()
def chat(
    source: Optional[str] = typer.Option(None, "--source", help="Only articles of this outlet."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles published on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles published on or before YYYY-MM-DD."),
) -> None:
    """An interactive multi-turn prompt; follow-up questions use the conversation.
    Type /new to start a new conversation, /quit (or Ctrl-D) to leave."""
    from retrieval.pipeline import QAPipeline

    filters = _filters(source, since, until)
    archive = open_archive()
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
        _print_answer(answer)
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

    cfg = _with_reader(settings(), reader)
    try:
        gold = read_questions(questions, corpus, limit, split=split)
    except ValueError as exc:
        _fail(str(exc), 2)
    if not gold:
        _fail(f"no questions in {questions}" + (f" for corpus {corpus!r}" if corpus else ""), 2)
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
            _fail(str(exc), 2)
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


@app.command()
def migrate(
    to: str = typer.Option(..., "--to", help="Target backend: milvus (index.milvus.* settings)."),
    source_dir: Optional[Path] = typer.Option(None, "--from", help="Embedded index folder (default: data_dir)."),
) -> None:
    """Copy the embedded index (SQLite + FAISS) into Milvus without re-embedding.

    Reads chunk offsets and vectors from the SQLite store; articles already in Milvus with
    the same content stay unchanged, so an interrupted migration is finished by re-running it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if to != "milvus":
        _fail(f"--to: {to!r} is not a backend to migrate to (milvus)", 2)
    from index.archive import Archive
    from index.base import ArchiveError
    from index.milvus import MilvusArchive

    cfg = settings()
    try:
        source = Archive.open(cfg, data_dir=source_dir, create=False, check_embedder=False)
        target = MilvusArchive.open(cfg, check_embedder=False)
        results = target.import_embedded(source, progress=sys.stderr.isatty())
        problems = target.verify()
    except ArchiveError as exc:
        _fail(str(exc))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    typer.echo(f"migrated {source.data_dir} to Milvus {target.uri} ({target.prefix}_*): "
               + (", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to migrate")
               + f", {sum(r.chunks for r in results)} chunks copied")
    for p in problems:
        typer.echo(f"problem: {p}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo('set index.backend = "milvus" (with the same index.milvus settings) to serve from Milvus', err=True)


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Interface (default 127.0.0.1; 0.0.0.0 only when asked)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 7860)."),
    root_path: Optional[str] = typer.Option(None, "--root-path", help="Sub-path behind a reverse proxy, e.g. /qa."),
    sample: bool = typer.Option(True, "--sample/--no-sample", help="Build the sample index on first run."),
) -> None:
    """Serve the browser chat, the HTTP API and the widget."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import app as web_app

    cfg = settings()
    web_app.serve(cfg, host=host, port=port, root_path=root_path, build_sample=sample)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
