"""牛皮癣 in the console: an inspector photographs an ad, OCR suggests its number, the inspector
confirms it; a dispatcher finds the number and sends the 到案通知 (one SMS, a deadline)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFont

from tests.browser.conftest import desktop_context, staff_login, watch

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def ad_photo(number: str) -> bytes:
    img = Image.new("RGB", (720, 480), (150, 148, 142))
    draw = ImageDraw.Draw(img)
    draw.rectangle((120, 110, 600, 370), fill=(255, 240, 120))
    draw.text(
        (160, 140), "专业开锁", font=ImageFont.truetype(FONT, 64, index=2), fill=(200, 20, 20)
    )
    spaced = f"{number[:3]} {number[3:7]} {number[7:]}"
    draw.text((160, 260), spaced, font=ImageFont.truetype(FONT, 48, index=2), fill=(20, 20, 20))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def test_inspector_records_a_number_and_a_dispatcher_sends_the_notice(
    browser, live_server, page_errors
):
    number = "13" + str(random.Random().randint(500_000_000, 999_999_999))
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, "inspector")
    page.goto("/console/smallads/capture")
    page.set_input_files("#photo", files=[{"name": "ad.jpg", "mimeType": "image/jpeg",
                                           "buffer": ad_photo(number)}])  # fmt: skip
    status = "document.getElementById('ocr-status').textContent"
    page.wait_for_function(f"{status}.includes('号码') && !{status}.includes('正在')",
                           timeout=60_000)  # fmt: skip
    assert page.input_value("#numbers") == number, page.inner_text("#ocr-status")
    page.fill("#lat", "41.7930")
    page.fill("#lng", "123.4080")
    page.fill("#address", "和平区太原街12号楼道")
    page.click("#save")
    page.get_by_text("已登记号码").wait_for()
    context.clear_cookies()

    staff_login(page, "dispatcher")
    page.goto(f"/console/smallads?phone={number}")
    page.click(f"#advertiser-table a:has-text('{number}')")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="发送到案通知").click()
    page.wait_for_function("document.getElementById('state').textContent.includes('已通知')")
    assert "到案通知" in page.inner_text("#sms-table")
    assert "发送到案通知" in page.inner_text("#events")
    assert page.get_by_role("button", name="发送到案通知").count() == 0
    context.close()
    assert page_errors == []
