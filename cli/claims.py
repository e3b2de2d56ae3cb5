"""``byline claims``: search the archive's attributed claims (who said, estimated,
warned what), ranked by relevance of their content to a query (:mod:`retrieval.claims`).

Runs in process (loads the embedding model; spaCy is not needed to search).
"""

from __future__ import annotations

import json
from typing import Optional

import typer

from cli.common import app, empty_archive_message, fail, open_archive, search_filters


@app.command()
def claims(
    query: str = typer.Argument(..., help="What the claims should be about."),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="Only claims whose speaker (name as written or "
                                          "resolved, or role) contains this, case-insensitive."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles published on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles published on or before YYYY-MM-DD."),
    source: Optional[str] = typer.Option(None, "--source", help="Only articles of this outlet."),
    k: int = typer.Option(10, "--k", min=1, max=200, help="Claims to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {query, claims: [...]}."),
) -> None:
    """List attributed claims about QUERY: speaker, role, cue, content, figures, date and
    citation (article id + exact span); claims about the same quantity side by side.

    Exit 1 when the archive is missing or empty, 2 for an invalid option."""
    from index.base import ArchiveError
    from retrieval.claims import search_claims

    filters = search_filters(source, since, until)
    archive = open_archive(create=False)
    if not archive.list_articles():
        fail(empty_archive_message(archive.data_dir))
    try:
        hits = search_claims(archive, archive.embedder, query, k=k, speaker=speaker, filters=filters)
    except ValueError as exc:
        fail(str(exc), 2)
    except ArchiveError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"query": query, "claims": [h.to_dict() for h in hits]}, ensure_ascii=False, indent=2))
        return
    if not hits:
        typer.echo("no claims found", err=True)
        return
    group = None
    for h in hits:
        c = h.claim
        if h.group != group:
            group = h.group
            typer.echo(f"-- group {group}")
        who = c.speaker_name + (f" ({c.role.text})" if c.role else "")
        date = h.published.isoformat() if h.published else "no date"
        figures = f"  [figures: {', '.join(f.text for f in c.figures)}]" if c.figures else ""
        typer.echo(f"{who}, {date}, {c.cue.text}: {c.content.text}{figures}")
        typer.echo(f"    {h.title} ({h.article_id}, chars {c.content.start}-{c.content.end})")
