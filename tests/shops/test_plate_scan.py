"""A shop plate scanned from the public account's menu (扫码查店铺): WeChat pushes the plate's
exact text (shops' own plate_url, in capitals) in ScanCodeInfo/ScanResult; the account answers
with the shop, masked, and the link to its page."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from shops import codes
from shops.models import CodeStatus, ShopCode
from tests.wechat import mp_push
from wechat.menus import SCAN_SHOP

SCANNER = "o-scanner-1"


def scan(client, app, text: str) -> str | None:
    return mp_push.push(client, app, mp_push.event(SCANNER, "scancode_push", SCAN_SHOP, text))


def test_the_plates_exact_text_opens_the_shop_masked_with_its_link(app, client, make_shop):
    shop = make_shop(name="老四季抻面馆", owner_name="张三丰", owner_phone="13800138000")
    code = shop_code(shop)
    with app.test_request_context():
        plate = codes.plate_url(code)
    assert plate == plate.upper() and plate.endswith(f"/S/{code}")  # what the plate encodes
    base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    for text in (plate, plate.lower(), f"{base}/s/{code}", f"{base}/s/{code.lower()}"):
        reply = scan(client, app, text)
        assert reply.startswith("【老四季抻面馆】"), (text, reply)
        assert "负责人：张** 138****8000" in reply and "13800138000" not in reply
        assert reply.endswith(f"{base}/s/{code}")


def test_unknown_replaced_and_foreign_codes_are_answered_in_chinese(app, client, make_shop):
    shop = make_shop()
    with app.test_request_context():
        old = codes.plate_url(shop_code(shop))
        codes.revoke_and_reissue(shop, "铭牌损坏", actor_label="test")
        base = app.config["PUBLIC_BASE_URL"].rstrip("/")
    assert scan(client, app, old) == "该二维码已更换，请扫描店铺最新二维码。"
    assert scan(client, app, f"{base}/S/00000000").startswith("未找到该店铺二维码")
    assert scan(client, app, "https://example.com/S/ABCDEFGH").startswith("您扫描的不是本市")
    assert scan(client, app, "6901234567892").startswith("您扫描的不是本市")


def shop_code(shop) -> str:
    """The shop's active plate code."""
    return db.session.scalar(select(ShopCode.code).where(
        ShopCode.shop_id == shop.id, ShopCode.status == CodeStatus.ACTIVE))  # fmt: skip
