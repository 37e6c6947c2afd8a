"""The console's case pages as staff see them: home to-dos, menus by role, the case list, one case
with exactly the actions its viewer may take, and the statistics dashboard."""

from __future__ import annotations

import re

import pytest

from app.auth.models import Role
from tests.reports.conftest import INSIDE_WEST

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-console-reporter")


@pytest.fixture
def submit(client, citizen, auth_header, photo):
    """Submit a citizen report through the API; returns its number. A known category inside a
    district is dispatched at once; a report with only an address (``point=None``) waits in
    triage (a point outside the city is refused: tests/reports/test_outside_city.py)."""

    def make(point=INSIDE_WEST, category="BJ0103") -> str:
        body = {"description": COVER, "photos": [photo(citizen)], "category": category}
        body |= {"lat": point[0], "lng": point[1]} if point else {"address": "测试一区某某路12号"}
        resp = client.post("/api/v1/reports", json=body, headers=auth_header(citizen))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["number"]

    return make


def page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def menu(html: str) -> list[str]:
    nav = re.search(r'<nav class="side".*?</nav>', html, re.S).group(0)
    return re.findall(r">([^<>]+)</a>", nav)


def action_ids(html: str) -> set[str]:
    return set(re.findall(r'id="action-([a-z_]+)"', html))


@pytest.mark.parametrize("url", ["/console/cases", "/console/cases/20260101-000001",
                                 "/console/stats", "/console/?x=1"])  # fmt: skip
