"""WeChat fixtures: the emulator served over real HTTP, and per-test token cache isolation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from wechat.emulator import WeChatEmulator, emulator_from_config


@dataclass
class EmulatorServer:
    """An emulator listening on 127.0.0.1 and the URL that reaches it."""

    emulator: WeChatEmulator
    url: str


@pytest.fixture(scope="session")
def wechat_server(app) -> Iterator[EmulatorServer]:
    """The emulator as a real HTTP server on a free port, for the whole run."""
    emulator = emulator_from_config(app.config)
    server = make_server("127.0.0.1", 0, emulator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield EmulatorServer(emulator, f"http://127.0.0.1:{server.server_port}/")
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def wechat_api(app, wechat_server, monkeypatch) -> EmulatorServer:
    """Point the app's WeChat API calls at the emulator over real HTTP."""
    monkeypatch.setitem(app.config, "WECHAT_API_BASE_URL", wechat_server.url)
    return wechat_server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A plain HTTP client for calling the emulator directly (no proxies from the environment)."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture(autouse=True)
def isolated_token_cache(app, monkeypatch) -> Iterator[str]:
    """Each test gets its own access-token cache: a unique Redis prefix and fresh memory stores."""
    prefix = f"zhcg-test:{uuid.uuid4().hex[:12]}"
    monkeypatch.setitem(app.config, "WECHAT_TOKEN_CACHE_PREFIX", prefix)
    state = app.extensions.setdefault("wechat", {"memory": {}, "redis": {}})
    monkeypatch.setitem(state, "memory", {})
    yield prefix
    url = app.config.get("REDIS_URL")
    if url:
        import redis

        conn = redis.Redis.from_url(url)
        keys = list(conn.scan_iter(f"{prefix}:*"))
        if keys:
            conn.delete(*keys)
        conn.close()
