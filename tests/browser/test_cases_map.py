"""身边案件 in a real browser: a neighbour opens the public map on a 360 px phone, sees the cases
near them as coloured markers and as a list (without anyone's words or address), taps
"我也遇到了" on a case someone else reported, is asked to sign in, signs in through the public
account (the WeChat emulator), comes back to the map and follows the case."""

from __future__ import annotations

import io
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import requests
from PIL import Image
from sqlalchemy import create_engine, text

from app.geo.coords import from_canonical
from reports.seed import DEMO_POINTS
from tests.browser.conftest import BIN, ROOT, phone_context, screenshot, watch

POINT = DEMO_POINTS["nan_huaxiang_lu"]  # GCJ-02, inside 铁西区's synthetic 滑翔街道
OPEN_TEXT = "南滑翔路9-2号楼南侧有生活垃圾堵塞消防通道，我家就住在二单元"
CLOSED_TEXT = "南滑翔路路口雨水井盖破损，车辆经过很危险，电话13900001111"


def reporter_headers(live_server) -> dict[str, str]:
    """A different citizen, signed in through the mini-program (the emulator's test code)."""
    code = f"test:o-cm-{uuid.uuid4().hex[:10]}"
    resp = requests.post(live_server.url("/api/v1/auth/miniprogram"), json={"code": code},
                         timeout=10)  # fmt: skip
    assert resp.ok, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def file_report(live_server, headers, description: str, north_m: float, colour: str) -> str:
    """A report with a photo, ``north_m`` metres north of POINT; its number."""
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(buf, "JPEG")
    media = requests.post(live_server.url("/api/v1/media"), headers=headers, timeout=10,
                          files={"file": ("现场.jpg", buf.getvalue(), "image/jpeg")})  # fmt: skip
    assert media.status_code == 201, media.text
    body = {"description": description, "photos": [media.json()["id"]], "coord_sys": "gcj02",
            "lat": POINT.lat + north_m / 111_195, "lng": POINT.lng,
            "address": "南滑翔路9-2号楼"}  # fmt: skip
    resp = requests.post(live_server.url("/api/v1/reports"), json=body, headers=headers,
                         timeout=10)  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()["number"]


def closed_days_ago(live_server, number: str, days: int) -> None:
    """Mark a case closed some days ago (the road to closure is test_case_flow's subject)."""
    engine = create_engine(live_server.env["DATABASE_URL"])
    when = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text("UPDATE reports SET state = 'closed', closed_at = :at WHERE number = :n"),
                     {"at": when, "n": number})  # fmt: skip
    engine.dispose()


def make_public_copies(live_server) -> None:
    """What `flask worker` does in production: the blurred public copies of new case photos
    (the public sees none until then, never the original)."""
    subprocess.run([str(BIN / "flask"), "privacy", "publish-pending"], cwd=ROOT,
                   env=live_server.env, check=True, capture_output=True)  # fmt: skip


def test_a_neighbour_finds_the_case_on_the_map_and_follows_it(browser, live_server, page_errors):
    reporter = reporter_headers(live_server)
    open_number = file_report(live_server, reporter, OPEN_TEXT, 80, "#8a7f70")
    closed_number = file_report(live_server, reporter, CLOSED_TEXT, -120, "#405060")
    closed_days_ago(live_server, closed_number, 3)
    make_public_copies(live_server)
    place = requests.get(live_server.url("/api/v1/geo/locate"), timeout=10,
                         params={"lat": POINT.lat, "lng": POINT.lng}).json()["label"]  # fmt: skip
    assert place.startswith("铁西区")

    # ---------------------------------------------------------------- anyone may look
    wgs_lat, wgs_lng = from_canonical(POINT.lat, POINT.lng, "wgs84")  # what the phone reports
    phone = phone_context(browser, live_server, lat=wgs_lat, lng=wgs_lng)
    page = phone.new_page()
    watch(page, page_errors)
    page.goto("/h5/cases/map")
    open_item, closed_item = f"#case-{open_number}", f"#case-{closed_number}"
    page.wait_for_selector(open_item, timeout=15000)
    page.wait_for_selector(closed_item)
    assert page.inner_text("#cases-status").startswith("您附近 1.0 公里内：")
    # markers coloured by phase: at least ours, one still being handled and one finished
    assert page.locator("path.zh-case-marker_open").count() >= 1
    assert page.locator("path.zh-case-marker_closed").count() >= 1
    assert page.locator("path.zh-case-me").count() == 1  # where the phone is
    item = page.inner_text(open_item)
    assert "待分类" in item and "已上报" in item and "距此 80 米" in item and place in item
    assert f"编号 {open_number}" in item
    closed = page.inner_text(closed_item)
    assert "已结案" in closed and "距此 120 米" in closed
    assert page.locator(f"{closed_item} .zh-nc-follow").count() == 0  # finished: nothing to follow
    # the first photo is shown; nobody's words, address or phone are
    assert page.evaluate(f"document.querySelector('{open_item} img.zh-nc-photo').naturalWidth") > 0
    body = page.content()
    for private in (OPEN_TEXT, CLOSED_TEXT, "南滑翔路9-2号楼", "13900001111"):
        assert private not in body
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the map page scrolls sideways on a 360 px phone ({width} px)"
    screenshot(page, "h5-cases-map")

    # ---------------------------------------------------------------- following asks to sign in
    button = f"{open_item} .zh-nc-follow"
    assert page.inner_text(button) == "我也遇到了"
    page.click(button)
    page.wait_for_selector("#zh-nc-login .weui-dialog")  # visible: the sign-in prompt
    assert "登录后即可" in page.inner_text("#zh-nc-login")
    page.click("#zh-nc-login-go")
    page.click("#confirm")  # the public account's sign-in page (the emulator)
    page.wait_for_url("**/h5/cases/map")
    page.wait_for_selector(open_item, timeout=15000)
    page.click(button)
    page.wait_for_function(
        f"document.querySelector('{button}').textContent === '已关注（取消）'", timeout=10000
    )
    assert page.inner_text(f"{open_item} .zh-nc-count") == "1 人也遇到了"

    # ---------------------------------------------------------------- it stays followed
    page.reload()
    page.wait_for_selector(open_item, timeout=15000)
    assert page.inner_text(button) == "已关注（取消）"
    assert page.inner_text(f"{open_item} .zh-nc-count") == "1 人也遇到了"
    phone.close()
    assert page_errors == []
