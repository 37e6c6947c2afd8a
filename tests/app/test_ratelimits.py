"""The lean per-address limiter of hot public routes (app.ratelimits.WindowCounter)."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from app.ratelimits import WindowCounter


def test_counts_per_key_and_resets_with_the_window(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr("app.ratelimits.time.time", lambda: clock[0])
    counter = WindowCounter()
    key = ("scope", "10.0.0.1", 3, 60)
    assert [counter.hit(key, 3, 60) for _ in range(3)] == [None] * 3
    wait = counter.hit(key, 3, 60)
    assert wait is not None and 0 < wait <= 60
    assert counter.hit(("scope", "10.0.0.2", 3, 60), 3, 60) is None  # another address
    clock[0] += 60  # the next window
    assert counter.hit(key, 3, 60) is None


def test_finished_windows_are_forgotten(monkeypatch):
    clock = [2_000_000.0]
    monkeypatch.setattr("app.ratelimits.time.time", lambda: clock[0])
    counter = WindowCounter(sync_seconds=0)
    for i in range(100):
        counter.hit(("s", f"10.0.{i}.1", 5, 60), 5, 60)
    clock[0] += 120
    counter.sync()
    assert counter.slots == {}


@pytest.fixture
def redis_client():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the shared budget needs Redis (CI sets it)")
    import redis

    client = redis.Redis.from_url(url)
    yield client
    client.close()


def test_workers_share_one_budget_through_redis(redis_client):
    """Two processes (two counters on one Redis): once each has synced, the second refuses what
    the first used up; nothing is lost or counted twice."""
    prefix = f"test-{uuid.uuid4().hex}"
    a = WindowCounter(redis_client, prefix, sync_seconds=3600)
    b = WindowCounter(redis_client, prefix, sync_seconds=3600)
    key = ("shop_lookup", "203.0.113.9", 10, 3600)
    assert all(a.hit(key, 10, 3600) is None for _ in range(7))
    a.sync()
    assert [b.hit(key, 10, 3600) for _ in range(3)] == [None] * 3
    b.sync()  # b learns the shared total (10) when it sends its own 3
    assert b.hit(key, 10, 3600) is not None
    a.sync()
    assert a.hit(key, 10, 3600) is not None
    window = next(iter(a.slots.values())).window
    name = f"{prefix}:fl:shop_lookup:203.0.113.9:10:3600:{window}"
    assert int(redis_client.get(name)) == 10
    assert 0 < redis_client.ttl(name) <= 3605
    redis_client.delete(name)


def test_an_unreachable_redis_keeps_the_limit_per_process(monkeypatch):
    import redis

    calls = []
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))  # fmt: skip
    monkeypatch.setattr(dead, "pipeline", lambda **kw: calls.append(1) or redis.Redis.pipeline(
        dead, **kw))  # fmt: skip
    monkeypatch.setattr("app.ratelimits.time.time", lambda: 600.0)  # one window throughout
    counter = WindowCounter(dead, "x", sync_seconds=0)
    key = ("s", "10.9.9.9", 2, 60)
    assert [counter.hit(key, 2, 60) for _ in range(2)] == [None, None]
    assert counter.hit(key, 2, 60) == 60.0
    assert len(calls) == 1  # after a failure, syncing pauses: no request waits on a dead Redis


def test_the_app_counter_never_waits_out_redis_retries(app, monkeypatch):
    from app.ratelimits import window_counter

    monkeypatch.setitem(app.config, "RATELIMIT_STORAGE_URI", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(app.extensions, "fast_limit", raising=False)
    counter = window_counter(app)
    started = time.monotonic()
    assert counter.hit(("s", "10.9.9.8", 5, 60), 5, 60) is None
    assert time.monotonic() - started < 2  # one refused connection, no backoff retries


def test_routes_with_their_own_limit_skip_flask_limiters_hook(client, rate_limiter, monkeypatch):
    """Flask-Limiter's before_request looks up a route's limits and exemptions on every
    request; a route counted by ``fast_limit`` (the nearby search) has none of its limits, so the
    hook does not run for it while its own limit still holds; other routes (/healthz here) are
    still looked up."""
    looked_up = []
    manager = rate_limiter.limit_manager
    for name in ("resolve_limits", "exemption_scope"):
        real = getattr(manager, name)

        def spy(app, endpoint, *args, _real=real, _name=name, **kwargs):
            looked_up.append((_name, endpoint))
            return _real(app, endpoint, *args, **kwargs)

        monkeypatch.setattr(manager, name, spy)
    monkeypatch.setitem(client.application.config, "RATELIMIT_NEARBY", "1/minute")
    query = "/api/v1/nearby?kind=toilet&lat=41.8&lng=123.4"
    statuses = [client.get(query).status_code for _ in range(2)]
    client.get("/healthz")
    assert statuses[1] == 429 and statuses[0] != 429
    assert not [e for e in looked_up if e[1] == "nearby.Nearby"], looked_up
    assert ("resolve_limits", "health.healthz") in looked_up
    assert ("exemption_scope", "health.healthz") in looked_up
