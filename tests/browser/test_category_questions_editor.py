"""An admin edits a category's follow-up questions (追问) in the console's category editor: reads
the seeded ones, adds a 单选 question with an urgent answer (citizens are then asked it), is
refused a 单选 with one option in Chinese, and removes them all."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.browser.conftest import desktop_context, staff_login, watch

ADMIN_CATEGORIES = "/api/v1/admin/categories"


def categories(page, url: str = ADMIN_CATEGORIES) -> dict[str, dict]:
    return {c["code"]: c for c in page.evaluate("url => zh.api('GET', url)", url)}


def tree_row(page, text: str):
    return page.locator("#category-tree tr", has_text="BJ0103").filter(has_text=text)


def test_admin_edits_the_follow_up_questions(browser, live_server, page_errors):
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    sent: list[dict] = []
    page.on("request", lambda r: r.method == "PATCH" and sent.append(json.loads(r.post_data)))
    staff_login(page, "admin")
    page.goto("/console/admin/categories")
    page.wait_for_load_state("networkidle")
    original = categories(page)["BJ0103"]
    seeded = original["questions"]
    assert [q["key"] for q in seeded] == ["missing", "injured", "place"]
    try:
        edit_questions(page, sent, seeded)
    finally:  # put them back: the live server is shared by the browser tests
        page.evaluate(
            "([url, qs]) => zh.api('PATCH', url, {questions: qs})",
            [f"{ADMIN_CATEGORIES}/{original['id']}", seeded],
        )
    context.close()
    # Chromium logs the one refused save (422) as a console error; nothing else may be logged.
    refused = [e for e in page_errors if "status of 422" in e]
    assert len(refused) == 1 and f"{ADMIN_CATEGORIES}/{original['id']}" in refused[0]
    assert [e for e in page_errors if e not in refused] == []


def edit_questions(page, sent: list[dict], seeded: list[dict]) -> None:
    row = tree_row(page, "追问 3")
    assert "追问 3" in row.inner_text()
    row.locator("button[data-op=edit]").click()
    rows = page.locator("#category-question-rows > li")
    assert rows.count() == 3
    first, place = rows.nth(0), rows.nth(2)
    assert first.get_by_label("问题").input_value() == "井盖是否缺失或被移开，井口敞开？"
    assert first.get_by_label("必答").is_checked()
    assert first.get_by_label("是", exact=True).is_checked()  # 紧急条件: 是
    assert not first.get_by_label("否", exact=True).is_checked()
    assert first.get_by_label("选项").is_hidden()  # 是/否 has no options to type
    assert place.get_by_label("题型").input_value() == "choice"
    assert place.locator("select option:checked").inner_text() == "单选"
    assert place.get_by_label("选项").input_value() == "机动车道、非机动车道、人行道、小区或绿地内"
    assert place.get_by_role("checkbox", name="人行道").count() == 1  # urgent answers to choose
    assert place.get_by_label("问题").input_value() == "井盖在什么位置？"

    # Nothing changed: nothing is sent (the seeded questions read back equal).
    page.click("#category-save")
    page.wait_for_selector("#flash:has-text('没有需要保存的修改')")
    assert sent == []

    # A 单选 question with one option: refused by the server, its Chinese reason by the list.
    row = tree_row(page, "追问 3")
    row.locator("button[data-op=edit]").click()
    add = page.locator("#category-question-add")
    add.click()
    new = rows.nth(3)
    assert new.locator(".question-no").inner_text() == "第4个追问"
    new.get_by_label("问题").fill("井口周围是否已设置警示？")
    new.get_by_label("题型").select_option(label="单选")
    new.get_by_label("选项").fill("已设围挡")
    page.click("#category-save")
    error = page.locator("#category-questions-error")
    error.wait_for()
    assert "第4个追问：单选题应有2至8个选项，每项1至20个字" in error.inner_text()
    assert "提交的内容有误" in page.inner_text("#flash")
    assert "invalid" in new.get_attribute("class")
    assert new.get_by_label("选项").get_attribute("aria-invalid") == "true"
    assert page.locator("#category-dialog").is_visible()

    # Fixed: three options, one of them urgent; the 5th question reaches the limit.
    new.get_by_label("选项").fill("已设围挡，只有锥桶、没有任何警示")
    new.get_by_label("没有任何警示").check()
    new.get_by_label("必答").check()
    add.click()
    assert add.is_disabled() and page.is_visible("#category-questions-full")
    rows.nth(4).get_by_role("button", name="删除第5个追问").click()
    assert rows.count() == 4 and add.is_enabled()
    new.get_by_role("button", name="上移第4个追问").click()  # before 井盖在什么位置？
    assert rows.nth(2).get_by_label("问题").input_value() == "井口周围是否已设置警示？"
    page.click("#category-save")
    page.wait_for_selector("#category-dialog", state="hidden")
    tree_row(page, "追问 4").wait_for()  # the list is fetched again
    assert set(sent[-1]) == {"questions"}  # only what changed

    asked = categories(page, "/api/v1/categories")["BJ0103"]["questions"]
    assert [q["key"] for q in asked] == ["missing", "injured", "q1", "place"]
    assert asked[2] == {"key": "q1", "label": "井口周围是否已设置警示？", "kind": "choice",
                        "required": True, "options": ["已设围挡", "只有锥桶", "没有任何警示"],
                        "urgent_if": ["没有任何警示"]}  # fmt: skip
    assert [asked[i] for i in (0, 1, 3)] == seeded  # the others as they were

    # Remove them all: the category asks nothing any more.
    tree_row(page, "追问 4").locator("button[data-op=edit]").click()
    assert rows.count() == 4
    while rows.count():
        rows.nth(0).locator("[data-remove]").click()
    assert page.is_visible("#category-questions-none")
    page.click("#category-save")
    page.wait_for_selector("#category-dialog", state="hidden")
    assert sent[-1] == {"questions": []}
    # The list is fetched again: the row loses its tag.
    expect(page.locator("#category-tree tr", has_text="BJ0103")).not_to_contain_text("追问")
    assert categories(page)["BJ0103"]["questions"] == []
    assert categories(page, "/api/v1/categories")["BJ0103"]["questions"] == []
