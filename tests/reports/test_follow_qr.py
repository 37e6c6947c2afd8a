"""The public account's follow QR code (/h5/follow-qr.png and .svg) and the 接收办理进展 box that
shows it on the case page right after a report is filed."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from reports import service
from reports.models import Channel
from tests.h5.test_home import BROWSER
from tests.reports.conftest import INSIDE_WEST

FOLLOW = "https://mp.weixin.qq.com/mp/profile_ext?action=home&__biz=MzA5NDcwMTgwNA=="


def decoded(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)
            if r.format == zxingcpp.BarcodeFormat.QRCode]  # fmt: skip


def rasterised(svg: str, scale: int = 8) -> Image.Image:
    """The SVG's module runs (``M{x} {y}h{n}v1h-{n}z``) drawn as pixels."""
    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    img = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(img)
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", svg):
        x, y, n = int(x), int(y), int(n)
        draw.rectangle([x * scale, y * scale, (x + n) * scale - 1, (y + 1) * scale - 1], fill=0)
    return img


@pytest.fixture
def filed(city, photo, make_citizen, client):
    """A report just filed on H5 by a citizen signed into the test client; its number."""
    citizen = make_citizen("o-follow-qr")
    sub = service.Submission(description="测试一区小北一路雨水井盖缺失，井口敞开很危险",
                             channel=Channel.MP_H5, lat=INSIDE_WEST[0], lng=INSIDE_WEST[1],
                             category_code="BJ0103", photo_ids=[photo(citizen)])  # fmt: skip
    report, _ = service.submit_report(sub, owner_key=f"user:{citizen.id}", citizen=citizen)
    with client.session_transaction() as sess:  # signed in, as the OAuth callback does
        sess["citizen_id"] = citizen.id
    return report.number


@pytest.fixture
def follow_url(app, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", FOLLOW)
    return FOLLOW


def test_the_png_holds_the_follow_link_and_needs_no_sign_in(client, follow_url):
    resp = client.get("/h5/follow-qr.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.cache_control.public and resp.cache_control.max_age == 86400
    image = Image.open(io.BytesIO(resp.data))
    assert image.width == image.height >= 200  # 8 px a module with the quiet zone
    assert decoded(image) == [follow_url]

    again = client.get("/h5/follow-qr.png", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_the_svg_holds_the_same_link(client, follow_url):
    resp = client.get("/h5/follow-qr.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    svg = resp.get_data(as_text=True)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'fill="#fff"' in svg
    assert decoded(rasterised(svg)) == [follow_url]


def test_a_new_follow_link_is_a_new_code(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", "http://weixin.qq.com/r/first")
    first = client.get("/h5/follow-qr.png")
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", "http://weixin.qq.com/r/second")
    second = client.get("/h5/follow-qr.png", headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    assert decoded(Image.open(io.BytesIO(second.data))) == ["http://weixin.qq.com/r/second"]


def test_the_emulator_follow_page_is_the_default(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", "")
    monkeypatch.setitem(app.config, "WECHAT_EMULATOR", True)
    resp = client.get("/h5/follow-qr.png")
    assert resp.status_code == 200
    assert decoded(Image.open(io.BytesIO(resp.data))) == [
        app.config["PUBLIC_BASE_URL"] + "/_wechat/follow"
    ]


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_no_follow_link_no_code(app, client, monkeypatch, ext):
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", "")
    monkeypatch.setitem(app.config, "WECHAT_EMULATOR", False)
    resp = client.get(f"/h5/follow-qr.{ext}")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["message"] == "未配置公众号关注二维码"


def test_the_case_page_offers_the_account_right_after_filing(app, client, filed, follow_url):
    page = client.get(f"/h5/reports/{filed}?submitted=1", headers=BROWSER).get_data(as_text=True)
    name = app.config["WECHAT_MP_NAME"]
    assert 'id="follow-box"' in page and "接收办理进展" in page
    assert f'id="follow-name">公众号：{name}</p>' in page
    assert f"关注公众号“{name}”，案件的受理、派遣、办结等每一步都会推送给您" in page
    assert "不订阅也不关注，也可以随时在“我的上报”查看办理进展。" in page
    src = re.search(r'<figure class="h5-follow__qr" id="follow-qr">\s*<img src="([^"]+)"', page)
    assert src and src.group(1).startswith("/h5/follow-qr.png?v=")
    image = client.get(src.group(1).replace("&amp;", "&"))
    assert decoded(Image.open(io.BytesIO(image.data))) == [follow_url]

    later = client.get(f"/h5/reports/{filed}", headers=BROWSER).get_data(as_text=True)
    assert 'id="follow-box"' not in later  # only right after filing


def test_without_a_follow_link_the_box_names_the_account_only(app, client, filed, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_MP_FOLLOW_URL", "")
    monkeypatch.setitem(app.config, "WECHAT_EMULATOR", False)
    page = client.get(f"/h5/reports/{filed}?submitted=1", headers=BROWSER).get_data(as_text=True)
    assert 'id="follow-box"' in page and app.config["WECHAT_MP_NAME"] in page
    assert 'id="follow-qr"' not in page and "/h5/follow-qr" not in page
