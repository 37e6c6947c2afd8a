"""GET /api/v1/nearby and the nearby pages: what the mini-program and citizens see."""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from app import changes
from app.extensions import db
from app.geo import coords
from services_nearby.models import FacilityStatus

# WGS-84 points around 太原街, 和平区.
HERE = (41.7930, 123.4080)


def get(client, **params):
    return client.get("/api/v1/nearby", query_string=params)


def test_nearest_toilets_in_order_with_distances_and_open_status(client, make_facility):
    near = make_facility(lat=41.7935, lng=123.4080, name="太原街公厕", opening_hours="24/7",
                         fee="免费", accessible=True)  # fmt: skip
    far = make_facility(lat=41.8000, lng=123.4080, name="中山路公厕", opening_hours="06:00-22:00")
    make_facility(kind="park", lat=41.7931, lng=123.4080, name="口袋公园")
    removed = make_facility(lat=41.7931, lng=123.4081, name="已拆除公厕")
    removed.status = FacilityStatus.REMOVED
    db.session.flush()
    with freeze_time("2026-11-21T15:30:00Z"):  # 23:30 in Shenyang
        resp = get(client, kind="toilet", lat=HERE[0], lng=HERE[1], coord_sys="wgs84")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["kind"] == {"code": "toilet", "name": "公共厕所", "title": "找公厕"}
    assert [i["name"] for i in body["items"]] == ["太原街公厕", "中山路公厕"]
    first, second = body["items"]
    assert first["id"] == near.id and second["id"] == far.id
    assert first["distance_m"] == pytest.approx(55.6, abs=0.1)
    assert second["distance_m"] == pytest.approx(778.3, abs=0.2)
    assert first["open_now"] is True and second["open_now"] is False
    assert first["hours_label"] == "全天开放" and first["fee"] == "免费" and first["accessible"]
    assert first["location"] == {"lat": 41.7935, "lng": 123.408}
    assert first["nav_url"].startswith("https://uri.amap.com/marker?position=")
    assert body["at"].startswith("2026-11-21T23:30:00+08:00")


def test_open_now_leaves_out_closed_ones_but_keeps_unknown_hours(client, make_facility):
    make_facility(lat=41.7931, lng=123.4080, name="夜间关闭", opening_hours="06:00-22:00")
    make_facility(lat=41.7940, lng=123.4080, name="时间未知")
    make_facility(lat=41.7950, lng=123.4080, name="通宵", opening_hours="18:00-02:00")
    with freeze_time("2026-11-21T17:30:00Z"):  # 01:30
        names = [
            i["name"]
            for i in get(
                client, kind="toilet", lat=HERE[0], lng=HERE[1], coord_sys="wgs84", open_now="true"
            ).get_json()["items"]
        ]
    assert names == ["时间未知", "通宵"]


def test_same_answer_for_a_point_in_wgs84_gcj02_and_bd09(client, make_facility):
    for i in range(12):
        make_facility(lat=41.79 + i * 0.0007, lng=123.40 + (i % 5) * 0.0009)
    gcj = coords.convert(*HERE, "wgs84", "gcj02")
    bd = coords.convert(*HERE, "wgs84", "bd09")
    answers = []
    for system, point in (("wgs84", HERE), ("gcj02", gcj), ("bd09", bd)):
        items = get(client, kind="toilet", lat=point[0], lng=point[1], coord_sys=system,
                    limit=8).get_json()["items"]  # fmt: skip
        answers.append([(i["id"], round(i["distance_m"], 1)) for i in items])
    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0]) == 8


def test_results_come_back_in_the_callers_system(client, make_facility):
    f = make_facility(lat=41.7935, lng=123.4080)
    for system in ("wgs84", "gcj02", "bd09"):
        q = coords.convert(*HERE, "wgs84", system)
        resp = get(client, kind="toilet", lat=q[0], lng=q[1], coord_sys=system)
        item = resp.get_json()["items"][0]
        expected = coords.convert(f.wgs_lat, f.wgs_lng, "wgs84", system)
        assert item["location"]["lat"] == pytest.approx(expected[0], abs=1e-6)
        assert item["location"]["lng"] == pytest.approx(expected[1], abs=1e-6)


