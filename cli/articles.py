"""``byline add | remove | list | show | stats | verify | rebuild``.

``add``, ``remove`` and ``list`` go through a running ``byline serve`` of the same
archive when there is one (:mod:`cli.remote`), else run in this process; ``add`` then
loads the embedding model but never spaCy or Gradio.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from cli.common import STATE, app, fail, open_archive, settings


def writable_target(create: bool) -> Any:
    """The running server of this archive (:class:`cli.remote.RemoteArchive`), or the
    archive opened in this process (``create``: make it when missing; exits 1 otherwise)."""
    cfg = settings()
    from cli.remote import find_server

    remote = find_server(cfg, no_server=STATE.no_server)
    if remote is not None:
        return remote
    return open_archive(create=create, check_embedder=create)


def chunk_label(n: int) -> str:
    """``1 chunk`` / ``3 chunks``."""
    return f"{n} chunk{'' if n == 1 else 's'}"


@app.command()
def add(
    inputs: list[str] = typer.Argument(None, help="Files, folders, http(s) URLs, or - for stdin."),
    feed: list[str] = typer.Option(None, "--feed", help="An RSS/Atom feed URL: add each entry's article."),
    article_id: Optional[str] = typer.Option(None, "--id", help="Article id (only with a single article)."),
    title: Optional[str] = typer.Option(None, "--title", help="Headline (overrides the file's)."),
    source: Optional[str] = typer.Option(None, "--source", help="Outlet name."),
    published: Optional[str] = typer.Option(None, "--published", help="Publication date, YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of results."),
    watch: Optional[Path] = typer.Option(None, "--watch", help="Keep adding new and changed files of this folder "
                                                                "(until Ctrl-C)."),
    interval: float = typer.Option(2.0, "--interval", min=0.1, help="With --watch: seconds between looks."),
) -> None:
    """Add articles; prints added | unchanged | updated | rejected per article.

    Exit 0 when nothing was rejected, 1 when something was (the rest is still added),
    2 on usage errors."""
    from corpus.loaders import ArticleFactory, Overrides, RejectedInput, load_inputs, parse_date

    inputs = inputs or []
    feed = feed or []
    if not inputs and not feed and watch is None:
        fail("nothing to add: give files, folders, URLs, - or --feed URL", 2)
    if watch is not None and not watch.is_dir():
        fail(f"--watch: {watch} is not a folder", 2)
    try:
        date = parse_date(published, "--published") if published else None
    except RejectedInput as exc:
        fail(str(exc), 2)
    if article_id is not None:
        from corpus.article import validate_article_id

        try:
            validate_article_id(article_id)
        except ValueError as exc:
            fail(f"--id: {exc}", 2)
        if watch is not None:
            fail("--id cannot be used with --watch (each file is its own article)", 2)
    cfg = settings()
    target = writable_target(create=True)
    factory = ArticleFactory(Overrides(id=article_id, title=title, source=source, published=date),
                             max_bytes=cfg.ingest.max_file_bytes)
    rejected = False
    if inputs or feed:
        loaded = load_inputs(inputs, factory, feeds=feed, timeout=cfg.ingest.http_timeout)
        if article_id is not None:
            loaded = _single_article(loaded)
        results = run_add(target, loaded, as_json=as_json)
        rejected = any(r.status == "rejected" for r in results)
    if watch is not None:
        from cli.watch import watch_folder

        typer.echo(f"watching {watch} for new and changed files every {interval:g} s (Ctrl-C to stop)", err=True)
        watch_folder(watch, lambda paths: run_add(target, load_inputs([str(p) for p in paths], factory),
                                                  as_json=as_json), interval=interval)
    raise typer.Exit(1 if rejected else 0)


def run_add(target: Any, loaded: Any, *, as_json: bool) -> list[Any]:
    """Add ``loaded`` (loader results) to ``target`` and print the results: one line per
    article as it is decided, then the counts on stderr (or, with ``as_json``, the JSON
    list). Exits 1 with the reason when the index cannot be written."""
    from cli.remote import RemoteArchive, RemoteError
    from index.base import ArchiveError

    def show(result: Any) -> None:
        if as_json:
            return
        if result.status == "rejected":
            typer.echo(f"rejected  {result.reason}")
        else:
            typer.echo(f"{result.status:<9} {result.article_id}  ({chunk_label(result.chunks)})  {result.where}")

    try:
        results = target.add(loaded, progress=sys.stderr.isatty() and not as_json, on_result=show)
    except (ArchiveError, RemoteError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write the index in {target.data_dir}: {exc.strerror or exc}; nothing of the failed batch was stored")
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        via = f" (through the server at {target.url})" if isinstance(target, RemoteArchive) else ""
        typer.echo((", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing added") + via, err=True)
    return results


def _single_article(loaded):
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
def remove(article_ids: list[str] = typer.Argument(..., help="Ids of articles to remove, or the files or URLs "
                                                             "they were added from.")) -> None:
    """Remove articles by id, or by the file, folder or URL they were added from.

    Exit 1 when one of them was not found."""
    from cli.remote import RemoteError
    from index.base import ArchiveError

    target = writable_target(create=False)
    try:
        article_ids = ids_of(target, article_ids)
        removed = target.remove(article_ids)
    except (ArchiveError, RemoteError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write the index in {target.data_dir}: {exc.strerror or exc}; nothing was removed")
    for article_id in article_ids:
        typer.echo(f"{'removed' if article_id in removed else 'not found'}  {article_id}")
    raise typer.Exit(0 if len(removed) == len(set(article_ids)) else 1)


def ids_of(archive: Any, names: list[str]) -> list[str]:
    """``names`` with every one that is not a stored id replaced by the ids of what it
    names: an existing path gets the ids its articles get when added (the derivation of
    ``byline add``); an ``http(s)://`` URL gets the stored articles with that URL, or
    the id ``byline add URL`` derives."""
    import re

    from corpus.loaders import ArticleFactory, derive_id, load_inputs, url_hint

    out: list[str] = []
    by_url: dict[str, list[str]] | None = None
    for name in names:
        if archive.get(name) is not None:
            out.append(name)
        elif re.match(r"^https?://", name, re.I):
            if by_url is None:
                by_url = {}
                for a in archive.list_articles():
                    if a.url:
                        by_url.setdefault(a.url, []).append(a.id)
            out.extend(by_url.get(name) or [derive_id(name, url_hint(name))])
        elif Path(name).exists():
            ids = [r.article.id for r in load_inputs([name], ArticleFactory()) if r.article is not None]
            out.extend(ids or [name])
        else:
            out.append(name)
    return out


@app.command(name="list")
def list_articles(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List stored articles, newest first."""
    from cli.remote import RemoteError

    target = writable_target(create=False)
    try:
        articles = target.list_articles()
    except RemoteError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([a.to_dict() for a in articles], ensure_ascii=False, indent=2))
        return
    for a in articles:
        date = a.published.isoformat() if a.published else "          "
        typer.echo(f"{a.id}\t{date}\t{a.source[:30]}\t{a.title[:80]}\t{chunk_label(a.chunks)}")
    typer.echo(f"{len(articles)} article{'' if len(articles) == 1 else 's'}"
               + (f" (the archive in {target.data_dir} is empty: add articles with `byline add FILE...`)"
                  if not articles else ""), err=True)


