"""The public-account callback refuses stale timestamps and replayed nonces.

WeChat signs only ``timestamp`` and ``nonce`` in plain mode: whoever reads one callback URL (an
access log, a proxy) could otherwise post any body under its signature, at any time. The nonce
memory is Redis when REDIS_URL answers, else the ``wechat_mp_nonces`` table; both are tested.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import redis
from freezegun import freeze_time
from sqlalchemy import func, select

from app.extensions import db
from wechat.models import MpNonce

from .test_mp_callback import (
    CITIZEN,
    SAMPLE_BODY,
    SAMPLE_NONCE,
    SAMPLE_SIGNATURE,
    SAMPLE_TIMESTAMP,
    TOKEN,
    WELCOME,
    assert_error,
    mp,  # noqa: F401 - fixture
    plain_url,
    reply_fields,
    row_count,
    rows,
    sample_account,  # noqa: F401 - fixture
    sample_url,
    sha1_sorted,
    text_xml,
)

NOW = datetime(2026, 12, 3, 4, 0, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())


@pytest.fixture
def frozen():
    """The clock stands at NOW for the whole test."""
    with freeze_time(NOW) as clock:
        yield clock


def nonce_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(MpNonce))


@pytest.fixture(params=["database", "redis", "redis-unreachable"])
def nonce_store(request, app) -> Iterator[str]:
    """Where nonces are remembered: the table (no REDIS_URL), Redis, or the table again when
    REDIS_URL points at a server that does not answer. (Restored before the autouse token-cache
    fixture cleans Redis up.)"""
    url = os.environ.get("REDIS_URL", "")
    if request.param == "redis" and not url:
        pytest.skip("set REDIS_URL to run the Redis tests")
    saved = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = {"database": "", "redis": url}.get(
        request.param, "redis://127.0.0.1:1/0"
    )
    yield request.param
    app.config["REDIS_URL"] = saved


def redis_nonce_keys(app) -> list[bytes]:
    conn = redis.Redis.from_url(app.config["REDIS_URL"])
    try:
        return list(conn.scan_iter(f"{app.config['WECHAT_TOKEN_CACHE_PREFIX']}:mp-nonce:*"))
    finally:
        conn.close()


# --- freshness --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "978307200",  # 2001-01-01
        str(STAMP + 10 * 365 * 24 * 3600),  # ten years ahead
        str(STAMP - 301),
        str(STAMP + 301),
        "17000000000000000",  # far too long to be a time
        "abc",
    ],
    ids=["2001", "ten-years-ahead", "301s-ago", "301s-ahead", "overlong", "not-a-number"],
)
def test_stale_or_future_timestamps_are_refused(client, mp, frozen, timestamp):  # noqa: F811
    post = client.post(plain_url(timestamp=timestamp), data=text_xml())
    assert_error(post, 403, "stale_timestamp")
    assert post.get_json()["error"]["message"] == "请求时间戳无效或已过期，请检查服务器时间"
    get = client.get(plain_url(timestamp=timestamp, echostr="7071637412881337"))
    assert_error(get, 403, "stale_timestamp")
    assert "7071637412881337" not in get.get_data(as_text=True)
    assert row_count() == 0
    assert nonce_rows() == 0


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_within_five_minutes_are_answered(client, mp, frozen, offset):  # noqa: F811
    resp = client.post(plain_url(timestamp=str(STAMP + offset)), data=text_xml())
    assert resp.status_code == 200
    assert reply_fields(resp.data)["Content"] == WELCOME
    assert row_count() == 1


def test_the_window_is_configurable(client, mp, frozen, monkeypatch):  # noqa: F811
    monkeypatch.setitem(mp.config, "WECHAT_MP_MAX_SKEW_SECONDS", 30)
    assert_error(client.post(plain_url(timestamp=str(STAMP - 31)), data=text_xml()), 403,
                 "stale_timestamp")  # fmt: skip
    assert client.post(plain_url(timestamp=str(STAMP - 30)), data=text_xml()).status_code == 200


def test_a_signature_is_checked_before_the_timestamp(client, mp, frozen):  # noqa: F811
    resp = client.post(plain_url(token="guessed", timestamp="978307200"), data=text_xml())
    assert_error(resp, 403, "invalid_signature")


# --- replays ----------------------------------------------------------------------------------


def test_replayed_nonce_with_another_body_is_refused(client, mp, nonce_store, app):  # noqa: F811
    captured = plain_url()
    first = client.post(captured, data=text_xml("南湖路井盖破损", msg_id="6054768590064713728"))
    assert reply_fields(first.data)["Content"] == WELCOME

    forged = client.post(captured, data=text_xml("伪造的消息", msg_id="6054768590064713729"))

    assert_error(forged, 403, "replayed_request")
    assert forged.get_json()["error"]["message"] == "请求已被使用过，拒绝重放"
    assert [r.content for r in rows()] == ["南湖路井盖破损"]
    if nonce_store == "redis":
        assert nonce_rows() == 0
        assert len(redis_nonce_keys(app)) == 1
    else:
        assert nonce_rows() == 1


def test_wechats_retry_of_the_same_body_is_answered_and_stored_once(
    client,
    mp,  # noqa: F811
    nonce_store,
):
    url, body = plain_url(), text_xml()
    for _ in range(3):  # WeChat's retries, should they carry the same query string
        resp = client.post(url, data=body)
        assert reply_fields(resp.data)["Content"] == WELCOME
    assert row_count() == 1


def test_url_check_replayed_with_another_echostr_is_refused(client, mp, nonce_store):  # noqa: F811
    timestamp, nonce = str(int(time.time())), "1514711492"
    url = plain_url(timestamp=timestamp, nonce=nonce, echostr="4375120948345356249")
    assert client.get(url).get_data(as_text=True) == "4375120948345356249"
    assert client.get(url).get_data(as_text=True) == "4375120948345356249"  # a retry
    other = plain_url(timestamp=timestamp, nonce=nonce, echostr="attacker-chosen")
    assert_error(client.get(other), 403, "replayed_request")


def test_the_nonce_is_spent_by_the_url_check_too(client, mp, nonce_store):  # noqa: F811
    timestamp, nonce = str(int(time.time())), "1514711492"
    client.get(plain_url(timestamp=timestamp, nonce=nonce, echostr="abc"))
    resp = client.post(plain_url(timestamp=timestamp, nonce=nonce), data=text_xml())
    assert_error(resp, 403, "replayed_request")
    assert row_count() == 0


def test_safe_mode_url_replayed_in_plain_mode_is_refused(client, sample_account):  # noqa: F811
    """A safe-mode push carries ``signature`` (over timestamp and nonce) next to msg_signature:
    the same query string without encrypt_type would pass the plain-mode check."""
    assert client.post(sample_url(), data=SAMPLE_BODY).status_code == 200
    plain = "/wechat/mp?" + urlencode(
        {
            "signature": SAMPLE_SIGNATURE,
            "timestamp": SAMPLE_TIMESTAMP,
            "nonce": SAMPLE_NONCE,
            "openid": CITIZEN,
        }  # fmt: skip
    )
    forged = text_xml("伪造的明文消息", msg_id="1111111111111111")
    assert_error(client.post(plain, data=forged), 403, "replayed_request")
    assert [r.content for r in rows()] == ["abcdteT"]


def test_a_spent_nonce_stays_refused_until_its_timestamp_is_stale(client, mp, frozen):  # noqa: F811
    url = plain_url(timestamp=str(STAMP))
    assert client.post(url, data=text_xml()).status_code == 200
    frozen.tick(timedelta(seconds=300))
    assert_error(client.post(url, data=text_xml("另一条")), 403, "replayed_request")
    frozen.tick(timedelta(seconds=1))
    assert_error(client.post(url, data=text_xml("另一条")), 403, "stale_timestamp")


def test_redis_remembers_a_nonce_beyond_the_window(client, mp, app, monkeypatch):  # noqa: F811
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("set REDIS_URL to run the Redis tests")
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    client.post(plain_url(), data=text_xml())
    [key] = redis_nonce_keys(app)
    conn = redis.Redis.from_url(url)
    try:
        assert 600 < conn.ttl(key) <= 660  # twice the 300 s window, and a minute
    finally:
        conn.close()


def test_expired_nonce_rows_are_deleted(client, mp, app, frozen, monkeypatch):  # noqa: F811
    monkeypatch.setitem(app.config, "REDIS_URL", "")
    monkeypatch.setitem(app.extensions, "wechat_mp_nonces", {"cleaned_at": None})
    for expired, nonce in ((True, "1"), (False, "2")):
        db.session.add(MpNonce(
            app_id=app.config["WECHAT_MP_APP_ID"], timestamp=STAMP - 900, nonce=nonce,
            body_sha256="0" * 64, expires_at=NOW + timedelta(seconds=-1 if expired else 60),
        ))  # fmt: skip
    db.session.flush()

    assert client.post(plain_url(nonce="3"), data=text_xml()).status_code == 200

    left = db.session.scalars(select(MpNonce.nonce).order_by(MpNonce.nonce)).all()
    assert left == ["2", "3"]


def test_a_nonce_wechat_would_not_send_is_refused(client, mp):  # noqa: F811
    timestamp, nonce = str(int(time.time())), "x" * 65
    url = "/wechat/mp?" + urlencode(
        {"timestamp": timestamp, "nonce": nonce, "signature": sha1_sorted(TOKEN, timestamp, nonce)}
    )
    assert_error(client.post(url, data=text_xml()), 400, "invalid_nonce")
    assert row_count() == 0
