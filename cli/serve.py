"""``byline serve`` (the web app, the HTTP API and the local command endpoints) and
``byline migrate``.

The port is bound before anything heavy loads, so a port in use is reported at once
with how to choose another. While it serves, the server advertises itself in
``<data_dir>/server.json`` (:mod:`cli.advert`) so that ``byline add|remove|list|ask``
on the same archive go through it; the file is removed at shutdown.
"""

from __future__ import annotations

import errno
import socket
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from cli.common import app, data_dir_of, fail, missing_archive_message, settings


class PortInUse(OSError):
    """The address is taken; the message says how to choose another port."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (not yet listening) for uvicorn.

    Raises :class:`PortInUse` when another process holds the port, ``OSError`` naming the
    address for other failures (an unknown host, a privileged port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(errno.EADDRINUSE,
                            f"port {port} on {host} is already in use (another `byline serve`?): choose another "
                            f"with `byline serve --port 8000` (or `make run PORT=8000`)") from None
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def local_url(host: str, port: int) -> str:
    """The URL commands on this machine use to reach a server bound to ``host:port``."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def advertising_server(application: Any, *, service: Any, data_dir: Path, settings: Any, url: str,
                       **uvicorn_options: Any) -> Any:
    """A ``uvicorn.Server`` for ``application`` wrapped in the local command endpoints,
    which writes the advertisement once it listens and removes it when it stops.

    Run it with ``server.run(sockets=[bind_socket(...)])``; ``server.advert`` is the
    :class:`cli.advert.Advert`."""
    import uvicorn

    from cli.advert import Advert, remove_advert, write_advert
    from web.local_api import LocalCommandsMiddleware

    advert = Advert.new(url, data_dir, settings)
    wrapped = LocalCommandsMiddleware(application, service, advert.token, advert.instance)

    class AdvertisingServer(uvicorn.Server):
        """Writes ``<data_dir>/server.json`` after startup and removes it at shutdown."""

        def run(self, sockets: Any = None) -> None:
            try:
                super().run(sockets=sockets)
            finally:
                remove_advert(data_dir, advert)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                write_advert(data_dir, advert)

        async def shutdown(self, sockets: Any = None) -> None:
            # Removed here too: after a SIGTERM uvicorn re-raises the signal at the end of
            # run(), whose default action ends the process before ``finally`` runs.
            try:
                await super().shutdown(sockets=sockets)
            finally:
                remove_advert(data_dir, advert)

    server = AdvertisingServer(uvicorn.Config(wrapped, **uvicorn_options))
    server.advert = advert  # type: ignore[attr-defined]
    return server


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="Interface (default 127.0.0.1; 0.0.0.0 only when asked)."),
    port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, help="Port (default 7860)."),
    root_path: Optional[str] = typer.Option(None, "--root-path", help="Sub-path behind a reverse proxy, e.g. /qa."),
    sample: bool = typer.Option(True, "--sample/--no-sample", help="Build the sample index on first run."),
) -> None:
    """Serve the browser chat, the HTTP API and the widget.

    Exit 1 when the port is in use (choose another with --port)."""
    from config.environment import use_offline_environment

    use_offline_environment()
    cfg = settings()
    update = {k: v for k, v in (("host", host), ("port", port), ("root_path", root_path)) if v is not None}
    if update:
        cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update=update)})
    server_cfg = cfg.server
    data_dir = data_dir_of(cfg)
    if not sample and cfg.index.backend == "embedded":
        problem = missing_archive_message(data_dir)
        if problem and not data_dir.is_dir():
            fail(problem)
    try:
        sock = bind_socket(server_cfg.host, server_cfg.port)
    except OSError as exc:
        fail(exc.strerror or str(exc))
    try:
        import app as web_app
        from web.security import uvicorn_log_config
        from web.service import QAService, ensure_sample

        from index.base import ArchiveError

        try:
            service = QAService(cfg)
            if sample:
                added = ensure_sample(service.archive, cfg)
                if added:
                    print(f"Added the sample corpus ({sum(r.status == 'added' for r in added)} articles).", flush=True)
        except ArchiveError as exc:
            # A damaged or foreign store: say what and where, not a traceback.
            hint = (" (the SQLite file is damaged: restore it from a backup; `sqlite3 FILE .recover` may save "
                    "what is left)" if "malformed" in str(exc) or "not a database" in str(exc) else "")
            fail(f"cannot serve {data_dir}: {exc}{hint}")
        application = web_app.create_app(cfg, service=service)
        server = advertising_server(application, service=service, data_dir=data_dir, settings=cfg,
                                    url=local_url(server_cfg.host, server_cfg.port), proxy_headers=True,
                                    log_level="info", log_config=uvicorn_log_config())
        prefix = server_cfg.root_path.rstrip("/")
        print(f"Byline: http://{server_cfg.host}:{server_cfg.port}{prefix}/  (API docs at {prefix}/docs)", flush=True)
        server.run(sockets=[sock])
    finally:
        sock.close()


@app.command()
def migrate(
    to: str = typer.Option(..., "--to", help="Target backend: milvus (index.milvus.* settings)."),
    source_dir: Optional[Path] = typer.Option(None, "--from", help="Embedded index folder (default: data_dir)."),
) -> None:
    """Copy the embedded index (SQLite + FAISS) into Milvus without re-embedding.

    Reads chunk offsets and vectors from the SQLite store; articles already in Milvus with
    the same content stay unchanged, so an interrupted migration is finished by re-running it."""
    from config.environment import use_offline_environment

    use_offline_environment()
    if to != "milvus":
        fail(f"--to: {to!r} is not a backend to migrate to (milvus)", 2)
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
        fail(str(exc))
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
