"""Nearby from far away: the answer says when the nearest facility is farther than NEARBY_FAR_KM
or the citizen is outside the city, and from outside with nothing near it lists what is nearest
the city centre instead of "the toilets 1,138 km away" in Shenyang's south."""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from app.geo import coords, regions

SHANGHAI = (31.2304, 121.4737)  # WGS-84, 人民广场
TAIYUAN = (41.7930, 123.4080)  # WGS-84, 和平区 太原街
KANGPING = (42.7500, 123.3500)  # WGS-84, 康平县: in the city, ~110 km from 和平区
FUSHUN_EDGE = (41.8800, 123.9000)  # WGS-84, east of the city's box (抚顺), ~25 km from 浑南


def get(client, point, **params):
    query = {"kind": "toilet", "lat": point[0], "lng": point[1], "coord_sys": "wgs84"} | params
    return client.get("/api/v1/nearby", query_string=query).get_json()


@pytest.fixture
def toilets(make_facility, shenyang_regions):
    """Two toilets: one by the city centre, one in 苏家屯 (the nearest to anyone south of it)."""
    centre = coords.from_canonical(*regions.city_centre(), "wgs84")
    return {
        "centre": make_facility(lat=centre[0] + 0.002, lng=centre[1], name="市府广场公厕"),
        "south": make_facility(lat=41.5000, lng=123.3500, name="苏家屯南公厕"),
        "east": make_facility(lat=41.8000, lng=123.6000, name="浑南东公厕"),
    }


def test_near_and_inside_says_nothing(client, toilets):
    body = get(client, TAIYUAN)
    assert (body["far"], body["outside_city"], body["from_centre"]) == (False, False, False)
    assert body["message"] is None
    assert body["origin"] == {"lat": TAIYUAN[0], "lng": TAIYUAN[1]}


def test_from_shanghai_the_list_starts_at_the_city_centre(client, toilets):
    body = get(client, SHANGHAI)
    assert body["far"] and body["outside_city"] and body["from_centre"]
    assert body["message"] == "您当前不在本市范围内，以下为距离市中心最近的公共厕所"
    # Without the centre, 苏家屯 (the southernmost) would come first, 1,100 km away.
    assert [i["name"] for i in body["items"]][0] == "市府广场公厕"
    assert body["items"][0]["distance_m"] < 1000
    centre = coords.from_canonical(*regions.city_centre(), "wgs84")
    assert body["origin"] == pytest.approx({"lat": centre[0], "lng": centre[1]}, abs=1e-7)


def test_in_a_remote_corner_of_the_city_the_list_stays_around_the_citizen(client, toilets):
    body = get(client, KANGPING)
    assert body["far"] and not body["outside_city"] and not body["from_centre"]
    assert body["message"] == "您附近 50 公里内没有公共厕所，以下为离您最近的公共厕所"
    assert body["origin"] == {"lat": KANGPING[0], "lng": KANGPING[1]}
    assert body["items"][0]["distance_m"] > 50_000


def test_just_outside_the_city_near_a_facility(client, toilets):
    body = get(client, FUSHUN_EDGE)
    assert body["outside_city"] and not body["far"] and not body["from_centre"]
    assert body["message"] == "您当前不在本市范围内，以下为离您最近的公共厕所"
    assert body["items"][0]["name"] == "浑南东公厕"


def test_the_threshold_is_a_setting(client, app, toilets, monkeypatch):
    monkeypatch.setitem(app.config, "NEARBY_FAR_KM", 0.1)
    body = get(client, TAIYUAN)
    assert body["far"] and body["message"].startswith("您附近 0.1 公里内没有公共厕所")


def test_without_regions_only_distance_counts(client, make_facility):
    make_facility(lat=41.7935, lng=123.4080, name="太原街公厕")
    body = get(client, SHANGHAI)
    assert body["far"] and not body["outside_city"] and not body["from_centre"]
    assert body["items"][0]["name"] == "太原街公厕"


def test_the_page_shows_the_notice(client, toilets):
    with freeze_time(datetime(2026, 11, 21, 4, 0)):
        page = client.get(f"/nearby/toilet?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}&coord_sys=wgs84")
    text = page.get_data(as_text=True)
    assert "您当前不在本市范围内，以下为距离市中心最近的公共厕所" in text
    assert "已按距市中心的距离排序" in text and "市府广场公厕" in text
    quiet = client.get(f"/nearby/toilet?lat={TAIYUAN[0]}&lng={TAIYUAN[1]}&coord_sys=wgs84")
    assert 'id="nearby-notice" role="status" hidden' in quiet.get_data(as_text=True)


def test_the_spec_documents_the_notice(client):
    spec = client.get("/api/openapi.json").get_json()
    props = spec["components"]["schemas"]["NearbyOut"]["properties"]
    assert {"far", "outside_city", "from_centre", "message"} <= set(props)
