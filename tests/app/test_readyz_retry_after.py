"""/readyz when the database is down: 503 in the one error shape, telling the prober (and any
client) when to look again with Retry-After, like every other 503 of the app."""

from __future__ import annotations

import socket

import pytest

from app.errors import DB_RETRY_AFTER


@pytest.fixture
def database_down(db_session, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("connection refused")

    monkeypatch.setattr(db_session, "execute", broken)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed once the block ends


@pytest.mark.parametrize("redis", ["not_configured", "unavailable"])
def test_readyz_down_is_503_with_retry_after(client, app, monkeypatch, database_down, redis):
    url = f"redis://127.0.0.1:{closed_port()}/0" if redis == "unavailable" else ""
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "database_unavailable"
    assert resp.headers["Retry-After"] == DB_RETRY_AFTER["database_unavailable"]
    assert int(resp.headers["Retry-After"]) > 0


def test_readyz_ready_has_no_retry_after(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    resp = client.get("/readyz")
    assert resp.status_code == 200 and "Retry-After" not in resp.headers
