"""车窗抛物 from the citizen's phone to the money in their wallet, in a real browser.

A citizen signs in through the public account (the WeChat emulator, with a unionid that also
links their mini-program identity: WeChat Pay transfers to the mini-program's openid), files a
report with two photos, a plate and the device's location on a 360 px wide phone; the reviewer
marks it valid in the console; one finance account prepares a batch, which it cannot release
itself, and a second one releases it; the payout worker (``flask rewards pay``) sends the transfer
to the embedded WeChat Pay emulator; the citizen taps 确认收款, confirms on the emulator's page,
and once the emulator's callback has arrived the report shows 已到账.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import uuid

import requests
from PIL import Image

from app.geo.coords import from_canonical
from reports.seed import DEMO_POINTS
from tests.browser.conftest import (
    BIN,
    DEMO_PASSWORD,
    ROOT,
    desktop_context,
    phone_context,
    screenshot,
    staff_login,
    watch,
)


def photo_file(name: str, colour: str) -> dict:
    """A camera-sized JPEG as a file chooser gives it."""
    buf = io.BytesIO()
    Image.new("RGB", (2400, 1800), colour).save(buf, "JPEG", quality=85)
    return {"name": name, "mimeType": "image/jpeg", "buffer": buf.getvalue()}


def flask(live_server, *args: str) -> str:
    """Run a ``flask`` command against the live server's database; its output."""
    done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=live_server.env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def flash_text(page) -> str:
    page.wait_for_selector("#flash:not([hidden])")
    return page.inner_text("#flash")


def test_littering_report_to_reward_received(browser, live_server, page_errors):
    tag = uuid.uuid4().hex[:8]
    unionid, plate = f"u-lt-{tag}", f"辽A{int(tag, 16) % 100000:05d}"

    # ---------------------------------------------------------------- the citizen reports
    point = DEMO_POINTS["xiaobei_yilu"]  # in 铁西区
    wgs_lat, wgs_lng = from_canonical(point.lat, point.lng, "wgs84")
    phone = phone_context(browser, live_server, lat=wgs_lat, lng=wgs_lng)
    citizen = phone.new_page()
    watch(citizen, page_errors)
    citizen.goto("/h5/littering/new")  # signed out: the public account's sign-in, then back
    citizen.fill("#unionid", unionid)
    citizen.get_by_role("button", name="切换").click()
    citizen.wait_for_selector(f"text=unionid：{unionid}")
    citizen.click("#confirm")
    citizen.wait_for_url("**/h5/littering/new")
    linked = requests.post(live_server.url("/api/v1/auth/miniprogram"),
                           json={"code": f"test:o-mini-{tag}:{unionid}"}, timeout=10)  # fmt: skip
    assert linked.ok, linked.text

    assert "省份简称+字母+5位，新能源6位" in citizen.inner_text("#plate-hint")
    citizen.set_input_files("#evidence-input", [photo_file("抛物.jpg", "#7a8f70"),
                                                photo_file("车牌.jpg", "#405060")])  # fmt: skip
    citizen.wait_for_function(
        "document.querySelectorAll('#evidence-list li:not(.weui-uploader__file_status)').length"
        " === 2",
        timeout=30000,
    )
    citizen.fill("#plate", plate)
    citizen.click("#locate-btn")
    citizen.wait_for_function("document.getElementById('lat').value !== ''")
    citizen.fill("#address", "铁西区小北一路路口")
    screenshot(citizen, "h5-littering-filled")
    citizen.click("#submit-btn")
    citizen.wait_for_url(re.compile(r"/h5/littering/CC[^/?]+\?submitted=1$"), timeout=30000)
    number = citizen.inner_text("#report-number").strip()
    assert citizen.inner_text("#report-status") == "待审核"
    assert citizen.inner_text("#report-plate") == plate
    assert citizen.locator("#evidence img").count() == 2

    # ---------------------------------------------------------------- the reviewer: valid
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff.on("dialog", lambda dialog: dialog.accept())
    staff_login(staff, "reviewer")
    staff.goto("/console/littering/reports")
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/littering/reports/{number}")
    assert staff.locator("#evidence img").count() == 2
    staff.check("#decision-valid")
    staff.click("#review-submit")
    assert "审核完成" in flash_text(staff)
    assert staff.inner_text("#report-state") == "有效"
    desk.clear_cookies()

    # ---------------------------------------------------------------- finance: four eyes
    staff_login(staff, "finance")
    staff.goto("/console/littering/rewards?state=accrued")
    assert "50 元" in staff.inner_text("#reward-table")
    staff.click("#prepare-submit")
    staff.wait_for_url(re.compile(r"/console/littering/batches/PB[^/]+$"))
    batch_url = staff.url
    assert "发放批次已生成" in flash_text(staff)
    assert "需另一名财务人员放行" in staff.inner_text("#batch-actions")
    assert staff.is_disabled("#release")
    desk.clear_cookies()

    second = f"finance_{tag}"  # the demo city has one finance account: a second one releases
    flask(live_server, "users", "create-staff", second, "--role", "finance",
          "--display-name", "复核财务", "--password", DEMO_PASSWORD)  # fmt: skip
    staff_login(staff, second)
    staff.goto(batch_url)
    staff.click("#release")
    assert "批次已放行" in flash_text(staff)
    assert staff.inner_text("#batch-state") == "已放行"
    desk.close()

    counts = json.loads(flask(live_server, "rewards", "pay").strip().splitlines()[-1])
    assert counts.get("moved", 0) >= 1, counts

    # ---------------------------------------------------------------- the citizen confirms
    citizen.goto(f"/h5/littering/{number}")
    assert citizen.inner_text("#report-status") == "奖励待领取"
    assert citizen.inner_text("#reward-amount") == "50"
    citizen.click("#confirm-receipt")  # no WeixinJSBridge here: the emulator's confirm page
    citizen.wait_for_url(re.compile(r"/_wechatpay/confirm\?package="))
    citizen.click("#confirm")
    assert "收款成功" in citizen.inner_text("#message")
    deadline = time.monotonic() + 20  # the emulator's delivery thread posts the callback
    while True:
        citizen.goto(f"/h5/littering/{number}")
        status = citizen.inner_text("#report-status")
        if status == "已到账" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert status == "已到账"
    assert citizen.locator("#confirm-receipt").count() == 0
    citizen.goto("/h5/littering")
    assert citizen.inner_text("#paid-yuan") == "50"
    screenshot(citizen, "h5-littering-paid")
    phone.close()
    assert page_errors == []
