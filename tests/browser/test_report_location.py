"""Trustworthy locations in a real browser (issue 14): the report form says which district and
street the point lies in as it moves, refuses a point outside the city before the citizen can
submit it, warns when the typed address names another district, opens its map where the citizen
stands with the streets drawn and named (no tile server here), and a report from a shop's plate
takes the shop's point; nearby from Shanghai says so; the staff maps draw the streets too."""

from __future__ import annotations

import io
import re

from PIL import Image

from app.geo.coords import from_canonical
from tests.browser.conftest import (
    desktop_context,
    phone_context,
    staff_login,
    watch,
)

BEIJING = (39.9087, 116.3975)  # WGS-84, 天安门
SHANGHAI = (31.2304, 121.4737)  # WGS-84, 人民广场
XINGHUA = (41.7960, 123.3710)  # GCJ-02, inside the synthetic 兴华街道 of 铁西区
RED = "rgb(250, 81, 81)"


def sign_in_to_the_form(browser, live_server, errors, at, path="/h5/report"):
    """A phone whose GPS reports ``at`` (WGS-84), signed in, on the report form."""
    phone = phone_context(browser, live_server, lat=at[0], lng=at[1])
    page = phone.new_page()
    watch(page, errors)
    page.goto(path)
    page.click("#confirm")  # the public account's sign-in (the emulator), then back
    page.wait_for_url("**/h5/report*")
    return phone, page


def tap_map_at(page, lat: float, lng: float) -> None:
    """Tap the picker where the GCJ-02 point (lat, lng) is drawn, as a citizen's finger would."""
    x, y = page.evaluate(
        """([lat, lng]) => { const p = document.getElementById('pick-map').zhMap
                             .latLngToContainerPoint([lat, lng]); return [p.x, p.y]; }""",
        [lat, lng],
    )
    page.click("#pick-map", position={"x": x, "y": y})


def test_a_point_in_beijing_is_refused_and_the_map_pick_is_named(browser, live_server,
                                                                  page_errors):  # fmt: skip
    phone, page = sign_in_to_the_form(browser, live_server, page_errors, BEIJING)
    page.click("#locate-btn")
    page.wait_for_selector("#location-outside:not([hidden])")
    assert page.inner_text("#location-outside") == "该位置不在本市范围内，请重新选择"
    assert page.eval_on_selector("#location-outside", "el => getComputedStyle(el).color") == RED
    assert page.is_disabled("#submit-btn")  # no "提交成功" for a point in Beijing
    assert page.is_hidden("#location-district")

    page.click("#pick-btn")  # the map opens over the city, not over Beijing
    page.wait_for_selector("#pick-map:not([hidden])")
    page.wait_for_function("document.getElementById('pick-map').zhMap.getZoom() >= 11")
    tap_map_at(page, *XINGHUA)
    page.wait_for_selector("#location-district:not([hidden])")
    page.wait_for_function(
        "document.getElementById('location-district').textContent.includes('兴华街道')"
    )
    assert page.inner_text("#location-district") == "此位置属于 铁西区 · 兴华街道"
    assert page.is_hidden("#location-outside") and page.is_enabled("#submit-btn")
    assert page.input_value("#coord-sys") == "gcj02"

    # An address in another district: a warning, not a refusal.
    page.fill("#address", "和平区太原街12号门前")
    page.wait_for_selector("#address-mismatch:not([hidden])")
    warning = page.inner_text("#address-mismatch")
    assert "和平区" in warning and "铁西区" in warning and "仍可提交" in warning
    assert page.is_enabled("#submit-btn")
    page.fill("#address", "铁西区兴华南街12号门前")
    page.wait_for_selector("#address-mismatch", state="hidden")
    phone.close()
    assert page_errors == []