@app.command()
def show(article_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one article."""
    archive = open_archive(create=False, check_embedder=False)
    article = archive.get(article_id)
    if article is None:
        fail(f"no article with id {article_id!r} in {archive.data_dir}")
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
        if all("rebuilt" in p for p in problems):
            # Only derived indexes were damaged, and verify has rebuilt them from the store.
            typer.echo("the derived indexes above were rebuilt from the store; run `byline verify` again to "
                       "confirm", err=True)
        else:
            typer.echo("repair with: byline rebuild", err=True)
        raise typer.Exit(1)
    s = archive.stats()
    where = "Milvus" if archive.settings.index.backend == "milvus" else "SQLite, FAISS and the lexical index"
    claims = f"; {s.claims} claims, every span exact" if s.claims else ""
    typer.echo(f"ok: {s.articles} articles, {s.chunks} chunks agree in {where}{claims}")


@app.command()
def rebuild() -> None:
    """Re-chunk and re-embed every article (after changing the model or chunk sizes, or to repair)."""
    archive = open_archive(create=False, check_embedder=False, migrate=True)
    from index.base import ArchiveError

    try:
        chunks = archive.rebuild(progress=sys.stderr.isatty())
    except ArchiveError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"could not write the index in {archive.data_dir}: {exc.strerror or exc}")
    typer.echo(f"rebuilt: {len(archive.list_articles())} articles, {chunks} chunks")