def test_signed_out_staff_are_sent_to_the_login_form(client, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert "/console/login?next=" in resp.headers["Location"]


def test_each_role_sees_its_own_menu(client, city, make_staff, console_login):
    console_login(client, "dispatcher")
    entries = menu(page(client, "/console/"))
    expected = {"案件列表", "待分拨", "待派遣", "待核查", "超期未结", "统计分析", "店铺热力图"}
    assert expected <= set(entries)
    assert "本部门待签收" not in entries and "类别管理" not in entries

    console_login(client, "west_handler")
    entries = menu(page(client, "/console/"))
    assert {"案件列表", "本部门待签收", "本部门处置中", "超期未结", "统计分析"} <= set(entries)
    assert not {"待分拨", "待派遣", "待核查", "类别管理", "部门管理"} & set(entries)

    console_login(client, "inspector")
    entries = menu(page(client, "/console/"))
    assert "待核查" in entries and "待分拨" not in entries and "本部门待签收" not in entries

    make_staff("boss", roles=(Role.ADMIN,))
    console_login(client, "boss")
    entries = menu(page(client, "/console/"))
    assert {"待分拨", "待核查", "统计分析", "类别管理"} <= set(entries)


def test_home_counts_the_to_dos_of_each_role(client, city, submit, console_login):
    submit(point=None)  # waits in triage
    submit()  # dispatched to 测试一区城管局
    console_login(client, "dispatcher")
    html = page(client, "/console/")
    assert "派遣员" in html and "全市" in html
    todo = dict(re.findall(r'data-label="([^"]+)">\s*<div class="muted">[^<]*</div>\s*'
                           r'<div class="v[^"]*">(\d+)</div>', html))  # fmt: skip
    assert todo["待分拨"] == "1" and todo["待核查"] == "0"
    assert 'href="/console/cases?triage=1"' in html

    console_login(client, "west_handler")
    html = page(client, "/console/")
    assert "测试一区城管局" in html
    todo = dict(re.findall(r'data-label="([^"]+)">\s*<div class="muted">[^<]*</div>\s*'
                           r'<div class="v[^"]*">(\d+)</div>', html))  # fmt: skip
    assert todo == {"本部门待签收": "1", "本部门处置中": "0", "超期未结": "0"}

    console_login(client, "east_handler")  # the west's case is not in the east's scope
    assert "本部门待签收" in (html := page(client, "/console/"))
    assert re.search(r'data-label="本部门待签收">\s*<div class="muted">[^<]*</div>\s*'
                     r'<div class="v[^"]*">0</div>', html)  # fmt: skip


def test_case_list_renders_with_filters_export_link_and_no_external_urls(
    client, city, console_login
):
    console_login(client, "dispatcher")
    html = page(client, "/console/cases?state=reported&district=T-W&overdue=1&page=3")
    for label in ("状态", "处置部门", "问题类别", "区县", "上报渠道", "上报日期从", "仅超期",
                  "编号", "地址/区县", "应结时间", "查询", "导出CSV"):  # fmt: skip
        assert label in html, label
    export = re.search(r'<a class="btn" id="export" href="([^"]+)"', html).group(1)
    query = "state=reported&amp;district=T-W&amp;overdue=1"
    assert export == f"/api/v1/staff/reports/export.csv?{query}"
    assert re.search(r'<option value="reported" selected>已上报</option>', html)
    assert re.search(r'<option value="T-W" selected>测试一区</option>', html)
    assert "测试一区环卫中心" in html  # the department tree
    assert 'id="f-overdue" name="overdue" value="1" checked' in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


def test_a_handler_sees_only_the_departments_in_scope_as_filters(client, city, console_login):
    console_login(client, "west_handler")
    html = page(client, "/console/cases")
    assert "测试一区环卫中心" in html and "测试二区城管局" not in html


def test_case_page_out_of_scope_or_unknown(client, city, submit, console_login):
    number = submit()  # dispatched to the west
    console_login(client, "east_handler")
    resp = client.get(f"/console/cases/{number}")
    assert resp.status_code == 403
    assert "该案件不属于您所在部门" in resp.get_data(as_text=True)
    assert client.get("/console/cases/20990101-999999").status_code == 404


def test_dispatcher_on_a_triage_case_gets_the_triage_actions(client, city, submit, console_login):
    number = submit(point=None)
    console_login(client, "dispatcher")
    html = page(client, f"/console/cases/{number}")
    assert action_ids(html) == {"register", "reject", "dispatch", "void", "merge"}
    assert ">派遣</button>" in html and "核查通过" not in html
    dispatch = re.search(r'<form class="action-form" id="form-dispatch".*?</form>', html, re.S)[0]
    assert 'name="department_id"' in dispatch and 'name="category"' in dispatch
    assert '<option value="BJ0103" selected>' in dispatch  # the citizen's category, preselected
    reject = re.search(r'<form class="action-form" id="form-reject".*?</form>', html, re.S)[0]
    assert "重复上报" in reject and 'name="reason"' in reject
    assert COVER in html and "市民#" in html and "处置前（上报）照片" in html
    assert '<dt>分拨原因</dt><dd><span class="tag warn">缺少位置</span>' in html


def test_handler_on_a_dispatched_case_can_accept_and_return(client, city, submit, console_login):
    number = submit()
    console_login(client, "west_handler")
    html = page(client, f"/console/cases/{number}")
    assert action_ids(html) == {"accept", "return", "feedback", "request_extension"}
    assert ">签收</button>" in html and ">回退</button>" in html
    assert "回退原因" in html and 'name="extension_amount"' in html
    assert 'id="feedback-photos" name="photos"' in html
    assert "已派遣至测试一区城管局处置" in html  # the timeline
    assert 'id="case-map"' in html and "/api/v1/geo/boundaries" in html

    console_login(client, "dispatcher")  # the dispatcher may not sign for the department
    assert action_ids(page(client, f"/console/cases/{number}")) == {"redispatch", "suspend",
                                                                   "void"}  # fmt: skip
    console_login(client, "inspector")
    html = page(client, f"/console/cases/{number}")
    assert action_ids(html) == set() and "您没有可执行的操作" in html


def test_action_through_the_api_then_the_page_shows_the_next_step(
    client, city, submit, console_login
):
    number = submit()
    token = console_login(client, "west_handler")
    html = page(client, f"/console/cases/{number}")
    version = int(re.search(r'data-version="(\d+)"', html).group(1))
    url = f"/api/v1/staff/reports/{number}/actions/accept"
    resp = client.post(url, json={"version": version}, headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_json()
    stale = client.post(f"/api/v1/staff/reports/{number}/actions/return",
                        json={"version": version, "note": "不归我们管"},
                        headers={"X-CSRFToken": token})  # fmt: skip
    assert stale.status_code == 409 and stale.get_json()["error"]["message"]
    html = page(client, f"/console/cases/{number}")
    assert action_ids(html) == {"return", "feedback", "request_extension"}
    assert "处置中" in html and "测试一区城管局已签收，正在处置" in html


def test_stats_page_shows_every_indicator_name(client, city, console_login):
    console_login(client, "west_handler")
    html = page(client, "/console/stats?group_by=district&trend=month")
    for name in ("受理数", "立案数", "派遣数", "派遣率", "结案数", "结案率", "按期结案率",
                 "返工率", "延期率", "超期未结"):  # fmt: skip
        assert f'<div class="muted">{name}</div>' in html, name
    assert '<option value="district" selected>区县</option>' in html
    assert 'id="chart-rates"' in html and 'id="chart-trend"' in html
    assert 'id="layer-cases"' in html and 'id="layer-shops"' in html
    assert "/static/vendor/echarts/echarts.min.js" in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