def test_radius_and_limit(client, make_facility):
    for i in range(6):
        make_facility(lat=41.7930 + 0.001 * (i + 1), lng=123.4080)  # 111 m apart
    items = get(client, kind="toilet", lat=HERE[0], lng=HERE[1], coord_sys="wgs84",
                radius=350).get_json()["items"]  # fmt: skip
    assert len(items) == 3 and all(i["distance_m"] <= 350 for i in items)
    assert len(get(client, kind="toilet", lat=HERE[0], lng=HERE[1], coord_sys="wgs84",
                   limit=2).get_json()["items"]) == 2  # fmt: skip


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": "91", "lng": "123"}, "lat"),
    ({"lat": "abc", "lng": "123"}, "lat"),
    ({"lat": "41", "lng": "nan"}, "lng"),
    ({"lng": "123"}, "lat"),
    ({"lat": "41", "lng": "123", "coord_sys": "utm"}, "coord_sys"),
    ({"lat": "41", "lng": "123", "limit": "0"}, "limit"),
    ({"lat": "41", "lng": "123", "limit": "51"}, "limit"),
    ({"lat": "41", "lng": "123", "radius": "-5"}, "radius"),
    ({"lat": "41", "lng": "123", "open_now": "maybe"}, "open_now"),
])  # fmt: skip
def test_bad_arguments_get_field_errors(client, kinds, params, field):
    resp = get(client, kind="toilet", **params)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]


def test_unknown_kind_is_404(client, kinds):
    resp = get(client, kind="casino", lat=41.79, lng=123.4)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "unknown_kind"


def test_kinds_list(client, kinds):
    body = client.get("/api/v1/nearby/kinds").get_json()
    assert [k["code"] for k in body][:3] == ["toilet", "park", "parking"]
    assert body[0]["title"] == "找公厕"


def test_lookups_are_rate_limited(client, app, make_facility, monkeypatch):
    make_facility()
    monkeypatch.setitem(app.config, "RATELIMIT_NEARBY", "2/minute")
    codes = [get(client, kind="toilet", lat=41.79, lng=123.4).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_list_page(client, make_facility):
    make_facility(lat=41.7935, lng=123.4080, name="太原街公厕", opening_hours="24/7")
    page = client.get("/nearby/toilet").get_data(as_text=True)
    assert "找公厕" in page and "正在获取您的位置" in page
    with freeze_time(datetime(2026, 11, 21, 4, 0)):
        page = client.get(f"/nearby/toilet?lat={HERE[0]}&lng={HERE[1]}&coord_sys=wgs84")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "太原街公厕" in text and "56 米" in text
    assert "开放中" in text and "导航前往" in text and "uri.amap.com" in text
    assert client.get("/nearby/casino").status_code == 404
    assert "找公厕" in client.get("/nearby").get_data(as_text=True)


def test_an_announcement_file_from_another_database_hides_nothing(client, app, make_facility):
    """The host's announcement file is compared, never trusted as a number: one left from an older
    database (a restore), here at an arbitrary count, hides no write."""
    make_facility(lat=41.7935, lng=123.4080, name="甲")
    db.session.commit()  # each transaction takes one change number
    assert [i["name"] for i in get(client, kind="toilet", lat=HERE[0], lng=HERE[1],
                                    coord_sys="wgs84").get_json()["items"]] == ["甲"]  # fmt: skip
    path = changes.board_path(app)
    with open(path, "r+b") as fh:
        fh.write(bytes([0xFF]) * path.stat().st_size)
    make_facility(lat=41.7931, lng=123.4080, name="乙")
    db.session.commit()
    items = get(client, kind="toilet", lat=HERE[0], lng=HERE[1], coord_sys="wgs84").get_json()
    assert [i["name"] for i in items["items"]] == ["乙", "甲"]


@pytest.mark.parametrize("query", [
    "kind=toilet&lat=41.79&lng=123.4",
    "kind=toilet&lat=41.79&lat=1&lng=123.4&&limit=&open_now",
    "kind=%E5%8E%95%E6%89%80&lat=41.79&lng=123.4+1",
    "kind=toilet&lat=%ZZ&lng=%FF",
    "kind=公厕&lat=41.79",
    "",
    "=&==&a==b",
])  # fmt: skip
def test_the_query_string_is_read_as_werkzeug_reads_it(app, query):
    from flask import request

    from services_nearby.public import query_args

    with app.test_request_context("/api/v1/nearby?" + query):
        got = query_args()
        assert {name: got.get(name) for name in got} == {
            name: request.args.get(name) for name in request.args
        }
