"""What a dispatcher reads on the case list when a list is longer than the API counts
(reports.queries.COUNT_CAP): "共 1万+ 件案件" and a pager that goes on while pages come back full,
in Chromium against the real server (the browser suite's live server and demo city). The demo city
is small, so the queue API's answer is taken from the server and only its total raised past the
cap on the way to the page."""

from __future__ import annotations

import json

from reports import queries
from tests.browser.conftest import desktop_context, staff_login, watch


def _past_the_cap(route):
    """The server's answer (the demo city has few cases) with a full page of cases and a total
    past the cap."""
    response = route.fetch()
    data = response.json()
    page = data["page"]
    data["total"] = queries.COUNT_CAP + 1
    data["items"] = [
        {"number": f"20261201-{page:03d}{i:03d}", "state": "archived", "state_label": "已归档",
         "channel": "miniprogram", "description": "人行道井盖缺失", "address": None,
         "category": "井盖", "department": "铁西区城管局", "district": None,
         "triage_reason": None, "attention": None, "attention_label": None,
         "attention_note": None, "created_at": "2026-12-01T02:00:00+00:00",
         "due_at": None, "overdue": False, "urgent": False}
        for i in range(data["per_page"])
    ]  # fmt: skip
    route.fulfill(response=response, body=json.dumps(data))


def test_a_total_past_the_cap_reads_1wan_plus(browser, live_server, page_errors):  # noqa: F811
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, "dispatcher")
    page.route("**/api/v1/staff/reports?*", _past_the_cap)
    page.goto("/console/cases")
    summary = page.locator("#summary")
    summary.filter(has_text="1万+").wait_for()
    assert (
        summary.inner_text() == "共 1万+ 件案件（超过 1万 件时不再精确计数，可用筛选条件缩小范围）"
    )
    pager = page.locator("#pager")
    assert "第 1 页，共 1万+ 条" in pager.inner_text()
    assert pager.get_by_role("button", name="上一页").is_disabled()
    pager.get_by_role("button", name="下一页").click()  # a full page: more may follow
    pager.filter(has_text="第 2 页").wait_for()
    assert "page=2" in page.url and "第 2 页，共 1万+ 条" in pager.inner_text()
    assert page.locator("#case-rows tr").first.get_attribute("data-number") == "20261201-002000"
    page.unroute("**/api/v1/staff/reports?*")
    page.goto("/console/cases")
    summary.filter(has_text="件案件").wait_for()
    exact = summary.inner_text()
    assert "万+" not in exact and "不再精确计数" not in exact
    assert page_errors == []
    context.close()


def test_the_keyword_field_says_what_it_searches(browser, live_server, page_errors):  # noqa: F811
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, "dispatcher")
    page.goto("/console/cases")
    note = page.locator("#q-scope").inner_text()
    assert "完整的案件编号可查任何时间的案件" in note
    assert f"最近 {queries.TEXT_SEARCH_DAYS} 天" in note
    assert page_errors == []
    context.close()
