"""项目征询 on a 360 px wide phone, as a plate's QR opens it: the demo pocket park's page with its
map, the design vote (问计) asks for the public account's sign-in, the citizen votes, finds the
vote kept on coming back, changes it (one vote a citizen), and leaves a proposal that only they
see until a moderator approves it."""

from __future__ import annotations

import requests

from tests.browser.conftest import phone_context, screenshot, watch

PARK = "南滑翔路口袋公园改造"


def test_a_citizen_votes_changes_the_vote_and_proposes(browser, live_server, page_errors):
    projects = requests.get(live_server.url("/api/v1/consultations/projects"), timeout=10).json()
    code = next(p["code"] for p in projects["items"] if p["name"] == PARK)
    phone = phone_context(browser, live_server, lat=41.7700, lng=123.3640)
    page = phone.new_page()
    watch(page, page_errors)

    page.goto(f"/h5/consultations/{code}")  # what the project plate opens
    assert page.inner_text(".page__title") == PARK
    page.wait_for_selector("#project-map .leaflet-interactive")  # the point and the area
    page.click("#phase-proposals")
    page.wait_for_url(f"**/h5/consultations/{code}/proposals")
    assert page.locator("#q1-0").is_disabled()  # signed out: the questions are shown, not open

    page.click("#login-btn")  # the public account's sign-in, then back to the vote
    page.fill("#openid", "o-consultation-voter")
    page.get_by_role("button", name="切换").click()
    page.click("#confirm")
    page.wait_for_url(f"**/h5/consultations/{code}/proposals")
    count = int(page.inner_text("#phase-count"))
    page.click("label[for=q1-1]")  # 方案二
    page.click("#submit-btn")
    page.wait_for_function(
        "document.getElementById('toast-text').textContent !== '' || "
        "!document.getElementById('flash').hidden"
    )
    assert page.text_content("#toast-text") == "提交成功，感谢参与", page.text_content("#flash")
    assert int(page.inner_text("#phase-count")) == count + 1

    page.reload()  # the vote is kept and may be changed while the vote is open
    assert page.is_checked("#q1-1")
    assert page.inner_text("#submit-btn") == "修改并重新提交"
    page.click("label[for=q1-2]")  # 方案三
    page.click("#submit-btn")
    page.wait_for_function("document.getElementById('toast-text').textContent === '已保存修改'")
    page.reload()
    assert page.is_checked("#q1-2") and int(page.inner_text("#phase-count")) == count + 1

    page.check("input[name=kind][value=proposal]")
    page.fill("#comment-body", "建议入口处增加自行车停放点")
    page.click("#comment-btn")
    page.wait_for_selector(".cs-comment:has-text('建议入口处增加自行车停放点')")
    mine = page.inner_text(".cs-comment >> nth=0")
    assert "待审核，仅自己可见" in mine and "建议" in mine
    screenshot(page, "h5-consultation-vote")
    listed = requests.get(
        live_server.url(f"/api/v1/consultations/projects/{code}/phases/proposals/comments"),
        timeout=10,
    ).json()
    assert "建议入口处增加自行车停放点" not in str(listed)  # others: not before moderation
    phone.close()
    assert not page_errors, page_errors
