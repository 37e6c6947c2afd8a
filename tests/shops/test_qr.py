"""Plate QR images decode, with a real decoder, to exactly the plate URL; staff endpoints."""

from __future__ import annotations

import io
import re
import secrets

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw
from sqlalchemy import select

from app import qr
from app.audit import AuditLog
from app.auth.models import Role
from app.extensions import db
from shops import codes
from shops.models import CodeStatus, ShopCode, ShopStatus
from tests.shops.test_codes import new_shop  # noqa: F401  (fixture)


def decode(img: Image.Image) -> list[str]:
    """Every QR text zxing-cpp finds in the image."""
    return [
        r.text for r in zxingcpp.read_barcodes(img) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]


def rasterise_svg(svg: str, scale: int = 8) -> Image.Image:
    """Draw our SVG (a viewBox and one path of h/v runs) with Pillow, from the SVG text only."""
    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    img = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(img)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", re.search(r' d="([^"]*)"', svg)[1]):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return img


def urls(n: int) -> list[str]:
    return [f"HTTP://LOCALHOST/S/{codes.random_code()}" for _ in range(n)] + [
        f"https://cg.example.cn/zhcg/s/{codes.random_code()}",
        "HTTPS://CG.SHENYANG.GOV.CN/S/" + codes.random_code(),
        "https://example.org/" + secrets.token_hex(60),
    ]


def test_fast_matrix_equals_qrcode_matrix():
    sample = urls(60)
    for url, fast in zip(sample, qr.matrices(sample), strict=True):
        assert np.array_equal(fast, qr.qrcode_matrix(url)), url


def test_png_and_svg_decode_to_the_url():
    for url in urls(20):
        modules = qr.matrix(url)
        png = Image.open(io.BytesIO(qr.png_bytes(modules)))
        assert png.size[0] == (modules.shape[0] + 8) * qr.PNG_SCALE
        assert decode(png) == [url]
        assert decode(rasterise_svg(qr.svg_text(modules))) == [url]


def test_plate_qr_is_small_and_uses_error_correction_q(app):
    with app.test_request_context():
        app.config["PUBLIC_BASE_URL"] = "https://cg.shenyang.gov.cn"
        try:
            url = codes.plate_url("AB12CD34")
        finally:
            app.config["PUBLIC_BASE_URL"] = "http://localhost"
    assert qr.matrix(url).shape == (29, 29)  # version 3 (alphanumeric, Q)
    result = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png_bytes(qr.matrix(url)))))[0]
    assert result.ec_level == "Q"


@pytest.fixture
def shop_with_code(new_shop):  # noqa: F811
    shop = new_shop()
    return shop, codes.issue_code(shop)


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_staff_qr_endpoints(client, make_staff, auth_header, shop_with_code, ext):
    shop, code = shop_with_code
    url = f"/api/v1/staff/shops/{shop.id}/qr.{ext}"
    resp = client.get(url, headers=auth_header(make_staff("dispatcher", roles=(Role.DISPATCHER,))))
    assert resp.status_code == 200
    if ext == "png":
        assert resp.mimetype == "image/png"
        img = Image.open(io.BytesIO(resp.data))
    else:
        assert resp.mimetype == "image/svg+xml"
        img = rasterise_svg(resp.get_data(as_text=True))
    assert decode(img) == [f"HTTP://LOCALHOST/S/{code.code}"]
    missing = client.get(f"/api/v1/staff/shops/999999/qr.{ext}", headers=auth_header(make_staff()))
    assert missing.status_code == 404


PLATE_ROLES = {Role.ADMIN: 200, Role.DISPATCHER: 200, Role.HANDLER: 403, Role.REVIEWER: 403,
               Role.FINANCE: 403, Role.INSPECTOR: 403}  # fmt: skip


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_plate_image_is_for_the_roles_that_manage_shops(
    client, make_staff, make_citizen, auth_header, shop_with_code, ext
):
    """The plate image is a working plate (print it and it opens the shop): only admins and
    dispatchers, who manage shops, may fetch it, as every other staff shop route."""
    shop, _ = shop_with_code
    url = f"/api/v1/staff/shops/{shop.id}/qr.{ext}"
    assert client.get(url).status_code == 401
    citizen = client.get(url, headers=auth_header(make_citizen()))
    assert (citizen.status_code, citizen.json["error"]["code"]) == (403, "staff_only")
    for role, status in PLATE_ROLES.items():
        resp = client.get(url, headers=auth_header(make_staff(f"u-{role.value}", roles=(role,))))
        assert resp.status_code == status, role
        if status == 403:
            error = resp.json["error"]
            assert (error["code"], error["message"]) == ("forbidden", "没有权限执行此操作"), role


def test_reissue_endpoint(client, make_staff, auth_header, shop_with_code):
    shop, code = shop_with_code
    url = f"/api/v1/staff/shops/{shop.id}/codes/reissue"
    assert client.post(url, json={"reason": "丢失"}).status_code == 401
    handler = make_staff("handler", roles=(Role.HANDLER,))
    assert (
        client.post(url, json={"reason": "丢失"}, headers=auth_header(handler)).status_code == 403
    )
    admin = make_staff("admin", roles=(Role.ADMIN,))
    assert client.post(url, json={}, headers=auth_header(admin)).status_code == 422
    resp = client.post(url, json={"reason": "铭牌被盗"}, headers=auth_header(admin))
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["replaced"] == [code.code] and body["url"] == f"HTTP://LOCALHOST/S/{body['code']}"
    db.session.expire_all()
    old = db.session.scalar(select(ShopCode).where(ShopCode.code == code.code))
    assert old.status == CodeStatus.REVOKED and old.replaced_by.code == body["code"]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "shop.code_reissued"))
    assert entry.actor_staff_id == admin.id and entry.detail["reason"] == "铭牌被盗"


def test_reissue_closed_shop_is_409(client, make_staff, auth_header, new_shop):  # noqa: F811
    shop = new_shop(status=ShopStatus.CLOSED)
    codes.issue_code(shop)
    resp = client.post(
        f"/api/v1/staff/shops/{shop.id}/codes/reissue",
        json={"reason": "补发"},
        headers=auth_header(make_staff("d2", roles=(Role.DISPATCHER,))),
    )
    assert resp.status_code == 409 and resp.json["error"]["code"] == "shop_closed"


def test_reissue_naming_the_active_code(client, make_staff, auth_header, shop_with_code):
    shop, code = shop_with_code
    url = f"/api/v1/staff/shops/{shop.id}/codes/reissue"
    headers = auth_header(make_staff("d3", roles=(Role.DISPATCHER,)))
    first = client.post(url, json={"reason": "牌子丢失", "replaces": code.code.lower()},
                        headers=headers)  # fmt: skip
    assert first.status_code == 200 and first.json["replaced"] == [code.code]
    again = client.post(url, json={"reason": "牌子丢失", "replaces": code.code}, headers=headers)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "code_already_replaced"
    assert again.json["error"]["message"] == "该店铺的二维码刚刚已重新生成，请刷新页面查看新编号"
    db.session.expire_all()
    active = [c.code for c in shop.codes if c.status == CodeStatus.ACTIVE]
    assert active == [first.json["code"]]
