"""The console's case workflow in a real browser (issue 14): the irreversible actions ask first
(取消 sends nothing, 确定 takes the action); a dispatcher re-dispatches a case (改派), the receiving
unit finds it flagged at the top of its queue and returns it (回退), and the dispatcher finds it
flagged 被退回 with the reason, the responsible unit pre-selected in the dispatch form."""

from __future__ import annotations

from reports.seed import DEMO_POINTS
from tests.browser.conftest import desktop_context, staff_login, watch
from tests.browser.test_case_flow import choose_option

HOTLINE = """body => zh.api("POST", "/api/v1/staff/reports", body).then(r => r.number)"""


def hotline(page, description: str, **where) -> str:
    """A hotline call entered by the signed-in dispatcher; its case number."""
    return page.evaluate(HOTLINE, {"channel": "hotline", "description": description, **where})


def action_posts(page) -> list[str]:
    """The workflow actions the page sends, as they are sent."""
    sent: list[str] = []
    page.on("request", lambda r: "/actions/" in r.url and r.method == "POST" and sent.append(r.url))
    return sent


def test_irreversible_actions_ask_before_they_are_taken(browser, live_server, page_errors):
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    target = hotline(staff, "市民来电：和平区某小区门口垃圾桶破损", address="和平区某小区门口")
    number = hotline(staff, "市民来电：同一小区门口垃圾桶破损无人修", address="和平区某小区门口")
    sent = action_posts(staff)
    staff.goto(f"/console/cases/{number}")

    def ask(action: str, fill) -> str:
        staff.click(f"#action-{action}")
        fill()
        staff.click(f"#submit-{action}")
        staff.wait_for_selector("#confirm-dialog[open]")
        return staff.inner_text("#confirm-dialog")

    text = ask("void", lambda: staff.fill("#void-note", "重复来电"))
    assert "确认作废？" in text and "作废后案件终止办理，不能恢复" in text
    staff.click("#confirm-cancel")
    staff.wait_for_selector("#confirm-dialog", state="hidden")
    text = ask("merge", lambda: staff.fill("#merge-target", target))
    assert "合并后本案件终止办理，不能撤销" in text and f"合并至案件 {target}" in text
    staff.keyboard.press("Escape")  # Esc is 取消 too
    staff.wait_for_selector("#confirm-dialog", state="hidden")
    text = ask("reject", lambda: staff.select_option("#reject-reason", "duplicate"))
    assert "不予立案后案件即告结束" in text
    staff.click("#confirm-cancel")
    staff.wait_for_timeout(300)
    assert sent == []  # nothing was posted
    staff.reload()
    assert staff.inner_text("#case-state") == "已上报"
    assert staff.locator("#timeline li[data-action=void]").count() == 0

    ask("void", lambda: staff.fill("#void-note", "重复来电，已与另一案件一并处理"))
    staff.click("#confirm-ok")
    staff.wait_for_selector("#flash:not([hidden])")
    assert "操作成功：作废" in staff.inner_text("#flash")
    assert staff.inner_text("#case-state") == "已作废"
    assert len(sent) == 1 and sent[0].endswith(f"/{number}/actions/void")
    # An action that can be undone by the workflow posts at once, without asking.
    staff.goto(f"/console/cases/{target}")
    staff.click("#action-register")
    staff.select_option("#register-category", "SJ0101")
    staff.click("#submit-register")
    staff.wait_for_selector("#flash:not([hidden])")
    assert "操作成功：立案" in staff.inner_text("#flash")
    assert staff.locator("#confirm-dialog[open]").count() == 0
    desk.close()
    assert page_errors == []


def test_redispatch_then_return_reaches_the_dispatcher(browser, live_server, page_errors):
    point = DEMO_POINTS["taiyuan_jie"]  # 和平区
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    number = hotline(staff, "市民来电：太原街路口一处雨水井盖破损", lat=point.lat, lng=point.lng,
                     category="BJ0103", address="和平区太原街路口")  # fmt: skip
    staff.goto(f"/console/cases/{number}")
    assert "和平区" in staff.inner_text("#case-department")  # routed by the system

    staff.click("#action-redispatch")
    current = staff.locator("#redispatch-department option[disabled]")
    assert current.count() == 1 and "（当前）" in current.inner_text()
    choose_option(staff, "#redispatch-department", "铁西区城管局")
    staff.fill("#redispatch-note", "该井盖位于铁西区一侧，由铁西区负责")
    staff.click("#submit-redispatch")
    staff.wait_for_selector("#flash:not([hidden])")
    assert "操作成功：改派" in staff.inner_text("#flash")
    assert "已改派至铁西区城管局处置" in staff.inner_text("#timeline")
    assert staff.inner_text("#case-department") == "铁西区城管局"
    staff.context.clear_cookies()

    # 铁西区's handler: at the top of 待签收, flagged 改派 with the reason; sends it back.
    staff_login(staff, "tiexi_handler")
    staff.goto("/console/cases?state=dispatched")
    staff.wait_for_selector("#case-rows tr[data-number]")
    top = staff.locator("#case-rows tr").first
    assert top.get_attribute("data-number") == number
    assert "改派" in top.inner_text() and "由铁西区负责" in top.inner_text()
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/cases/{number}")
    assert "改派：该井盖位于铁西区一侧" in staff.inner_text("#attention-note")
    staff.click("#action-return")
    staff.fill("#return-note", "经现场查看，该井盖属于和平区管辖")
    staff.click("#submit-return")
    staff.wait_for_url("**/console/cases")  # no longer the department's: back to its list
    staff.wait_for_selector("#flash:not([hidden])")
    assert "操作成功：回退" in staff.inner_text("#flash")
    staff.context.clear_cookies()

    # The dispatcher: 被退回 first among the to-dos, and first in 待派遣 with the reason.
    staff_login(staff, "dispatcher")
    staff.goto("/console/")
    first_todo = staff.locator("#todos a.kpi").first
    assert first_todo.get_attribute("data-label") == "被退回"
    first_todo.click()
    staff.wait_for_selector("#case-rows tr[data-number]")
    top = staff.locator("#case-rows tr").first
    assert top.get_attribute("data-number") == number
    assert "被退回" in top.inner_text() and "属于和平区管辖" in top.inner_text()
    staff.click(f"text={number}")
    staff.wait_for_url(f"**/console/cases/{number}")
    assert "被退回：经现场查看，该井盖属于和平区管辖" in staff.inner_text("#attention-note")
    staff.click("#action-dispatch")
    suggested = staff.inner_text("#dispatch-suggested").removeprefix("建议：")
    chosen = staff.eval_on_selector(
        "#dispatch-department", "el => el.options[el.selectedIndex].textContent.trim()"
    )
    assert chosen == suggested and "和平区" in suggested  # the unit responsible there
    staff.click("#submit-dispatch")
    staff.wait_for_selector("#flash:not([hidden])")
    assert staff.locator("#attention-note").count() == 0  # acted on: no longer flagged
    desk.close()
    assert page_errors == []
