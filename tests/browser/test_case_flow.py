"""A case from the citizen's phone to closure and rating, in a real browser, as each person does it.

A citizen signs in through the public account (the WeChat emulator), files a report with a large
photo (downscaled in the browser before upload) and the device's location on a 360 px wide phone;
the dispatcher classifies and dispatches it from the console; 铁西区's handler accepts it and sends
feedback with an after photo and a public reply; the inspector verifies and closes it; the citizen
sees the closed timeline with both photos and the reply, and rates it. 和平区's handler can neither
see nor act on it. Still not satisfied, the citizen asks for it to be handled again
(不满意，重新办理) and adds a remark (补充说明): the dispatcher finds it first in 待派遣, flagged,
with both.
"""

from __future__ import annotations

import io
import re

from PIL import Image

from app.geo.coords import from_canonical
from reports.seed import DEMO_POINTS
from tests.browser.conftest import (
    desktop_context,
    phone_context,
    screenshot,
    staff_login,
    watch,
)

DESCRIPTION = "小北一路路口一处雨水井盖破损下陷，行人经过很危险"
REPLY = "已更换新的雨水井盖，路面已恢复通行"


def photo_file(name: str, size: tuple[int, int], colour: str) -> dict:
    """A camera-sized JPEG as a file chooser gives it."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return {"name": name, "mimeType": "image/jpeg", "buffer": buf.getvalue()}


def choose_option(page, select: str, text: str) -> None:
    """Pick the option of ``select`` whose visible text, trimmed, is ``text``."""
    value = page.eval_on_selector(
        select,
        "(el, text) => [...el.options].find(o => o.textContent.trim() === text).value",
        text,
    )
    page.select_option(select, value)


def act(page, action: str, fill=None) -> None:
    """Open an action's form on the console case page, fill it, send it, wait for success."""
    page.click(f"#action-{action}")
    if fill:
        fill()
    page.click(f"#submit-{action}")
    page.wait_for_selector("#flash:not([hidden])")
    flash = page.inner_text("#flash")
    assert "操作成功" in flash, flash


