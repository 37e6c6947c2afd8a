"""The console's case pages for the workflow people expect (issue 14): 改派 with its reason, the
flags of returned and reopened cases on the home page and the case page, the responsible unit
pre-selected for dispatch, the handler's public reply field, the confirmation the irreversible
actions ask for, and the notice of cases re-dispatched away from a department."""

from __future__ import annotations

import re

import pytest

from tests.reports.conftest import INSIDE_WEST

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-console-expected")


@pytest.fixture
def submit(client, citizen, auth_header, photo):
    """A citizen's report through the API; returns its number. A known category at a point in a
    district is dispatched at once; one with only an address waits in triage."""

    def make(point=INSIDE_WEST, category="BJ0103", **extra) -> str:
        body = {"description": COVER, "photos": [photo(citizen)], "category": category} | extra
        if point is not None:
            body |= {"lat": point[0], "lng": point[1]}
        resp = client.post("/api/v1/reports", json=body, headers=auth_header(citizen))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["number"]

    return make


def page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def form(html: str, action: str) -> str:
    return re.search(rf'<form class="action-form" id="form-{action}".*?</form>', html, re.S)[0]


def todos(html: str) -> list[tuple[str, str, str]]:
    """(label, count, link) of the home page's to-dos, in order."""
    return re.findall(r'<a class="kpi todo" href="([^"]+)" data-label="([^"]+)">\s*'
                      r'<div class="muted">[^<]*</div>\s*<div class="v[^"]*">(\d+)</div>',
                      html)  # fmt: skip


def act(client, auth_header, staff, number, action, **body):
    resp = client.post(f"/api/v1/staff/reports/{number}/actions/{action}", json=body,
                       headers=auth_header(staff))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_the_dispatcher_redispatches_from_the_case_page(client, city, submit, console_login):
    number = submit()
    console_login(client, "dispatcher")
    html = page(client, f"/console/cases/{number}")
    assert ">改派</button>" in html
    redispatch = form(html, "redispatch")
    assert "改派至" in redispatch and "改派原因（内部）" in redispatch
    current = re.search(rf'<option value="{city.west.id}"[^>]*>', redispatch)[0]
    assert "disabled" in current and "selected" not in current  # not the same department again
    assert "测试一区城管局（当前）" in redispatch
    assert re.search(rf'<option value="{city.east.id}"[^>]*>\s*测试二区城管局<', redispatch)
    assert "data-confirm" not in redispatch


def test_irreversible_actions_name_their_consequence(client, city, submit, console_login):
    triage = submit(point=None, address="测试一区某某路12号")
    console_login(client, "dispatcher")
    html = page(client, f"/console/cases/{triage}")
    confirms = dict(re.findall(r'<form class="action-form" id="form-([a-z_]+)"[^>]*?'
                               r'data-confirm="([^"]+)"', html))  # fmt: skip
    assert set(confirms) == {"void", "reject", "merge"}
    assert "不能恢复" in confirms["void"] and "市民将收到" in confirms["void"]
    assert "不予立案" in confirms["reject"] and "不能恢复办理" in confirms["reject"]
    assert "不能撤销" in confirms["merge"]
    assert 'id="confirm-dialog"' in html and 'id="confirm-cancel"' in html


def test_the_dispatch_form_preselects_the_responsible_unit(
    client, city, submit, citizen, console_login, make_citizen, auth_header, photo
):
    submit(category="SJ0102")  # 暴露垃圾: the system sends it to 测试一区环卫中心
    other = make_citizen("o-neighbour")
    body = {
        "description": "小区门口暴露垃圾堆了好几天没人清理",
        "photos": [photo(other)],
        "category": "SJ0102",
        "lat": INSIDE_WEST[0] + 0.0001,
        "lng": INSIDE_WEST[1],
    }
    waiting = client.post("/api/v1/reports", json=body, headers=auth_header(other)).get_json()
    assert waiting["state"] == "reported"  # a possible duplicate waits for the dispatcher
    console_login(client, "dispatcher")
    html = page(client, f"/console/cases/{waiting['number']}")
    dispatch = form(html, "dispatch")
    selected = re.findall(r'<option value="(\d+)"[^>]*selected', dispatch)
    assert selected == [str(city.west_sanitation.id)]
    assert "建议：测试一区环卫中心" in dispatch
    assert '<dt>建议处置部门</dt><dd id="suggested-department">测试一区环卫中心</dd>' in html
    # Each category names its unit here, so the form follows a change of category.
    assert f'<option value="BJ0103" data-unit="{city.west.id}">' in dispatch
    assert f'<option value="SJ0102" data-unit="{city.west_sanitation.id}" selected>' in dispatch


def test_the_feedback_form_asks_for_a_public_reply(client, city, submit, console_login):
    number = submit()
    console_login(client, "west_handler")
    feedback = form(page(client, f"/console/cases/{number}"), "feedback")
    assert "公开答复（市民可见）" in feedback and "处置情况说明（内部）" in feedback
    assert re.search(r'<textarea id="feedback-public_reply" name="public_reply" minlength="5" '
                     r'maxlength="500" required', feedback)  # fmt: skip


def test_returned_and_reopened_cases_come_first_on_the_dispatchers_home(
    client, city, submit, citizen, console_login, auth_header, photo
):
    console_login(client, "dispatcher")
    assert "被退回" not in page(client, "/console/")
    number = submit()
    act(client, auth_header, city.west_handler, number, "return", note="该井盖属燃气公司管理")
    html = page(client, "/console/")
    first = todos(html)[0]
    assert first == ("/console/cases?state=registered", "被退回", "1")
    case = page(client, f"/console/cases/{number}")
    assert 'id="case-attention">被退回</span>' in case
    assert re.search(r"<strong>被退回</strong>：该井盖属燃气公司管理", case)

    # A closed case a citizen reopens is the dispatcher's too.
    done = submit(point=(INSIDE_WEST[0] + 0.01, INSIDE_WEST[1]))
    act(client, auth_header, city.west_handler, done, "feedback", note="已修",
        public_reply="井盖已更换，恢复通行", photos=[photo(city.west_handler)])  # fmt: skip
    act(client, auth_header, city.inspector, done, "verify_pass")
    resp = client.post(f"/api/v1/reports/{done}/reopen", json={"reason": "井盖仍然松动有响声"},
                       headers=auth_header(citizen))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    shown = todos(page(client, "/console/"))
    assert shown[:2] == [("/console/cases?state=registered", "被退回", "1"),
                         ("/console/cases?state=registered", "市民要求重新办理", "1")]  # fmt: skip
    assert "井盖仍然松动有响声" in page(client, f"/console/cases/{done}")


def test_the_department_that_lost_a_case_hears_of_it(
    client, city, submit, console_login, auth_header
):
    number = submit()
    act(client, auth_header, city.dispatcher, number, "redispatch", department_id=city.east.id,
        note="该路段由测试二区负责养护")  # fmt: skip
    console_login(client, "west_handler")
    assert todos(page(client, "/console/"))[0] == ("/console/cases?moved_out=1", "改派转出", "1")
    html = page(client, "/console/cases?moved_out=1")
    moved = re.search(r'<div class="card" id="moved-out">.*?</table>', html, re.S)[0]
    assert number in moved and "测试二区城管局" in moved and "该路段由测试二区负责养护" in moved
    assert "本部门无需继续处置" in moved
    console_login(client, "east_handler")  # the receiving unit: in its 待签收 queue
    assert "改派转出" not in page(client, "/console/")
    todo = {label: count for _, label, count in todos(page(client, "/console/"))}
    assert todo["本部门待签收"] == "1"
