"""The chat's Claims view: who said, estimated or warned what about the current question's
topic (``/api/claims`` hits, :meth:`web.service.QAService.claims`), claims about the same
quantity shown together, each a link that opens its article with the claim's content
highlighted (the same ``#byline-cite:`` target as a citation, so the source panel's
click handling and highlight are reused).

Every field comes from an article and goes through :func:`web.render.esc`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from web.render import cite_ref, esc
from web.service import RequestError

NO_CLAIMS_STORED = "This archive stores no attributed claims, so there is nothing to list here."
NOT_YET = "Ask a question: who said, estimated or warned what about its topic is listed here."


def group_runs(hits: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The hits as groups in their order: every hit of one ``group`` id, gathered at the
    place of its first member (``search_claims`` lists a group's members together)."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for hit in hits:
        groups.setdefault(hit.get("group", id(hit)), []).append(hit)
    return list(groups.values())


def figures_differ(group: Sequence[Mapping[str, Any]]) -> bool:
    """The group's ``figures_differ`` flag, set once by :func:`retrieval.claims.group_claims`."""
    return any(bool(h.get("figures_differ")) for h in group)


def claim_item_html(hit: Mapping[str, Any]) -> str:
    """One claim as a list item: a link (to the content span in its article) with the
    speaker, role, cue, content in quotes, figures, and date and outlet; escaped."""
    cite = hit.get("citation") or {}
    speaker = esc(hit.get("speaker") or "Unnamed source")
    role = f'<span class="byline-claim-role">, {esc(hit["role"])}</span>' if hit.get("role") else ""
    figures = [str(f.get("text")) for f in hit.get("figures") or [] if f.get("text")]
    figs = ('<span class="byline-claim-figures">' + "".join(f'<span class="byline-figure">{esc(f)}</span>'
                                                             for f in figures) + "</span>") if figures else ""
    where = ", ".join(str(x) for x in (cite.get("source"), hit.get("date")) if x)
    try:
        href = cite_ref(str(cite["article_id"]), int(cite["start"]), int(cite["end"]))
    except (KeyError, TypeError, ValueError):
        href = ""
    body = (f'<span class="byline-claim-speaker">{speaker}</span>{role} '
            f'<span class="byline-claim-cue">{esc(hit.get("cue") or "")}</span> '
            f'<span class="byline-claim-content">“{esc(" ".join(str(hit.get("content") or "").split()))}”</span>'
            + figs + (f'<span class="byline-claim-where">{esc(where)}</span>' if where else ""))
    inner = (f'<a class="byline-claim-link" href="{href}" title="Open the article with this claim highlighted">'
             f"{body}</a>") if href else body
    return (f'<li class="byline-claim" data-group="{esc(hit.get("group", ""))}" '
            f'data-article="{esc(cite.get("article_id", ""))}">{inner}</li>')


def claims_html(hits: Sequence[Mapping[str, Any]] | None, query: str = "") -> str:
    """The Claims view for ``hits`` (``ClaimHit.to_dict()`` dicts, as ranked and grouped by
    ``search_claims``) about ``query``: one list; claims about the same quantity are boxed
    together, labelled, and flagged when their figures differ. With no hits it says so."""
    about = f" about “{esc(query)}”" if query else ""
    if not hits:
        return claims_notice(f"The archive holds no attributed claims{about}.")
    parts = [f'<div class="byline-claims"><p class="byline-claims-label">Who said what{about}</p>'
             '<ul class="byline-claim-list">']
    for group in group_runs(hits):
        if len(group) == 1:
            parts.append(claim_item_html(group[0]))
            continue
        differ = figures_differ(group)
        label = f"{len(group)} claims about the same quantity" + (": the figures differ" if differ else "")
        parts.append(f'<li class="byline-claim-group{" byline-disagree" if differ else ""}">'
                     f'<p class="byline-group-label">{esc(label)}</p><ul class="byline-claim-list">'
                     + "".join(claim_item_html(h) for h in group) + "</ul></li>")
    parts.append("</ul></div>")
    return "".join(parts)


def claims_notice(message: str = NOT_YET) -> str:
    """The Claims view with a plain notice instead of claims (escaped)."""
    return f'<div class="byline-claims-empty">{esc(message)}</div>'


def claims_panel(service: Any, topic: str) -> str:
    """The Claims view for ``topic`` from ``service.claims`` (the API's defaults): the
    claims, a plain notice when the backend stores none (501) or for an invalid topic,
    or the invitation to ask when there is no topic yet."""
    if not topic:
        return claims_notice()
    try:
        hits = service.claims(topic)
    except RequestError as exc:
        return claims_notice(NO_CLAIMS_STORED if exc.status == 501 else str(exc))
    return claims_html(hits, topic)
