"""The report form's follow-up questions in a real browser, on a 360 px phone:

- choosing 雨水井盖 (a suggestion of the classifier) shows its questions under the category, the
  required one marked 必答; left unanswered it is refused at the question (aria-invalid, the
  Chinese message), here and — when the page's copy of the questions is older than the
  server's — by the server; answered, the report carries the answers: the case page shows them
  (补充信息) and the dispatcher sees the case as 紧急 with the answers;
- right after filing, 接收办理进展 names the public account and shows its follow QR code;
- the draft keeps the answers across a reload, another category clears them, and another citizen
  on the same phone never sees the draft.
"""

from __future__ import annotations

import json
import re

from app.geo.coords import from_canonical
from tests.browser.conftest import (
    LiveServer,
    desktop_context,
    phone_context,
    screenshot,
    staff_login,
    watch,
)
from tests.browser.test_h5_extras import add_photos

XINGHUA = (41.7960, 123.3710)  # GCJ-02, inside the synthetic 兴华街道 of 铁西区
GPS = from_canonical(*XINGHUA, "wgs84")
DESCRIPTION = "兴华南街路口的雨水井盖不见了，井口敞开，车辆和行人经过很危险"
COVER = "BJ0103"  # 雨水井盖
MISSING = "井盖是否缺失或被移开，井口敞开？"
INJURED = "是否已有人员受伤或车辆受损？"
PLACE = "井盖在什么位置？"
DRAFTS = "zhcg.report-draft"


def sign_in(browser, server: LiveServer, errors: list[str], phone=None):
    """A phone at 兴华街道 (a new one unless given), signed in through the public account (the
    emulator) on the report form."""
    phone = phone or phone_context(browser, server, lat=GPS[0], lng=GPS[1])
    page = phone.new_page()
    watch(page, errors)
    page.goto("/h5/report")
    page.click("#confirm")
    page.wait_for_url(re.compile(r"/h5/report$"))
    return phone, page


def choose_cover(page) -> None:
    """Describe a missing manhole cover and take 雨水井盖 from the suggestions."""
    page.fill("#description", DESCRIPTION)
    chip = page.wait_for_selector(f'#category-chips [data-code="{COVER}"]', timeout=15000)
    assert chip.inner_text() == "雨水井盖"
    chip.click()
    page.wait_for_selector("#questions:not([hidden])")


def labels(page) -> list[str]:
    return page.eval_on_selector_all(
        "#question-list .h5-question__label", "els => els.map(e => e.firstChild.textContent)"
    )


def described_by(page, selector: str) -> list[str]:
    return (page.get_attribute(selector, "aria-describedby") or "").split()


def answer(page, key: str, value: str) -> None:
    page.locator(f"#q-{key}").get_by_text(value, exact=True).click()


def checked(page, key: str) -> str | None:
    return page.evaluate(
        "k => { const r = document.querySelector(`input[name='answer-${k}']:checked`);"
        " return r ? r.value : null; }",
        key,
    )


def older_questions(route) -> None:
    """The form as it was before 井盖是否缺失 became required: the page's copy of the questions
    lets it pass, the server does not."""
    resp = route.fetch()
    html = resp.text()
    found = re.search(r'(<script type="application/json" id="report-questions">)(.*?)(</script>)',
                      html, re.S)  # fmt: skip
    asks = json.loads(found.group(2))
    for q in asks[COVER]:
        q["required"] = False
    html = html[: found.start(2)] + json.dumps(asks) + html[found.end(2) :]
    route.fulfill(response=resp, body=html)


