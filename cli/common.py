"""What every ``byline`` command shares: the typer app, the global options, settings,
opening the archive and failing with a message and an exit code.

Nothing heavy is imported at module level, so that ``byline --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional, TypeVar

import typer

T = TypeVar("T")

if TYPE_CHECKING:  # pragma: no cover
    from index.base import IndexBackend

# Plain (click-style) help: no rich import, so `byline --help` is fast, and flags such as
# --json show no "<bool>" type.
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Byline: ask a news archive; every answer cites exact spans of its articles.")


class State:
    """Options shared by all commands (set by the ``byline`` callback)."""

    config_file: Optional[Path] = None
    data_dir: Optional[Path] = None
    no_server: bool = False


STATE = State()


def search_filters(source: Optional[str], since: Optional[str], until: Optional[str]):  # -> SearchFilters
    """``--source/--since/--until`` as :class:`~index.base.SearchFilters`; exits 2 naming
    the option for a bad date."""
    from index.base import SearchFilters

    try:
        return SearchFilters.from_mapping({"source": source, "since": since, "until": until})
    except ValueError as exc:
        fail(str(exc).replace("filters.", "--"), 2)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code`` (1: the command failed,
    2: a usage error)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings():  # config.Settings
    """Settings from --config, BYLINE_* and --data-dir; exits 2 with the reason if invalid."""
    from config.settings import load_settings

    try:
        overrides: dict[str, Any] = {}
        if STATE.data_dir is not None:
            overrides["data_dir"] = STATE.data_dir
        return load_settings(STATE.config_file, **overrides)
    except ValueError as exc:
        fail(f"invalid settings: {exc}", 2)


def data_dir_of(cfg) -> Path:  # config.Settings
    """The configured data dir, ``~`` expanded (not resolved)."""
    return Path(cfg.data_dir).expanduser()


def missing_archive_message(path: Path) -> str | None:
    """Why ``path`` holds no archive a command other than ``add`` can use, or None.

    A folder that does not exist is named as such (a typo in ``--data-dir`` must not
    silently create a new archive: only ``byline add`` creates one); an existing folder
    without an index is an empty archive."""
    from index.archive import STORE_FILE

    if not path.exists():
        return (f"no Byline index in {path}: the folder does not exist (check --data-dir or "
                "BYLINE_DATA_DIR; only `byline add` creates a new archive)")
    if not path.is_dir():
        return f"no Byline index in {path}: it is a file, not a folder (check --data-dir)"
    if not (path / STORE_FILE).exists():
        return f"no Byline index in {path}: the archive is empty (add articles with `byline add FILE...`)"
    return None


def empty_archive_message(path: Path) -> str:
    """The message for an archive that exists but holds no article."""
    return f"the archive in {path} is empty: add articles with `byline add FILE...`"


def ask_server(cfg, call: "Callable[[Any], T]") -> "T | None":
    """``call(remote)`` against the running ``byline serve`` of ``cfg``'s archive
    (:func:`cli.remote.find_server`), or None when there is none or ``--no-server`` is set.
    Exits 1 for an empty archive, 2 when the server refuses the request as invalid (422),
    1 for its other errors, with the server's message."""
    from cli.remote import RemoteError, find_server

    remote = find_server(cfg, no_server=STATE.no_server)
    if remote is None:
        return None
    try:
        if remote.count() == 0:
            fail(empty_archive_message(remote.data_dir))
        return call(remote)
    except RemoteError as exc:
        fail(str(exc), 2 if exc.status == 422 else 1)
    finally:
        remote.close()


def open_archive(create: bool = True, check_embedder: bool = True, migrate: bool = False) -> "IndexBackend":
    """Open the archive of the configured data dir, or exit 1 with what to do.

    With ``create`` False (every command but ``add``) a missing folder or index is an
    error naming the path; the embedded backend is checked here, Milvus by its own open."""
    from config.environment import use_offline_environment
    from index.base import ArchiveError
    from index.factory import open_backend

    use_offline_environment()

    cfg = settings()
    if not create and cfg.index.backend == "embedded":
        problem = missing_archive_message(data_dir_of(cfg))
        if problem:
            fail(problem)
    try:
        return open_backend(cfg, create=create, check_embedder=check_embedder, migrate=migrate)
    except (ArchiveError, ValueError) as exc:
        fail(str(exc))


@app.callback()
def main_options(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Index folder (default: settings, env BYLINE_DATA_DIR)."),
    config: Optional[Path] = typer.Option(None, "--config", help="A TOML file overriding config/default.toml."),
    no_server: bool = typer.Option(False, "--no-server",
                                   help="Run in this process even when a `byline serve` holds the archive."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Byline: ask a news archive; every answer cites exact spans of its articles."""
    import logging

    STATE.data_dir = data_dir
    STATE.config_file = config
    STATE.no_server = no_server
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "httpcore", "langchain_text_splitters",
                  "trafilatura"):
        if not verbose:
            logging.getLogger(noisy).setLevel(logging.ERROR)
