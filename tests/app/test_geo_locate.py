"""GET /api/v1/geo/locate (which district and street a point lies in, as the report form asks
while the pin moves) and GET /api/v1/geo/boundaries?level=street (the streets drawn under maps
without a tile server), on the demo city: the real Shenyang districts and the synthetic streets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.geo import coords, regions
from app.geo.models import Region
from reports.seed import DEMO_POINTS

XINGHUA = (41.7960, 123.3710)  # GCJ-02, inside the synthetic 兴华街道 of 铁西区
XIAOBEI = DEMO_POINTS["xiaobei_yilu"]  # 铁西区, outside every street
BEIJING = DEMO_POINTS["outside_shenyang"]
URL = "/api/v1/geo/locate"


def locate(client, lat, lng, **params):
    return client.get(URL, query_string={"lat": lat, "lng": lng, **params})


def test_a_point_in_a_street_names_its_district_and_street(client, demo_city):
    resp = locate(client, *XINGHUA, coord="gcj02")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["inside"] is True
    assert body["label"] == "铁西区 · 兴华街道"
    assert (body["district"]["code"], body["district"]["name"]) == ("210106", "铁西区")
    assert (body["street"]["code"], body["street"]["name"]) == ("210106-S02", "兴华街道")
    min_lat, min_lng, max_lat, max_lng = body["district"]["bbox"]  # to zoom a map to it
    assert min_lat < XINGHUA[0] < max_lat and min_lng < XINGHUA[1] < max_lng


def test_a_point_outside_every_street_names_only_its_district(client, demo_city):
    body = locate(client, XIAOBEI.lat, XIAOBEI.lng).get_json()  # gcj02 is the default
    assert body["inside"] is True and body["label"] == "铁西区" and body["street"] is None


def test_the_point_is_converted_from_the_callers_system_first(client, demo_city):
    wgs = coords.from_canonical(*XINGHUA, "wgs84")
    bd = coords.from_canonical(*XINGHUA, "bd09")
    answer = locate(client, *wgs, coord="wgs84").get_json()
    assert answer["label"] == "铁西区 · 兴华街道"
    assert answer["point"] == pytest.approx({"lat": XINGHUA[0], "lng": XINGHUA[1]}, abs=2e-6)
    assert locate(client, *bd, coord_sys="bd09").get_json()["label"] == "铁西区 · 兴华街道"
    # Read as GCJ-02, the WGS-84 numbers lie ~500 m away: the system matters.
    assert wgs != XINGHUA


def test_a_point_outside_the_city_is_said_so(client, demo_city):
    body = locate(client, BEIJING.lat, BEIJING.lng).get_json()
    assert body == {"inside": False, "message": "该位置不在沈阳市范围内，请重新选择位置",
                    "point": {"lat": BEIJING.lat, "lng": BEIJING.lng}}  # fmt: skip


def test_the_answer_is_the_one_rule_of_app_geo_regions(client, demo_city):
    """A point on the edge between two districts gets the district the submission would get."""
    for lat, lng in [(41.80, 123.43), (41.7700, 123.3640), (42.5, 123.0), (41.2, 122.5)]:
        body = locate(client, lat, lng).get_json()
        try:
            place = regions.place(lat, lng)
        except regions.OutsideCity:
            assert body["inside"] is False
            continue
        assert body["inside"] is True and body["district"]["code"] == place.district_code


def test_bad_arguments_are_field_errors(client, demo_city):
    cases = [({"lng": 123.4}, "lat"), ({"lat": "north", "lng": 123.4}, "lat"),
             ({"lat": 41.8, "lng": 181}, "lng"), ({"lat": "nan", "lng": 123.4}, "lat"),
             ({"lat": 41.8, "lng": 123.4, "coord": "utm"}, "coord")]  # fmt: skip
    for params, field in cases:
        resp = client.get(URL, query_string=params)
        assert resp.status_code == 422, params
        error = resp.get_json()["error"]
        assert field in error["fields"], (params, error)
    assert client.get(URL, query_string={"lng": 1}).get_json()["error"]["fields"]["lat"] == [
        "请提供纬度"
    ]


def test_without_regions_nothing_is_refused(client):
    """A fresh install before the seed: no district is known, nothing is outside."""
    body = locate(client, *XINGHUA).get_json()
    assert body == {"inside": True, "district": None, "street": None, "label": "",
                    "point": {"lat": XINGHUA[0], "lng": XINGHUA[1]}}  # fmt: skip


def test_locate_is_rate_limited_per_address(client, app, demo_city, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PUBLIC", "3/minute")
    codes = [locate(client, *XINGHUA).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = locate(client, *XINGHUA)
    assert resp.get_json()["error"]["code"] == "rate_limited" and resp.headers["Retry-After"]


def test_the_spec_documents_locate(client):
    spec = client.get("/api/openapi.json").get_json()
    op = spec["paths"]["/api/v1/geo/locate"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["lat"]["required"] and params["lng"]["required"]
    assert params["coord"]["schema"]["default"] == "gcj02"
    assert {"200", "422", "429"} <= set(op["responses"])
    levels = {p["name"]: p for p in spec["paths"]["/api/v1/geo/boundaries"]["get"]["parameters"]}
    assert levels["level"]["schema"]["enum"] == ["district", "street"]


# ---------------------------------------------------------------- streets for the maps


def test_streets_with_names_for_maps_without_tiles(client, demo_city):
    resp = client.get("/api/v1/geo/boundaries?level=street")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = resp.get_json()
    names = {f["properties"]["name"]: f["properties"] for f in fc["features"]}
    assert set(names) == {"滑翔街道", "兴华街道", "太原街街道", "南湖街道"}
    assert names["兴华街道"]["district"] == "210106"
    assert names["兴华街道"]["district_name"] == "铁西区"
    feature = next(f for f in fc["features"] if f["properties"]["name"] == "兴华街道")
    ring = feature["geometry"]["coordinates"][0][0]
    assert ring[0] == ring[-1] and min(p[1] for p in ring) <= XINGHUA[0] <= max(p[1] for p in ring)
    heping = client.get("/api/v1/geo/boundaries?level=street&district=210102").get_json()
    assert {f["properties"]["name"] for f in heping["features"]} == {"太原街街道", "南湖街道"}
    again = client.get("/api/v1/geo/boundaries?level=street",
                       headers={"If-None-Match": resp.headers["ETag"]})  # fmt: skip
    assert again.status_code == 304


def test_streets_follow_the_regions_snapshot(client, app, demo_city):
    """An admin's edit gives a new snapshot of the regions (app.changes; simulated here by
    dropping the process's snapshot): the streets drawn and the locate answer follow it."""
    before = client.get("/api/v1/geo/boundaries?level=street").get_json()
    street = db.session.scalar(select(Region).where(Region.code == "210106-S02"))
    street.is_active = False
    db.session.flush()
    app.extensions.pop("geo_regions")
    after = client.get("/api/v1/geo/boundaries?level=street").get_json()
    assert len(after["features"]) == len(before["features"]) - 1
    assert locate(client, *XINGHUA).get_json()["label"] == "铁西区"


@pytest.mark.parametrize("level", ["", "district"])
def test_the_district_boundaries_stay_the_bundled_file(client, level):
    resp = client.get("/api/v1/geo/boundaries" + (f"?level={level}" if level else ""))
    names = [f["properties"]["name"] for f in resp.get_json()["features"]]
    assert names[0] == "沈阳市" and "铁西区" in names


def test_the_city_centre_is_by_the_old_town(demo_city):
    """Maps open there and a search from outside the city starts there: by 市府广场, in the urban
    core, not in the middle of the counties (the city polygon's own middle is near 新民)."""
    lat, lng = regions.city_centre()
    shifu = (41.8050, 123.4330)  # GCJ-02, 市府广场
    assert coords.haversine_m(lat, lng, *shifu) < 3000
    district = regions.district_of(regions.locate(lat, lng))
    assert district.name in {"和平区", "沈河区", "皇姑区", "大东区", "铁西区"}
