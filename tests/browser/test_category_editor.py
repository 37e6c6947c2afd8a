"""An admin reads and edits a category's GB/T 30428.2 code and its definition in the console."""

from __future__ import annotations

from tests.browser.conftest import desktop_context, staff_login, watch


def test_admin_edits_the_definition_and_clears_the_standard_code(browser, live_server, page_errors):
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, "admin")
    page.goto("/console/admin/categories")
    page.wait_for_load_state("networkidle")
    row = page.locator("#category-tree tr", has_text="BJ0103")
    assert "国标编码" in page.inner_text("#category-tree thead >> nth=0")
    assert "雨水箅子" in row.inner_text()  # the definition names the neighbour to report instead

    row.locator("button[data-op=edit]").click()
    page.fill(
        "#category-edit-definition",
        "标有“雨水”字样的井盖破损或缺失；路边格栅报“雨水箅子”。（测试修改）",
    )
    page.fill("#category-edit-gb_code", "")
    page.click("#category-save")
    page.wait_for_selector("#category-dialog", state="hidden")
    # The list is fetched again after the save: wait for the row to show the new text.
    row = page.locator("#category-tree tr", has_text="（测试修改）")
    row.wait_for()
    assert "BJ0103" in row.inner_text()
    saved = page.evaluate("zh.api('GET', '/api/v1/admin/categories')")
    rain = next(c for c in saved if c["code"] == "BJ0103")
    assert rain["gb_code"] is None and rain["definition"].endswith("（测试修改）")

    # Put it back (the live server is shared by the browser tests).
    row.locator("button[data-op=edit]").click()
    page.fill("#category-edit-gb_code", "0103")
    page.click("#category-save")
    page.wait_for_selector("#category-dialog", state="hidden")
    context.close()
    assert page_errors == []
