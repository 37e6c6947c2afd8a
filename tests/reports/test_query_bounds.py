"""Dates, times and ids at the edges of what the statistics, the case heat map and the working
calendar accept: each is a 422 naming the field (they were 500s: a local midnight or time near
year 1 or 9999 has no UTC instant, an id past 2**63 - 1 cannot even be bound by SQLite), and the
bounds are what the spec declares (tests/test_openapi_conformance.py)."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.models import Role

STATS, HEAT = "/api/v1/stats/cases", "/api/v1/stats/heatmap"
DATES = "日期应在 1900-01-01 到 2999-12-31 之间"
TIMES = "时间应在 1900-01-01 到 2999-12-31 之间"
IDS = "应为 1 到 2147483647 之间的整数"
HUGE = "99999999999999999999"


@pytest.fixture
def admin(make_staff, auth_header) -> dict[str, str]:
    return auth_header(make_staff("admin", roles=(Role.ADMIN,)))


def fields_of(resp) -> dict[str, Any]:
    assert resp.status_code == 422, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    return error["fields"]


@pytest.mark.parametrize("url", [STATS, HEAT])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"from": "0001-01-01"}, {"from": [DATES]}),
        ({"to": "9999-12-31"}, {"to": [DATES]}),
        ({"from": "9999-12-01"}, {"from": [DATES]}),  # its month's end was 10000-01-01
        ({"from": "0001-01-01", "to": "0001-01-02"}, {"from": [DATES], "to": [DATES]}),
        ({"department_id": HUGE}, {"department_id": [IDS]}),
        ({"department_id": "-1"}, {"department_id": [IDS]}),
    ],
)
def test_out_of_range_filters_are_422(client, admin, url, query, expected):
    assert fields_of(client.get(url, query_string=query, headers=admin)) == expected


@pytest.mark.parametrize(
    "as_of",
    ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-10:00",
     "1899-12-31T23:59:59+00:00", "3000-01-01T00:00:00+08:00"],
)  # fmt: skip
def test_an_as_of_time_out_of_range_is_422(client, admin, as_of):
    resp = client.get(STATS, query_string={"as_of": as_of}, headers=admin)
    assert fields_of(resp) == {"as_of": [TIMES]}


@pytest.mark.parametrize(
    "as_of", ["1900-01-01T00:00:00+14:00", "1900-01-01T00:00:00", "2999-12-31T23:59:59-12:00"]
)
def test_an_as_of_time_at_the_edges_is_counted(client, admin, as_of):
    """The first and last written dates the spec allows, whatever the offset, have a UTC
    instant: the answer is the (empty) statistics, as of that time."""
    resp = client.get(STATS, query_string={"as_of": as_of}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["totals"]["accepted"] == 0


def test_a_period_at_the_edges_is_counted(client, admin):
    for query in ({"from": "1900-01-01", "to": "1900-01-31"}, {"to": "2999-12-31"}):
        for url in (STATS, HEAT):
            resp = client.get(url, query_string=query, headers=admin)
            assert resp.status_code == 200, (url, query, resp.get_json())


@pytest.mark.parametrize(
    ("bbox", "message"),
    [("1,2,3", "bbox 应为 minLng,minLat,maxLng,maxLat"),
     ("3,2,1,4", "bbox 应为 minLng,minLat,maxLng,maxLat"),
     ("-200,10,120,40", "bbox 超出经纬度范围"),
     ("a,b,c,d", "bbox 应为 minLng,minLat,maxLng,maxLat"),
     ("1,2,nan,4", "bbox 应为 minLng,minLat,maxLng,maxLat")],
)  # fmt: skip
def test_a_heat_map_bbox_is_the_declared_one(client, admin, bbox, message):
    resp = client.get(HEAT, query_string={"bbox": bbox}, headers=admin)
    assert message in str(fields_of(resp)["bbox"])


def test_a_heat_map_bbox_past_a_pole_stops_at_it(client, admin):
    """As on the shop heat map (app.apispec.Bbox): a latitude past 90 is clamped, not refused."""
    resp = client.get(HEAT, query_string={"bbox": "120,30,125,120"}, headers=admin)
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"


@pytest.mark.parametrize(
    ("day", "message"),
    [("0001-01-01", DATES), ("9999-12-31", DATES), ("1899-12-31", DATES),
     ("20260101", "日期格式应为 YYYY-MM-DD"), ("2026-1-1", "日期格式应为 YYYY-MM-DD"),
     ("2026-02-30", "日期格式应为 YYYY-MM-DD"), ("xx", "日期格式应为 YYYY-MM-DD")],
)  # fmt: skip
@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_calendar_day_is_a_date_from_1900_to_2999(client, admin, method, day, message):
    resp = getattr(client, method)(
        f"/api/v1/admin/calendar/{day}", json={"kind": "holiday"}, headers=admin
    )
    assert fields_of(resp) == {"day": [message]}


def test_a_calendar_day_at_the_edges_is_accepted(client, admin):
    for day in ("1900-01-01", "2999-12-31"):
        url = f"/api/v1/admin/calendar/{day}"
        resp = client.put(url, json={"kind": "holiday", "name": "测试"}, headers=admin)
        assert resp.status_code == 200 and resp.get_json()["day"] == day
        assert client.delete(url, headers=admin).status_code == 204
