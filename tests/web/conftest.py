"""Fixtures for the app tests: ONE archive of the sample corpus and ONE warmed-up
service per test module (models load once), and cheap apps built on it with other
server settings (tokens, origins, root path, size limits)."""

from __future__ import annotations

from typing import Any, Callable

import pytest

ALLOWED = "http://intranet.example"
ADMIN = "admin-secret"


@pytest.fixture(scope="module")
def make_client(service) -> Callable[..., Any]:
    """``make_client(**server_settings)``: a TestClient of an app on the shared service."""
    from fastapi.testclient import TestClient

    from app import create_app
    from config.settings import load_settings

    clients: list[Any] = []

    def make(base_url: str = "http://testserver", **server: Any) -> Any:
        settings = load_settings(data_dir=service.settings.data_dir, server=server)
        client = TestClient(create_app(settings, service=service), base_url=base_url)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(make_client):
    """The default test app: admin token set, one allowed origin."""
    return make_client(admin_token=ADMIN, allowed_origins=[ALLOWED])


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers with the admin token of :func:`client`."""
    return {"Authorization": f"Bearer {ADMIN}"}
