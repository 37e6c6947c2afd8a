"""A location sent to the public account outside a report conversation: the nearest public
toilets and parking places, with distances and the H5 list's link."""

from __future__ import annotations

from app.geo import coords
from tests.wechat import mp_push

TAIYUAN_JIE = (41.7930, 123.4080)  # WGS-84, 和平区


def test_a_location_gets_the_nearest_toilets_and_parking(app, client, make_facility):
    lat, lng = TAIYUAN_JIE
    for i, name in enumerate(("太原街公厕", "中华路公厕", "南京街公厕", "北五马路公厕")):
        make_facility("toilet", lat + 0.002 * (i + 1), lng, name=name)
    make_facility("parking", lat, lng + 0.01, name="太原街停车场")
    # WeChat's location message is GCJ-02 (Location_X = latitude, Location_Y = longitude).
    g_lat, g_lng = coords.convert(lat, lng, "wgs84", "gcj02")
    reply = mp_push.push(client, app, mp_push.location("o-walker", round(g_lat, 6),
                                                        round(g_lng, 6), "太原街"))  # fmt: skip
    lines = reply.splitlines()
    assert lines[0] == "您发送的位置：太原街"
    toilets = lines[lines.index("【最近的公共厕所】") + 1 :][:3]
    assert toilets == [
        "1. 太原街公厕（220 米）",
        "2. 中华路公厕（440 米）",
        "3. 南京街公厕（670 米）",
    ]
    assert "北五马路公厕" not in reply  # three of each
    parking = lines[lines.index("【最近的停车场】") + 1]
    assert parking.startswith("1. 太原街停车场（") and parking.endswith("米）")
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert (
        f"查看地图和导航：{base}/nearby/toilet?lat={g_lat:.6f}&lng={g_lng:.6f}&coord_sys=gcj02"
        in lines
    )


def test_a_location_without_coordinates_is_asked_again(app, client, kinds):
    xml = mp_push.location("o-walker", 0, 0).replace("<Location_X>0</Location_X>", "")
    assert mp_push.push(client, app, xml) == "未能识别您发送的位置，请重新发送。"
