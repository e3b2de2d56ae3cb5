"""``byline``: the command line (typer).

Commands live in :mod:`cli.articles` (add, remove, list, show, stats, verify, rebuild),
:mod:`cli.answers` (ask, chat, eval), :mod:`cli.claims` (claims) and :mod:`cli.serve` (serve, migrate); options and
helpers shared by all of them in :mod:`cli.common`. Heavy libraries are imported inside
commands, so that ``byline --help`` stays fast; no command but ``serve`` imports Gradio,
and ``add``, ``remove``, ``list`` and ``ask`` go through a running ``byline serve`` of
the same archive when there is one (:mod:`cli.remote`).
"""

from __future__ import annotations

from cli.common import STATE, app, fail, open_archive, settings
from cli import articles as _articles  # noqa: F401 - registers the commands, in help order
from cli import answers as _answers  # noqa: F401
from cli import claims as _claims  # noqa: F401
from cli import serve as _serve  # noqa: F401

__all__ = ["app", "main", "STATE", "fail", "open_archive", "settings"]


def main() -> None:
    """Console-script entry point."""
    app()