def test_report_to_closure_and_rating(browser, live_server, page_errors):
    # ---------------------------------------------------------------- the citizen reports
    point = DEMO_POINTS["xiaobei_yilu"]  # GCJ-02, in 铁西区, outside every street polygon
    wgs_lat, wgs_lng = from_canonical(point.lat, point.lng, "wgs84")  # what a phone's GPS says
    phone = phone_context(browser, live_server, lat=wgs_lat, lng=wgs_lng)
    citizen = phone.new_page()
    watch(citizen, page_errors)
    citizen.goto("/h5/report")  # signed out: to the public account's sign-in, then back
    citizen.click("#confirm")
    citizen.wait_for_url("**/h5/report")
    screenshot(citizen, "h5-report-empty")
    citizen.set_input_files("#photo-input", [photo_file("现场.jpg", (3200, 2400), "#8a7f70")])
    citizen.wait_for_selector("#photo-list li:not(.weui-uploader__file_status)", timeout=20000)
    citizen.click("#locate-btn")
    citizen.wait_for_function("document.getElementById('lat').value !== ''")
    assert citizen.input_value("#coord-sys") == "wgs84"
    citizen.fill("#address", "铁西区小北一路路口")
    citizen.fill("#description", DESCRIPTION)
    # suggestions as the citizen types (the citizen leaves the choice to the dispatcher)
    citizen.wait_for_selector('#category-chips .h5-chip[data-code]:not([data-code=""])')
    assert "井盖" in citizen.inner_text("#category-chips")
    screenshot(citizen, "h5-report-filled")
    citizen.click("#submit-btn")
    citizen.wait_for_url(re.compile(r"/h5/reports/[^/?]+\?submitted=1$"))
    number = citizen.inner_text("#report-number").strip()
    assert citizen.inner_text("#report-description") == DESCRIPTION
    assert "待工作人员确认" in citizen.inner_text("#report-category")
    assert citizen.locator("#rating-form").count() == 0
    # the photo reached the server downscaled to 1,600 px on its long side
    src = citizen.get_attribute("#before-photos img", "src")
    stored = Image.open(io.BytesIO(citizen.request.get(src).body()))
    assert max(stored.size) == 1600 and stored.size == (1600, 1200)

    # ---------------------------------------------------------------- the dispatcher dispatches
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    staff.goto("/console/cases?triage=1")
    staff.wait_for_selector(f"text={number}")
    screenshot(staff, "console-cases-triage")
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/cases/{number}")
    assert "派遣" in staff.inner_text("#actions")
    assert staff.locator("#action-verify_pass").count() == 0
    screenshot(staff, "console-case-triage")

    def dispatch_form() -> None:
        staff.select_option("#dispatch-category", "BJ0103")  # 雨水井盖
        choose_option(staff, "#dispatch-department", "铁西区城管局")

    act(staff, "dispatch", dispatch_form)
    staff.wait_for_selector("#case-state:has-text('已派遣')")
    staff.context.clear_cookies()

    # ---------------------------------------------------------------- 和平区's handler: no access
    other = desk.new_page()  # not watched: the 403 below is the expected answer
    staff_login(other, "heping_handler")
    other.goto("/console/cases")
    other.wait_for_load_state("networkidle")
    assert number not in other.inner_text("body")
    denied = other.evaluate(
        """n => zh.api("POST", "/api/v1/staff/reports/" + n + "/actions/accept", {})
                 .then(() => "done", e => e.status + " " + e.message)""",
        number,
    )
    assert denied.startswith("403"), denied
    response = other.goto(f"/console/cases/{number}")
    assert response.status == 403 and "该案件不属于您所在部门" in other.inner_text("body")
    other.close()
    staff.context.clear_cookies()

    # ---------------------------------------------------------------- 铁西区's handler completes
    staff_login(staff, "tiexi_handler")
    staff.goto("/console/cases")
    staff.wait_for_selector(f"text={number}")
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/cases/{number}")
    act(staff, "accept")
    staff.wait_for_selector("#case-state:has-text('处置中')")

    def feedback_form() -> None:
        staff.set_input_files("#feedback-photos", [photo_file("处置后.jpg", (1200, 900), "#3a6")])
        staff.fill("#feedback-note", "已更换新井盖并恢复路面，材料费另报")
        staff.fill("#feedback-public_reply", REPLY)

    act(staff, "feedback", feedback_form)
    staff.wait_for_selector("#case-state:has-text('处置完成')")
    staff.context.clear_cookies()

    # ---------------------------------------------------------------- the inspector verifies
    staff_login(staff, "inspector")
    staff.goto(f"/console/cases/{number}")
    act(staff, "verify_pass", lambda: staff.fill("#verify_pass-note", "现场核查，井盖已更换"))
    staff.wait_for_selector("#case-state:has-text('已结案')")
    assert staff.locator("#timeline li").count() >= 5
    screenshot(staff, "console-case-closed")
    desk.close()

    # ---------------------------------------------------------------- the citizen sees and rates
    citizen.goto(f"/h5/reports/{number}")
    assert "已结案" in citizen.inner_text("#report-state")
    assert "铁西区城管局" in citizen.inner_text("#report-department")
    timeline = citizen.inner_text("#timeline")
    for step in ("派遣", "处置", "核查"):
        assert step in timeline, timeline
    assert citizen.locator("#before-photos img").count() == 1
    assert citizen.locator("#after-photos img").count() == 1
    assert "inspector" not in timeline and "城市管理监督员" not in timeline  # no staff names
    assert citizen.inner_text("#public-reply") == REPLY and REPLY in timeline
    assert "材料费另报" not in citizen.inner_text("body")  # the internal note stays inside
    citizen.click("label[for=rating-5]")
    citizen.fill("#rating-comment", "处理很及时，谢谢！")
    citizen.click("#rating-submit")
    citizen.wait_for_selector("#rating-result")
    assert "处理很及时" in citizen.inner_text("#rating-result")
    assert citizen.locator("#rating-form").count() == 0 or not citizen.is_visible("#rating-form")
    screenshot(citizen, "h5-report-closed-rated")

    # ---------------------------------------------------------------- not satisfied after all
    assert citizen.locator("#comment-form").count() == 0  # closed: no remarks, but a reopen
    assert not citizen.is_visible("#reopen-form")
    citizen.click("#reopen-open")
    citizen.click("#reopen-submit")  # no reason yet
    assert "请用至少5个字" in citizen.inner_text("#error-reason")
    citizen.fill("#reopen-reason", "井盖仍然松动，车辆经过有响声")
    citizen.click("#reopen-submit")
    citizen.wait_for_selector("#report-state:has-text('已立案')")
    assert "申请重新办理：井盖仍然松动" in citizen.inner_text("#timeline")
    assert citizen.locator("#reopen-box").count() == 0
    citizen.fill("#comment-text", "晚上没有路灯，更加危险")
    citizen.click("#comment-submit")
    citizen.wait_for_selector("#timeline:has-text('市民补充说明：晚上没有路灯')")
    citizen.goto("/h5/reports")
    assert number in citizen.inner_text("#report-list")
    phone.close()

    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    staff.goto("/console/cases?state=registered")
    staff.wait_for_selector("#case-rows tr[data-number]")
    top = staff.locator("#case-rows tr").first
    assert top.get_attribute("data-number") == number
    assert "市民要求重新办理" in top.inner_text() and "井盖仍然松动" in top.inner_text()
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/cases/{number}")
    assert "市民要求重新办理：井盖仍然松动" in staff.inner_text("#attention-note")
    assert "市民补充说明：晚上没有路灯，更加危险" in staff.inner_text("#timeline")
    desk.close()
    assert page_errors == []