def test_the_picker_opens_where_the_citizen_stands_with_named_streets(browser, live_server,
                                                                      page_errors):  # fmt: skip
    gps = from_canonical(*XINGHUA, "wgs84")  # what the phone's GPS says there
    phone, page = sign_in_to_the_form(browser, live_server, page_errors, gps)
    page.click("#pick-btn")
    # Zoomed to the citizen's street (no tile server: the street lines and names are the map).
    page.wait_for_function("document.getElementById('pick-map').zhMap.getZoom() >= 13")
    label = page.locator(".zh-street-label", has_text="兴华街道")
    label.wait_for(state="visible")
    assert page.locator(".zh-street-label:visible").count() >= 1
    assert page.input_value("#lat") == ""  # where the citizen stands is not yet the point
    tap_map_at(page, XINGHUA[0] + 0.001, XINGHUA[1])
    page.wait_for_function(
        "document.getElementById('location-district').textContent.includes('兴华街道')"
    )
    phone.close()
    assert page_errors == []


def photo_file() -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), "#778899").save(buf, "JPEG")
    return {"name": "店门口.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}


def test_a_report_from_a_shop_plate_takes_the_shops_point(browser, live_server, page_errors):
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    staff_login(staff, "dispatcher")
    shops = staff.evaluate("zh.api('GET', '/api/v1/staff/shops?status=active&per_page=1')")
    shop = shops["items"][0]
    detail = staff.evaluate(f"zh.api('GET', '/api/v1/staff/shops/{shop['id']}')")
    code = next(c["code"] for c in detail["codes"] if c["status"] == "active")
    desk.close()

    phone = phone_context(browser, live_server, lat=BEIJING[0], lng=BEIJING[1])
    page = phone.new_page()
    watch(page, page_errors)
    page.goto(f"/s/{code}")
    assert "将自动使用店铺登记的位置" in page.inner_text("body")
    page.click("#shop-report")
    page.click("#confirm")
    page.wait_for_url("**/h5/report?shop=*")
    assert shop["name"] in page.inner_text("#shop-binding")
    district = page.inner_text("#shop-district")
    assert re.fullmatch(r"所属区域：\S+(区|县|市)( · \S+)?", district), district
    assert page.input_value("#lat") != "" and page.input_value("#coord-sys") == "gcj02"
    page.wait_for_function(
        "document.getElementById('location-district').textContent.startsWith('此位置属于 ')"
    )
    assert (
        page.inner_text("#location-district")
        .removeprefix("此位置属于 ")
        .startswith(district.removeprefix("所属区域：").split(" · ")[0])
    )
    # Filed without choosing a point (the citizen stands in Beijing: never asked).
    page.set_input_files("#photo-input", [photo_file()])
    page.wait_for_selector("#photo-list li:not(.weui-uploader__file_status)", timeout=20000)
    page.fill("#description", "店门口占道经营，摆了很多桌椅")
    page.click("#submit-btn")
    page.wait_for_url(re.compile(r"/h5/reports/[^/?]+\?submitted=1$"))
    assert shop["name"] in page.inner_text("body")
    phone.close()
    assert page_errors == []


def test_nearby_from_shanghai_says_so(browser, live_server, page_errors):
    phone = phone_context(browser, live_server, lat=SHANGHAI[0], lng=SHANGHAI[1])
    page = phone.new_page()
    watch(page, page_errors)
    page.goto("/nearby/toilet")
    page.wait_for_selector("#nearby-notice:not([hidden])")
    assert (
        page.inner_text("#nearby-notice") == "您当前不在本市范围内，以下为距离市中心最近的公共厕所"
    )
    assert page.inner_text("#where") == "已按距市中心的距离排序（直线距离）"
    first = page.inner_text("#list .dist >> nth=0")
    assert "公里" not in first or float(first.split()[0]) < 20  # near the centre, not 1,100 km
    phone.close()
    assert page_errors == []


def test_staff_maps_draw_the_streets_without_tiles(browser, live_server, page_errors):
    desk = desktop_context(browser, live_server)
    page = desk.new_page()
    watch(page, page_errors)
    staff_login(page, "admin")
    for path in ("/console/shops/heatmap", "/console/admin/regions"):  # heat.js, manage.js
        page.goto(path)
        page.wait_for_selector(".zh-street-label", state="attached")
        names = page.eval_on_selector_all(".zh-street-label", "els => els.map(e => e.textContent)")
        assert {"兴华街道", "滑翔街道", "太原街街道", "南湖街道"} <= set(names), (path, names)
    desk.close()
    assert page_errors == []
