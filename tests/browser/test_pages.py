"""Every main page opens in Chromium without a script error and shows what its users look for.

Citizen pages on a 360 px phone, console pages on a desktop screen, each as a role that uses it.
With UPDATE_SCREENSHOTS=1 these are the README's screenshots (docs/screenshots/).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import desktop_context, phone_context, screenshot, staff_login, watch

TAIYUAN_JIE = (41.7930, 123.4080)  # WGS-84, 和平区

CITIZEN_PAGES = [  # (path, screenshot, what the page must show once its scripts ran)
    ("/h5/", "h5-home", "随手拍"),
    ("/h5/news", "h5-news", "城管动态"),
    ("/nearby", "h5-nearby-kinds", "公厕"),
    (f"/nearby/toilet?lat={TAIYUAN_JIE[0]}&lng={TAIYUAN_JIE[1]}&coord_sys=wgs84",
     "h5-nearby-toilets", "导航前往"),
]  # fmt: skip

CONSOLE_PAGES = [  # (user, path, screenshot, text)
    ("dispatcher", "/console/", "console-home", "待分拨"),
    ("dispatcher", "/console/cases", "console-cases", "导出CSV"),
    ("admin", "/console/stats", "console-stats", "结案率"),
    ("dispatcher", "/console/shops", "console-shops", "店铺管理"),
    ("dispatcher", "/console/facilities", "console-facilities", "便民设施"),
    ("admin", "/console/admin/categories", "console-categories", "雨水井盖"),
    ("admin", "/console/admin/departments", "console-departments", "铁西区城管局"),
    ("admin", "/console/admin/regions", "console-regions", "铁西区"),
    ("admin", "/console/admin/calendar", "console-calendar", "工作日历"),
    ("admin", "/console/news", "console-news", "城管动态"),
    ("admin", "/console/shops/heatmap", "console-shop-heatmap", "店铺"),
]


def test_citizen_pages_on_a_phone(browser, live_server, page_errors):
    context = phone_context(browser, live_server, lat=TAIYUAN_JIE[0], lng=TAIYUAN_JIE[1])
    page = context.new_page()
    watch(page, page_errors)
    for path, name, text in CITIZEN_PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        body = page.inner_text("body")
        assert text in body, (path, body[:500])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} scrolls sideways on a 360 px phone ({width} px)"
        screenshot(page, name)
    context.close()
    assert page_errors == []


def test_shop_page_from_a_plate(browser, live_server, page_errors):
    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    staff_login(staff, "dispatcher")
    shops = staff.evaluate("zh.api('GET', '/api/v1/staff/shops?status=active&per_page=1')")
    shop = shops["items"][0]
    detail = staff.evaluate(f"zh.api('GET', '/api/v1/staff/shops/{shop['id']}')")
    code = next(c["code"] for c in detail["codes"] if c["status"] == "active")
    desk.close()
    phone = phone_context(browser, live_server, lat=TAIYUAN_JIE[0], lng=TAIYUAN_JIE[1])
    page = phone.new_page()
    watch(page, page_errors)
    page.goto(f"/s/{code}")
    assert shop["name"] in page.inner_text("body")
    assert shop["owner_phone"] not in page.content()
    screenshot(page, "h5-shop")
    page.click("#shop-report")
    page.click("#confirm")  # the public account's sign-in, then the form with the shop bound
    page.wait_for_url("**/h5/report?shop=*")
    assert shop["name"] in page.inner_text("#shop-binding")
    phone.close()
    assert page_errors == []


@pytest.mark.parametrize(("user", "path", "name", "text"), CONSOLE_PAGES,
                         ids=[p[2] for p in CONSOLE_PAGES])  # fmt: skip
def test_console_pages(browser, live_server, page_errors, user, path, name, text):
    context = desktop_context(browser, live_server)
    page = context.new_page()
    watch(page, page_errors)
    staff_login(page, user)
    response = page.goto(path)
    assert response.status == 200
    page.wait_for_load_state("networkidle")
    assert text in page.inner_text("body")
    screenshot(page, name)
    context.close()
    assert page_errors == []
