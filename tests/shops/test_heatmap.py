"""The shop heat map: counts per square cell as GeoJSON, filters, bbox, and the staff page."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.geo import haversine_m
from shops.credit_code import check_char
from shops.models import Industry, Shop, ShopStatus

# Two districts' worth of points around 铁西 and 沈河 (GCJ-02).
WEST, EAST = ("210106", (41.76, 41.82, 123.30, 123.38)), ("210103", (41.78, 41.83, 123.42, 123.48))


@pytest.fixture
def shops(db_session) -> list[dict]:
    """300 shops at random points: two industries, two districts, a tenth of them not trading."""
    rnd = random.Random(7)
    industries = {}
    for code, name in (("catering", "餐饮"), ("retail", "零售")):
        industry = Industry(code=code, name=name)
        db.session.add(industry)
        db.session.flush()
        industries[code] = industry.id
    rows = []
    for i in range(300):
        district, (lat1, lat2, lng1, lng2) = WEST if i % 3 else EAST
        industry = "catering" if i % 2 else "retail"
        status = ShopStatus.SUSPENDED if i % 10 == 0 else ShopStatus.ACTIVE
        first17 = f"92210100MA{i:07d}"
        rows.append({"name": f"店铺{i}", "industry_id": industries[industry],
                     "credit_code": first17 + check_char(first17), "address": "测试地址",
                     "lat": rnd.uniform(lat1, lat2), "lng": rnd.uniform(lng1, lng2),
                     "district_code": district, "owner_name": "张三", "owner_phone": "13800000000",
                     "status": status, "industry": industry, "duties": []})  # fmt: skip
    db.session.execute(
        insert(Shop), [{k: v for k, v in r.items() if k != "industry"} for r in rows]
    )
    db.session.flush()
    return rows


def brute_force(fc: dict, shops: list[dict]) -> Counter:
    """For every returned cell, the matching shops that fall inside its square (plain Python)."""
    counts: Counter = Counter()
    for i, feature in enumerate(fc["features"]):
        ring = feature["geometry"]["coordinates"][0]
        west, south = ring[0]
        east, north = ring[2]
        for s in shops:
            if west <= s["lng"] < east and south <= s["lat"] < north:
                counts[i] += 1
    return counts


def get_fc(client, query: str = "") -> dict:
    resp = client.get(f"/api/v1/shops/heatmap{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/geo+json"
    return resp.get_json()


def active(shops: list[dict], **match) -> list[dict]:
    return [s for s in shops if s["status"] == ShopStatus.ACTIVE
            and all(s[k] == v for k, v in match.items())]  # fmt: skip


def test_counts_equal_a_brute_force_count(client, shops):
    fc = get_fc(client)
    trading = active(shops)
    assert fc["properties"]["total"] == len(trading) == 270
    got = {i: f["properties"]["count"] for i, f in enumerate(fc["features"])}
    assert got == dict(brute_force(fc, trading))
    assert fc["properties"]["max"] == max(got.values()) and fc["properties"]["cells"] == len(got)


def test_geojson_shape_and_square_cells(client, shops):
    fc = get_fc(client, "?cell=1000")
    assert fc["type"] == "FeatureCollection" and fc["properties"]["cell_m"] == 1000
    for feature in fc["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
        ring = feature["geometry"]["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]
        (w, s), (e, _), (_, n) = ring[0], ring[1], ring[2]
        assert haversine_m(s, w, s, e) == pytest.approx(1000, rel=0.02)
        assert haversine_m(s, w, n, w) == pytest.approx(1000, rel=0.02)
    assert sum(f["properties"]["count"] for f in fc["features"]) == 270


def test_industry_and_district_filters(client, shops):
    fc = get_fc(client, "?industry=catering")
    assert fc["properties"]["total"] == len(active(shops, industry="catering"))
    fc = get_fc(client, "?district=210103&industry=retail,catering")
    assert fc["properties"]["total"] == len(active(shops, district_code="210103"))
    fc = get_fc(client, "?district=210106&industry=retail")
    expected = active(shops, district_code="210106", industry="retail")
    assert fc["properties"]["total"] == len(expected)
    got = {i: f["properties"]["count"] for i, f in enumerate(fc["features"])}
    assert got == dict(brute_force(fc, expected))
    assert get_fc(client, "?district=999999")["features"] == []


def test_bbox_keeps_only_shops_inside(client, shops):
    fc = get_fc(client, "?bbox=123.30,41.76,123.34,41.80&cell=200")
    inside = [
        s for s in active(shops) if 123.30 <= s["lng"] <= 123.34 and 41.76 <= s["lat"] <= 41.80
    ]
    assert 0 < fc["properties"]["total"] == len(inside) < 270


@pytest.mark.parametrize(
    "query, field",
    [("?cell=50", "cell"), ("?cell=abc", "cell"), ("?bbox=1,2,3", "bbox"),
     ("?bbox=123.4,41.8,123.3,41.7", "bbox"), ("?industry=spaceport", "industry")],
)  # fmt: skip
def test_bad_arguments_are_422(client, shops, query, field):
    resp = client.get(f"/api/v1/shops/heatmap{query}")
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_new_shops_reach_the_heat_map(client, shops):
    assert get_fc(client)["properties"]["total"] == 270
    shop = db.session.query(Shop).filter_by(status=ShopStatus.SUSPENDED).first()
    shop.status = ShopStatus.ACTIVE
    db.session.flush()
    assert get_fc(client)["properties"]["total"] == 270  # not committed: nobody else sees it
    db.session.commit()
    assert get_fc(client)["properties"]["total"] == 271


def test_empty_registry_gives_an_empty_collection(client, db_session):
    fc = get_fc(client)
    assert fc["features"] == [] and fc["properties"]["total"] == 0


def test_boundaries_are_served_for_the_map(client):
    resp = client.get("/api/v1/shops/heatmap/boundaries")
    fc = resp.get_json()
    assert resp.status_code == 200 and fc["type"] == "FeatureCollection"
    assert "铁西区" in {f["properties"]["name"] for f in fc["features"]}


def test_heat_map_page_requires_staff(client):
    resp = client.get("/console/shops/heatmap")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]


def sign_in(client, staff) -> None:
    with client.session_transaction() as session:
        session["staff_id"], session["staff_sv"] = staff.id, staff.session_version


def test_heat_map_page_uses_local_leaflet_only(client, shops, make_staff):
    sign_in(client, make_staff())
    resp = client.get("/console/shops/heatmap")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "店铺分布热力图" in page
    assert "/static/vendor/leaflet/leaflet.js" in page
    assert "/static/vendor/leaflet/leaflet.css" in page
    assert re.findall(r"https?://[^\s\"'<>]+", page) == []
    assert ">餐饮<" in page and ">铁西区<" in page and "未配置底图" in page
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset


def test_heat_map_page_uses_the_configured_tiles(client, app, make_staff, monkeypatch):
    tiles = "https://tiles.example.cn/{z}/{x}/{y}.png"
    monkeypatch.setitem(app.config, "MAP_TILE_URL", tiles)
    sign_in(client, make_staff())
    page = client.get("/console/shops/heatmap").get_data(as_text=True)
    assert tiles in page and "未配置底图" not in page
