"""POST /api/v1/nearby/feed/parking: parking systems push free spaces; citizens see them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from services_nearby.models import Facility, FacilityFeed, FacilityStatus

URL = "/api/v1/nearby/feed/parking"
HERE = (41.7930, 123.4080)  # WGS-84
SHENYANG = timezone(timedelta(hours=8))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def lots(make_facility, make_feed):
    """Two lots of the 城区 feed (one found by its external id), one of another feed, one of
    none. Returns (key, other key, lots by name)."""
    feed, key = make_feed("城区停车系统")
    other, other_key = make_feed("商场停车系统")
    made = {
        "太原街停车场": make_facility(
            "parking", 41.7935, 123.4080, name="太原街停车场", capacity=120, feed_id=feed.id
        ),
        "中华路停车场": make_facility(
            "parking",
            41.7960,
            123.4080,
            name="中华路停车场",
            capacity=80,
            feed_id=feed.id,
            source="csv",
            external_id="P-002",
        ),
        "商场停车场": make_facility(
            "parking", 41.7940, 123.4090, name="商场停车场", capacity=500, feed_id=other.id
        ),
        "路边停车位": make_facility("parking", 41.7945, 123.4070, name="路边停车位"),
    }
    return key, other_key, made


def push(client, key, *updates, headers=None):
    return client.post(
        URL, json={"updates": list(updates)}, headers=headers or {"Authorization": f"Bearer {key}"}
    )


def parking(client) -> dict[str, dict]:
    resp = client.get(
        "/api/v1/nearby",
        query_string={"kind": "parking", "lat": HERE[0], "lng": HERE[1], "coord_sys": "wgs84"},
    )
    assert resp.status_code == 200
    return {i["name"]: i for i in resp.get_json()["items"]}


def test_free_spaces_reach_citizens(client, lots, now):
    key, _, made = lots
    assert parking(client)["太原街停车场"]["free_spaces"] is None  # index loaded before the push
    at = now - timedelta(minutes=1)
    resp = push(
        client,
        key,
        {"id": made["太原街停车场"].id, "free_spaces": 12, "at": iso(at)},
        {"external_id": "P-002", "free_spaces": 0, "at": at.astimezone(SHENYANG).isoformat()},
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"applied": 2, "ignored_stale": 0, "errors": []}
    shown = parking(client)
    assert shown["太原街停车场"]["free_spaces"] == 12
    assert shown["太原街停车场"]["capacity"] == 120
    assert datetime.fromisoformat(shown["太原街停车场"]["free_spaces_at"]) == at
    assert shown["中华路停车场"]["free_spaces"] == 0
    assert shown["商场停车场"]["free_spaces"] is None

    db.session.expire_all()
    a, b = (db.session.get(Facility, made[n].id) for n in ("太原街停车场", "中华路停车场"))
    assert a.seq == b.seq  # one transaction, one change number
    assert a.version == 1  # staff editing the lot are not refused because spaces changed
    feed = db.session.scalar(select(FacilityFeed).where(FacilityFeed.name == "城区停车系统"))
    assert feed.last_seen_at is not None


def test_plus_eight_hours_time_is_stored_as_the_same_instant(client, lots, now):
    key, _, made = lots
    local = (now - timedelta(minutes=2)).astimezone(SHENYANG)
    assert local.isoformat().endswith("+08:00")
    push(client, key, {"id": made["太原街停车场"].id, "free_spaces": 5, "at": local.isoformat()})
    db.session.expire_all()
    assert db.session.get(Facility, made["太原街停车场"].id).free_spaces_at == local


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer ",
        "Bearer dk_not-a-feed-key",
        "Bearer fk_unknown",
        "Basic fk_x",
        "fk_x",
    ],
)
def test_bad_keys_are_401(client, lots, now, header):
    _, _, made = lots
    headers = {"Authorization": header} if header is not None else {}
    resp = client.post(
        URL,
        headers=headers,
        json={"updates": [{"id": made["太原街停车场"].id, "free_spaces": 1, "at": iso(now)}]},
    )
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "invalid_feed_key"
    db.session.expire_all()
    assert db.session.get(Facility, made["太原街停车场"].id).free_spaces is None


def test_a_staff_token_is_not_a_feed_key(client, lots, now, make_staff, auth_header):
    _, _, made = lots
    admin = auth_header(make_staff("adm", roles=(Role.ADMIN,)))
    resp = push(
        client, None, {"id": made["路边停车位"].id, "free_spaces": 1, "at": iso(now)}, headers=admin
    )
    assert resp.status_code == 401


def test_only_hashes_are_stored_and_disabled_feeds_are_refused(client, lots, now):
    key, _, made = lots
    feed = db.session.scalar(select(FacilityFeed).where(FacilityFeed.name == "城区停车系统"))
    assert feed.key_hash == hashlib.sha256(key.encode()).hexdigest() and key.startswith("fk_")
    feed.is_active = False
    db.session.flush()
    resp = push(client, key, {"id": made["太原街停车场"].id, "free_spaces": 1, "at": iso(now)})
    assert resp.status_code == 401


def test_other_feeds_facilities_are_refused_the_rest_applied(client, lots, now):
    key, other_key, made = lots
    at = iso(now - timedelta(seconds=30))
    resp = push(
        client,
        key,
        {"id": made["商场停车场"].id, "free_spaces": 300, "at": at},
        {"id": made["路边停车位"].id, "free_spaces": 3, "at": at},
        {"id": 987654, "free_spaces": 3, "at": at},
        {"external_id": "P-404", "free_spaces": 3, "at": at},
        {"id": made["太原街停车场"].id, "free_spaces": 40, "at": at},
    )
    body = resp.get_json()
    assert resp.status_code == 200 and body["applied"] == 1
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (0, "id"),
        (1, "id"),
        (2, "id"),
        (3, "external_id"),
    ]
    assert body["errors"][0]["reason"] == "设施不存在，或不由本数据源更新"
    shown = parking(client)
    assert shown["商场停车场"]["free_spaces"] is None and shown["路边停车位"]["free_spaces"] is None
    assert shown["太原街停车场"]["free_spaces"] == 40
    # the owner may
    ok = push(client, other_key, {"id": made["商场停车场"].id, "free_spaces": 300, "at": at})
    assert ok.get_json()["applied"] == 1


def test_retries_and_older_updates_are_ignored(client, lots, now):
    key, _, made = lots
    lot = made["太原街停车场"].id
    newer = {"id": lot, "free_spaces": 30, "at": iso(now - timedelta(minutes=1))}
    assert push(client, key, newer).get_json()["applied"] == 1
    retry = push(client, key, newer).get_json()
    assert retry == {"applied": 0, "ignored_stale": 1, "errors": []}
    older = {"id": lot, "free_spaces": 99, "at": iso(now - timedelta(minutes=5))}
    assert push(client, key, older).get_json()["ignored_stale"] == 1
    assert parking(client)["太原街停车场"]["free_spaces"] == 30
    # within one batch, the later of two updates of a lot wins only if it is newer
    both = push(
        client,
        key,
        {"id": lot, "free_spaces": 20, "at": iso(now)},
        {"id": lot, "free_spaces": 25, "at": iso(now - timedelta(seconds=10))},
    ).get_json()
    assert both == {"applied": 1, "ignored_stale": 1, "errors": []}
    assert parking(client)["太原街停车场"]["free_spaces"] == 20


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"free_spaces": 121}, "free_spaces"),  # over the capacity of 120
        ({"free_spaces": -1}, "free_spaces"),
        ({"free_spaces": True}, "free_spaces"),
        ({"free_spaces": 1.5}, "free_spaces"),
        ({"free_spaces": "3"}, "free_spaces"),
        ({"at": "2026-11-21T22:00:00"}, "at"),  # no time zone
        ({"at": "yesterday"}, "at"),
        ({"at": None}, "at"),
        ({"external_id": "P-002"}, "id"),  # both
        ({"id": None}, "id"),  # neither
        ({"id": "12"}, "id"),
    ],
)
def test_bad_items_are_reported_by_index(client, lots, now, item, field):
    key, _, made = lots
    good = {"id": made["中华路停车场"].id, "free_spaces": 7, "at": iso(now)}
    bad = {"id": made["太原街停车场"].id, "free_spaces": 10, "at": iso(now)} | item
    body = push(client, key, good, bad).get_json()
    assert body["applied"] == 1
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, field)]
    assert all(e["reason"] for e in body["errors"])


def test_times_in_the_future_and_removed_lots(client, lots, now):
    key, _, made = lots
    made["中华路停车场"].status = FacilityStatus.REMOVED
    db.session.flush()
    body = push(
        client,
        key,
        {"id": made["太原街停车场"].id, "free_spaces": 1, "at": iso(now + timedelta(minutes=10))},
        {"id": made["太原街停车场"].id, "free_spaces": 2, "at": iso(now + timedelta(minutes=2))},
        {"external_id": "P-002", "free_spaces": 2, "at": iso(now)},
        "not an object",
    ).get_json()
    assert body["applied"] == 1  # two minutes ahead is tolerated clock skew
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (0, "at"),
        (2, "external_id"),
        (3, "_item"),
    ]
    assert "5 分钟" in body["errors"][0]["reason"]
    assert body["errors"][1]["reason"] == "该设施已撤销"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"updates": []},
        {"updates": {"id": 1}},
        [],
        {"updates": [{}] * 501},
    ],
)
def test_malformed_bodies_are_422(client, lots, body):
    key, _, _ = lots
    resp = client.post(URL, json=body, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"]["updates"]


def test_not_json_is_refused(client, lots):
    key, _, _ = lots
    resp = client.post(
        URL, data="updates", content_type="text/plain", headers={"Authorization": f"Bearer {key}"}
    )
    assert resp.status_code == 415


def test_feeds_are_rate_limited_per_key(client, app, lots, now, monkeypatch):
    key, other_key, made = lots
    monkeypatch.setitem(app.config, "RATELIMIT_NEARBY_FEED", "2/minute")
    item = {"id": made["太原街停车场"].id, "free_spaces": 1, "at": iso(now)}
    codes = [push(client, key, item).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = {"id": made["商场停车场"].id, "free_spaces": 1, "at": iso(now)}
    assert push(client, other_key, other).status_code == 200


def test_cli_creates_a_feed_and_an_admin_attaches_a_lot(
    app, client, make_facility, now, make_staff, auth_header
):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["nearby", "create-feed", "北站停车系统"])
    assert result.exit_code == 0, result.output
    key = next(w for w in result.output.split() if w.startswith("fk_"))
    again = runner.invoke(args=["nearby", "create-feed", "北站停车系统"])
    assert again.exit_code != 0 and "已存在" in again.output

    lot = make_facility("parking", 41.7935, 123.4080, name="北站停车场", capacity=60)
    item = {"id": lot.id, "free_spaces": 9, "at": iso(now)}
    assert push(client, key, item).get_json()["errors"][0]["field"] == "id"  # not attached yet
    admin = auth_header(make_staff("adm", roles=(Role.ADMIN,)))
    resp = client.patch(
        f"/api/v1/staff/facilities/{lot.id}",
        headers=admin,
        json={"feed": "北站停车系统", "version": lot.version},
    )
    assert resp.status_code == 200
    assert push(client, key, item).get_json()["applied"] == 1
    assert parking(client)["北站停车场"]["free_spaces"] == 9

    assert runner.invoke(args=["nearby", "disable-feed", "北站停车系统"]).exit_code == 0
    assert push(client, key, item).status_code == 401
