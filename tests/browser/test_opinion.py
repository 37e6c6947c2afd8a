"""网络舆情 in a real browser: the worker's fetch of the emulated boards over HTTP (a conditional
GET: what the demo seed stored is answered 304), then the observer's queue: a post opened from
the queue, 转为案件 with the address, the case linked from the post and the post shown on the
case page, then 答复 recorded."""

from __future__ import annotations

import subprocess

from tests.browser.conftest import BIN, ROOT, desktop_context, staff_login, watch


def test_observer_turns_a_queued_post_into_a_case(browser, live_server, page_errors):
    done = subprocess.run([str(BIN / "flask"), "opinion", "fetch"], cwd=ROOT, env=live_server.env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("not_modified") == 4, done.stdout  # the seed's ETags: 304

    desk = desktop_context(browser, live_server)
    page = desk.new_page()
    watch(page, page_errors)
    staff_login(page, "dispatcher")
    page.goto("/console/opinion")
    assert page.get_by_role("link", name="网络舆情").first.is_visible()
    first = page.locator("#queue-rows tr[data-id] a").first
    title = first.inner_text()
    first.click()
    page.wait_for_selector("#case-form")
    assert page.inner_text("#item-state") == "待处理"
    assert page.input_value("#case-description").startswith(title)
    page.click("#to-case")  # no address: asked for it
    assert "请填写必填项" in page.inner_text("#flash")
    page.fill("#case-address", "和平区太原街北二马路地下通道口")
    page.click("#to-case")
    page.wait_for_selector("#item-case")
    assert page.inner_text("#item-state") == "已转案件"
    assert "已转为案件" in page.inner_text("#flash")
    number = page.inner_text("#item-case")

    page.fill("#reply-input", "您好，您反映的问题已转和平区城管执法局处理。")
    page.click("#save-reply")
    page.wait_for_selector("#reply-record")
    assert page.inner_text("#reply-text") == "您好，您反映的问题已转和平区城管执法局处理。"

    page.click("#item-case")
    page.wait_for_url(f"**/console/cases/{number}")
    post = page.inner_text("#case-opinion-post")
    assert "舆情原帖" in post and title in post and "已转和平区城管执法局处理" in post
    assert "网络舆情" in page.inner_text("#case-fields")
    assert not page_errors, page_errors
