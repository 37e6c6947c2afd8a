"""GET /api/v1/stats/heatmap: cases per square cell counted in SQL, on the shop map's grid."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import event, insert, literal, select

from app.extensions import db
from app.geo.grid import M_PER_DEG, metres_per_degree_lng
from reports.heat import floor_int
from reports.models import Category, Report, ReportState
from shops.credit_code import check_char
from shops.models import Industry, Shop, ShopStatus
from tests.conftest import error_of
from tests.reports.conftest import INSIDE_WEST

URL = "/api/v1/stats/heatmap"
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}  # a past month: periods end at "now"
_numbers = count(1)


def case(lat: float | None, lng: float | None, **fields: Any) -> dict[str, Any]:
    created = fields.pop("created_at", datetime(2025, 3, 15, 4, tzinfo=UTC))
    row = {"number": f"H{next(_numbers):012d}", "channel": "miniprogram",
           "state": ReportState.DISPATCHED.value, "description": "暴露垃圾", "lat": lat,
           "lng": lng, "coord_sys_in": "gcj02", "created_at": created, "updated_at": created,
           "rework_count": 0, "return_count": 0, "extension_count": 0, "version": 1,
           "department_id": None, "district_code": None, "category_id": None}  # fmt: skip
    return row | fields


@pytest.fixture
def cases(city) -> list[dict[str, Any]]:
    """300 cases at random points of both districts in March, a few states and categories,
    plus cases that must never count: February ones, April ones, address-only ones."""
    rnd = random.Random(11)
    categories = list(db.session.scalars(select(Category.id).limit(2)))
    rows = []
    for i in range(300):
        west = i % 3 != 0
        (lat1, lng1, lat2, lng2) = (41.76, 123.31, 41.84, 123.39) if west else \
            (41.76, 123.43, 41.84, 123.49)  # fmt: skip
        rows.append(case(
            rnd.uniform(lat1, lat2), rnd.uniform(lng1, lng2),
            created_at=datetime(2025, 3, 1, tzinfo=UTC) - timedelta(hours=8)
            + timedelta(minutes=rnd.randrange(31 * 24 * 60)),
            state=rnd.choice([ReportState.DISPATCHED.value, ReportState.CLOSED.value,
                              ReportState.MERGED.value]),
            department_id=(city.west if west else city.east).id,
            district_code="T-W" if west else "T-E", category_id=categories[i % 2]))  # fmt: skip
    rows += [case(*INSIDE_WEST, created_at=datetime(2025, 2, 28, 15, 59, tzinfo=UTC)),
             case(*INSIDE_WEST, created_at=datetime(2025, 3, 31, 16, 0, tzinfo=UTC)),
             case(None, None, address="铁西区小北一路")]  # fmt: skip
    db.session.execute(insert(Report.__table__), rows)
    db.session.flush()
    return rows[:300]


def get_fc(client, headers, **params) -> dict:
    resp = client.get(URL, query_string={**MARCH, **params}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/geo+json"
    return resp.get_json()


def cell_of(fc: dict, lat: float, lng: float) -> int | None:
    for i, f in enumerate(fc["features"]):
        (west, south), _, (east, north) = f["geometry"]["coordinates"][0][:3]
        if west <= lng < east and south <= lat < north:
            return i
    return None


def assert_counts(fc: dict, expected: list[dict[str, Any]]) -> None:
    """Each returned cell holds exactly the expected cases inside its square; nothing is lost."""
    assert fc["properties"]["total"] == len(expected)
    got: dict[int, int] = {}
    for c in expected:
        i = cell_of(fc, c["lat"], c["lng"])
        assert i is not None, c
        got[i] = got.get(i, 0) + 1
    assert got == {i: f["properties"]["count"] for i, f in enumerate(fc["features"])}


def counted(rows: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """The direct count: March cases with a point, merged duplicates left out."""
    return [r for r in rows if r["state"] != ReportState.MERGED.value
            and all(r[k] == v for k, v in match.items())]  # fmt: skip


def test_counts_equal_a_direct_count(client, city, cases, auth_header):
    fc = get_fc(client, auth_header(city.dispatcher))
    assert fc["type"] == "FeatureCollection"
    assert fc["properties"] | {"total": 0, "cells": 0, "max": 0} == {
        "cell_m": 500, "coord_sys": "gcj02", "from": "2025-03-01", "to": "2025-03-31",
        "total": 0, "cells": 0, "max": 0}  # fmt: skip
    assert_counts(fc, counted(cases))
    counts = [f["properties"]["count"] for f in fc["features"]]
    assert fc["properties"]["max"] == max(counts) and fc["properties"]["cells"] == len(counts)


def test_cells_are_squares_of_the_asked_size(client, city, cases, auth_header):
    fc = get_fc(client, auth_header(city.dispatcher), cell=1000)
    ring = fc["features"][0]["geometry"]["coordinates"][0]
    (w, s), (e, _), (_, n) = ring[0], ring[1], ring[2]
    assert len(ring) == 5 and ring[0] == ring[-1]
    assert (n - s) * M_PER_DEG == pytest.approx(1000, rel=1e-3)
    # No shops: scaled at the districts' middle latitude (41.8°, to the degree: 42°).
    assert (e - w) * metres_per_degree_lng(42) == pytest.approx(1000, rel=1e-3)
    assert_counts(fc, counted(cases))


def test_filters(client, city, cases, auth_header):
    headers = auth_header(city.dispatcher)
    assert_counts(get_fc(client, headers, district="T-E"), counted(cases, district_code="T-E"))
    category = db.session.get(Category, cases[1]["category_id"])
    assert_counts(get_fc(client, headers, category=category.code),
                  counted(cases, category_id=category.id))  # fmt: skip
    closed = [r for r in cases if r["state"] == ReportState.CLOSED.value]
    assert_counts(get_fc(client, headers, state="closed"), closed)
    merged = [r for r in cases if r["state"] == ReportState.MERGED.value]
    assert_counts(get_fc(client, headers, state="merged"), merged)
    box = (123.33, 41.78, 123.45, 41.82)
    inside = [r for r in counted(cases)
              if box[0] <= r["lng"] <= box[2] and box[1] <= r["lat"] <= box[3]]  # fmt: skip
    assert_counts(get_fc(client, headers, bbox=",".join(map(str, box))), inside)
    ides = datetime(2025, 3, 15, 16, tzinfo=UTC)  # local midnight after the 15th
    assert_counts(get_fc(client, headers, to="2025-03-15"),
                  [r for r in counted(cases) if r["created_at"] < ides])  # fmt: skip


def test_a_department_sees_its_own_cases(client, city, cases, auth_header):
    headers = auth_header(city.east_handler)
    assert_counts(get_fc(client, headers), counted(cases, department_id=city.east.id))
    resp = client.get(URL, query_string={"department_id": city.west.id}, headers=headers)
    assert resp.status_code == 403
    assert error_of(resp) == {"code": "forbidden",
                                        "message": "只能查看本部门及下级单位的统计"}  # fmt: skip


def test_staff_only(client, make_citizen, auth_header):
    resp = client.get(URL, headers=auth_header(make_citizen("o-heat-citizen")))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "staff_only"
    assert client.get(URL).get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cell": 50}, "cell"), ({"bbox": "1,2,3"}, "bbox"), ({"state": "lost"}, "state"),
     ({"from": "2025-04-01"}, "from"), ({"category": "NOPE"}, "category")],
)  # fmt: skip
def test_bad_arguments_are_422(client, city, auth_header, params, field):
    resp = client.get(URL, query_string={**MARCH, **params},
                      headers=auth_header(city.dispatcher))  # fmt: skip
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_counted_in_sql_never_row_by_row(client, app, city, cases, auth_header):
    """One grouped statement over the reports; only the occupied cells come back."""
    seen: list[tuple[str, int]] = []

    def watch(conn, cursor, statement, *_):
        if "reports" in statement:
            seen.append((statement, cursor.rowcount))

    engine = db.session.get_bind().engine
    event.listen(engine, "after_cursor_execute", watch)
    try:
        fc = get_fc(client, auth_header(city.dispatcher))
    finally:
        event.remove(engine, "after_cursor_execute", watch)
    [(statement, _)] = seen
    assert "GROUP BY" in statement and "count(*)" in statement.lower()
    assert fc["properties"]["cells"] < fc["properties"]["total"]


def test_the_same_grid_as_the_shop_heat_map(client, city, auth_header):
    """A shop and a case at one point fall in the very same square of both layers, even when
    the shops' reference latitude (46°: most shops are far north) is not the districts' (42°)."""
    industry = Industry(code="catering", name="餐饮")
    db.session.add(industry)
    db.session.flush()
    point = (41.8012, 123.3511)
    for i, (lat, lng) in enumerate((point, (45.9, 123.4), (45.95, 123.4))):
        first17 = f"92210100MA{i:07d}"
        db.session.add(Shop(name=f"测试店{i}", industry_id=industry.id, address="测试地址",
                            credit_code=first17 + check_char(first17), lat=lat, lng=lng,
                            district_code="T-W", owner_name="张三", owner_phone="13800000000",
                            status=ShopStatus.ACTIVE, duties=[]))  # fmt: skip
    db.session.execute(insert(Report.__table__), [case(*point)])
    db.session.flush()
    for cell in (300, 500, 2000):
        shops = client.get("/api/v1/shops/heatmap", query_string={"cell": cell}).get_json()
        fc = get_fc(client, auth_header(city.dispatcher), cell=cell)
        [feature] = fc["features"]
        shop_cell = shops["features"][cell_of(shops, *point)]
        assert feature["geometry"] == shop_cell["geometry"]


def test_floor_is_a_true_floor_on_every_database(db_session):
    values = [-1.5, -2.0, -0.2, 0.0, 0.7, 3.0]
    got = [db.session.scalar(select(floor_int(literal(v)))) for v in values]
    assert got == [-2, -2, -1, 0, 0, 3]
