"""12345 in a real browser against the real server (gunicorn, the embedded emulator at
/_12345): a dispatcher finds the platform's orders by reply deadline and the 12345工单 block on
the case page; the emulator's page sends an order, and after a worker round shows the case's
status pushed back."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import requests

from app.geo import coords
from config import HOTLINE_EMULATOR_SECRET
from reports.hotline import signing
from reports.seed import DEMO_POINTS
from tests.browser.conftest import BIN, ROOT, desktop_context, staff_login, watch


def send(live_server, **fields) -> str:
    """A signed order of the platform: its case number."""
    body = json.dumps({"category_code": "CG0101", "category_name": "占道经营",
                       "content": "市民反映人行道被商贩占用摆摊，影响通行"} | fields,
                      ensure_ascii=False).encode()  # fmt: skip
    headers = signing.sign(HOTLINE_EMULATOR_SECRET, body, platform="sy12345")
    resp = requests.post(live_server.url("/api/v1/hotline/orders"), data=body, timeout=30,
                         headers=headers | {"Content-Type": "application/json"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()["case_number"]


def _in(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


def test_a_dispatcher_finds_orders_by_deadline_and_the_block_on_the_case(
    browser, live_server, page_errors
):
    run = uuid.uuid4().hex[:6].upper()
    point = DEMO_POINTS["taiyuan_jie"]
    bd_lat, bd_lng = coords.convert(point.lat, point.lng, "gcj02", "bd09")
    near = f"SY12345-NEAR-{run}"
    send(live_server, order_id=near, lat=bd_lat, lng=bd_lng, coord_sys="bd09",
         address=point.label, reply_deadline=_in(5))  # fmt: skip
    late = f"SY12345-LATE-{run}"
    number = send(live_server, order_id=late, address="铁西区北二路", reply_deadline=_in(-3))
    page = desktop_context(browser, live_server).new_page()
    watch(page, page_errors)
    staff_login(page, "dispatcher")
    page.get_by_role("link", name="12345工单").first.click()
    page.click("a[data-due=near]")
    row = page.locator(f"tr[data-order='{near}']")
    assert "剩余4小时" in row.inner_text() and row.get_attribute("data-deadline") == "near"
    assert page.locator(f"tr[data-order='{late}']").count() == 0
    page.click("a[data-due=overdue]")
    page.locator(f"tr[data-order='{late}'] a").click()
    page.wait_for_url(f"**/console/cases/{number}")
    block = page.locator("#hotline-block")
    assert "12345工单" in block.inner_text() and late in block.inner_text()
    assert page.inner_text("#hotline-time-left").startswith("已超期")
    assert "待推送1条" in page.inner_text("#hotline-push")
    assert page_errors == []


def test_the_emulator_sends_an_order_and_shows_its_status_pushed_back(browser, live_server):
    page = desktop_context(browser, live_server).new_page()
    page.goto("/_12345/")
    assert page.title() == "12345热线平台（模拟）"
    page.select_option("select[name=index]", label="垃圾清运")
    page.get_by_role("button", name="派发到城管系统").click()
    page.wait_for_load_state()
    first = page.locator("#sent-orders tr").nth(1)
    assert "成功（201）" in first.inner_text(), first.inner_text()
    number = json.loads(first.locator("td.answer").inner_text())["case_number"]
    worker = [str(BIN / "flask"), "hotline", "push"]  # the worker's 12345 task, one round
    done = subprocess.run(worker, cwd=ROOT, env=live_server.env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    page.reload()
    pushed = page.locator("#pushes tr", has_text=number)
    assert pushed.count() == 1 and "接收工单" in pushed.inner_text()