def test_questions_are_asked_answered_and_reach_the_dispatcher(browser, live_server, page_errors):
    phone, page = sign_in(browser, live_server, page_errors)
    assert page.is_hidden("#questions")
    add_photos(page, ["#6a6f70"])
    page.click("#locate-btn")
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose_cover(page)

    # The questions, under the category, the required one marked, and why they are asked.
    assert page.inner_text("#questions-title") == "补充问题（雨水井盖）"
    assert labels(page) == [MISSING, INJURED, PLACE]
    assert page.locator("#question-list .h5-question__required").all_inner_texts() == ["必答"]
    assert "帮助处置部门判断问题是否紧急" in page.inner_text("#questions-note")
    assert page.get_attribute("#q-missing", "role") == "radiogroup"
    assert page.get_attribute("#q-missing", "aria-required") == "true"
    assert page.locator("#q-missing label").all_inner_texts() == ["是", "否"]
    assert page.locator("#q-place input[type=radio]").count() == 4
    assert page.locator("#q-place label").all_inner_texts() == [
        "机动车道", "非机动车道", "人行道", "小区或绿地内"]  # fmt: skip
    # Under the category's block, above the submit button, within the phone's width.
    boxes = [
        page.locator(s).bounding_box() for s in ("#category-chips", "#questions", "#submit-btn")
    ]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    # Unanswered: refused here, at the question.
    page.click("#submit-btn")
    error = "#error-answers\\.missing"
    page.wait_for_selector(f"{error}:not([hidden])")
    assert page.inner_text(error) == f"请回答：{MISSING}"
    assert page.get_attribute(error, "role") == "alert"
    assert page.get_attribute("#q-missing", "aria-invalid") == "true"
    assert described_by(page, "#q-missing") == ["error-answers.missing"]
    assert page.get_attribute("#q-injured", "aria-invalid") is None  # not required
    assert "/h5/report" in page.url
    answer(page, "missing", "是")
    assert page.is_hidden(error)
    assert page.get_attribute("#q-missing", "aria-invalid") is None
    assert described_by(page, "#q-missing") == []
    answer(page, "place", "机动车道")
    screenshot(page, "h5-report-questions")

    page.click("#submit-btn")
    page.wait_for_url(re.compile(r"/h5/reports/[^/?]+\?submitted=1$"))
    number = page.inner_text("#report-number").strip()

    # The case page: the answers under the description (those given, as asked).
    assert page.inner_text("#report-answers-title") == "补充信息"
    assert page.eval_on_selector_all("#report-answers dt", "els => els.map(e => e.textContent)") \
        == [MISSING, PLACE]  # fmt: skip
    assert page.eval_on_selector_all("#report-answers dd", "els => els.map(e => e.textContent)") \
        == ["是", "机动车道"]  # fmt: skip
    boxes = [page.locator(s).bounding_box() for s in ("#report-description", "#report-answers")]
    assert boxes[0]["y"] < boxes[1]["y"]

    # 接收办理进展: the account, what following gives, its code (loaded), and that none is needed.
    box = page.locator("#follow-box")
    assert box.locator("h2").inner_text() == "接收办理进展"
    assert page.inner_text("#follow-name") == "公众号：沈阳智慧城管"
    assert "案件的受理、派遣、办结等每一步都会推送给您" in page.inner_text("#follow-explain")
    assert (
        page.inner_text("#follow-always") == "不订阅也不关注，也可以随时在“我的上报”查看办理进展。"
    )
    qr = page.locator("#follow-qr img")
    assert qr.get_attribute("alt") == "公众号“沈阳智慧城管”的关注二维码"
    page.wait_for_function(
        "() => { const i = document.querySelector('#follow-qr img');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    assert page.evaluate("document.querySelector('#follow-qr img').naturalWidth") >= 200
    shown = qr.bounding_box()
    assert shown["width"] == 160 and shown["x"] >= 0 and shown["x"] + shown["width"] <= 360
    assert "长按识别二维码" in page.inner_text("#follow-qr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "h5-report-submitted-follow")
    phone.close()

    # The dispatcher: 紧急, and the answers with the one that made it so.
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "dispatcher")
    staff.goto(f"/console/cases/{number}")
    assert staff.inner_text("#case-urgent") == "紧急"
    answers = staff.inner_text("#case-answers")
    assert "市民补充信息" in answers and MISSING in answers and PLACE in answers
    assert "机动车道" in answers and INJURED not in answers
    assert staff.locator("#case-answers dd", has_text="是").locator(".tag").inner_text() == "紧急"
    screenshot(staff, "console-case-urgent")
    desk.close()
    assert page_errors == []


def test_the_servers_refusal_shows_at_the_question(browser, live_server, page_errors):
    phone, page = sign_in(browser, live_server, page_errors)
    page.route(re.compile(r".*/h5/report$"), older_questions)
    page.reload()
    add_photos(page, ["#707a6a"])
    page.click("#locate-btn")
    page.wait_for_function("document.getElementById('lat').value !== ''")
    choose_cover(page)
    assert page.locator("#question-list .h5-question__required").count() == 0  # the older copy
    answer(page, "injured", "否")

    page.click("#submit-btn")
    error = "#error-answers\\.missing"
    page.wait_for_selector(f"{error}:not([hidden])")
    assert page.inner_text(error) == f"请回答：{MISSING}"  # the server's words
    assert page.get_attribute("#q-missing", "aria-invalid") == "true"
    assert described_by(page, "#q-missing") == ["error-answers.missing"]
    assert page.get_attribute("#q-injured", "aria-invalid") is None
    assert page.is_visible("#flash")
    assert "/h5/report" in page.url

    answer(page, "missing", "否")
    assert page.is_hidden(error) and page.get_attribute("#q-missing", "aria-invalid") is None
    page.click("#submit-btn")
    page.wait_for_url(re.compile(r"/h5/reports/[^/?]+\?submitted=1$"))
    assert page.eval_on_selector_all("#report-answers dd", "els => els.map(e => e.textContent)") \
        == ["否", "否"]  # fmt: skip
    phone.close()
    # The refused submission's 422 is the answer the test provoked.
    assert [e for e in page_errors if "status of 422" not in e] == []


def test_the_draft_keeps_the_answers_for_this_citizen_only(browser, live_server, page_errors):
    phone, page = sign_in(browser, live_server, page_errors)
    choose_cover(page)
    answer(page, "missing", "是")
    answer(page, "injured", "否")
    answer(page, "place", "人行道")
    owner = page.get_attribute("#report-form", "data-draft-owner")
    assert re.fullmatch(r"[0-9a-f]{20}", owner), owner
    key = f"{DRAFTS}.u.{owner}"  # this citizen's draft
    page.wait_for_function(
        """k => { const d = JSON.parse(localStorage.getItem(k) || 'null');
                  return d && d.parts.answers && Object.keys(d.parts.answers.answers).length === 3;
                }""",
        arg=key,
    )
    assert [k for k in page.evaluate("Object.keys(localStorage)") if k.startswith(DRAFTS)] == [key]
    kept = page.evaluate("k => JSON.parse(localStorage.getItem(k)).parts.answers", key)
    assert kept == {"code": COVER, "answers": {"missing": "是", "injured": "否", "place": "人行道"}}

    page.reload()
    page.wait_for_selector("#draft-notice:not([hidden])")
    assert page.input_value("#category") == COVER
    assert page.is_visible("#questions") and labels(page) == [MISSING, INJURED, PLACE]
    assert [checked(page, k) for k in ("missing", "injured", "place")] == ["是", "否", "人行道"]

    # Another category: the answers go (and from the draft).
    page.click('#category-chips [data-code=""]')
    assert page.is_hidden("#questions")
    page.click(f'#category-chips [data-code="{COVER}"]')
    assert page.is_visible("#questions")
    assert [checked(page, k) for k in ("missing", "injured", "place")] == [None, None, None]
    page.wait_for_function("k => !JSON.parse(localStorage.getItem(k)).parts.answers", arg=key)
    answer(page, "missing", "否")
    page.wait_for_function("k => !!JSON.parse(localStorage.getItem(k)).parts.answers", arg=key)

    # Another citizen on the same phone (signed out, another WeChat user): no draft, nothing of
    # the first citizen's text; the first citizen's draft is still theirs.
    phone.clear_cookies()
    page.close()
    phone, other = sign_in(browser, live_server, page_errors, phone)
    theirs = f"{DRAFTS}.u.{other.get_attribute('#report-form', 'data-draft-owner')}"
    assert theirs != key
    assert other.is_hidden("#draft-notice")
    assert other.input_value("#description") == "" and other.input_value("#category") == ""
    assert other.is_hidden("#questions")
    assert other.evaluate("k => localStorage.getItem(k) !== null", key)
    other.fill("#description", "另一位市民写的内容，小区门口路灯不亮")
    other.wait_for_function("k => localStorage.getItem(k) !== null", arg=theirs)
    assert other.evaluate("k => localStorage.getItem(k) !== null", key)  # not touched

    # A draft kept before drafts had an owner is nobody's: dropped, never shown.
    legacy = {"v": 1, "savedAt": other.evaluate("Date.now()"),
              "parts": {"description": "不知道是谁留下的草稿内容"}}  # fmt: skip
    other.evaluate("d => localStorage.setItem('zhcg.report-draft', JSON.stringify(d))", legacy)
    other.reload()
    other.wait_for_selector("#draft-notice:not([hidden])")  # this citizen's own draft
    assert other.input_value("#description") == "另一位市民写的内容，小区门口路灯不亮"
    assert other.evaluate("localStorage.getItem('zhcg.report-draft')") is None
    phone.close()
    assert page_errors == []
