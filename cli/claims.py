"""``byline claims``: search the archive's attributed claims (who said, estimated,
warned what), ranked by relevance of their content to a query (:mod:`retrieval.claims`).

Asks the running ``byline serve`` of the archive when there is one (its models are loaded:
about a second), else searches in process (loads the embedding model; spaCy is not needed
to search). ``--no-server`` forces the second.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from cli.common import app, ask_server, empty_archive_message, fail, open_archive, search_filters, settings


@app.command()
def claims(
    query: str = typer.Argument(..., help="What the claims should be about."),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="Only claims whose speaker (name as written or "
                                          "resolved, or role) contains this, case-insensitive."),
    since: Optional[str] = typer.Option(None, "--since", help="Only articles published on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="Only articles published on or before YYYY-MM-DD."),
    source: Optional[str] = typer.Option(None, "--source", help="Only articles of this outlet."),
    k: int = typer.Option(10, "--k", min=1, max=100, help="Claims to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {query, claims: [...]}."),
) -> None:
    """List attributed claims about QUERY: speaker, role, cue, content, figures, date and
    citation (article id + exact span); claims about the same quantity side by side.

    Exit 1 when the archive is missing or empty, 2 for an invalid option."""
    filters = search_filters(source, since, until)
    found = _claims_server(query, speaker, {"source": source, "since": since, "until": until}, k)
    if found is None:
        found = _claims_in_process(query, speaker, filters, k)
    if as_json:
        typer.echo(json.dumps({"query": query, "claims": found}, ensure_ascii=False, indent=2))
        return
    if not found:
        typer.echo("no claims found", err=True)
        return
    group = None
    for h in found:
        if h["group"] != group:
            group = h["group"]
            typer.echo(f"-- group {group}" + (": the figures differ" if h.get("figures_differ") else ""))
        who = h["speaker"] + (f" ({h['role']})" if h.get("role") else "")
        figures = f"  [figures: {', '.join(f['text'] for f in h['figures'])}]" if h["figures"] else ""
        cite = h["citation"]
        typer.echo(f"{who}, {h.get('date') or 'no date'}, {h['cue']}: {h['content']}{figures}")
        typer.echo(f"    {cite['title']} ({cite['article_id']}, chars {cite['start']}-{cite['end']})")


def _claims_server(query: str, speaker: Optional[str], filters: dict[str, Any], k: int) -> list[dict] | None:
    """The claims from the running server of this archive, or None when there is none."""
    found = ask_server(settings(), lambda remote: remote.claims(
        query, speaker=speaker, filters={k_: v for k_, v in filters.items() if v} or None, k=k))
    return None if found is None else found["claims"]


def _claims_in_process(query: str, speaker: Optional[str], filters, k: int) -> list[dict]:
    """``search_claims`` over the archive opened here, as dicts (``ClaimHit.to_dict``)."""
    from index.base import ArchiveError
    from retrieval.claims import search_claims

    archive = open_archive(create=False)
    if not archive.list_articles():
        fail(empty_archive_message(archive.data_dir))
    try:
        return [h.to_dict() for h in search_claims(archive, archive.embedder, query, k=k, speaker=speaker,
                                                   filters=filters)]
    except ValueError as exc:
        fail(str(exc), 2)
    except ArchiveError as exc:
        fail(str(exc))
