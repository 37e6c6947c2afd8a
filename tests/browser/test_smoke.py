"""The browser harness itself: a staff member and a citizen can sign in."""

from __future__ import annotations

from tests.browser.conftest import desktop_context, phone_context, staff_login, watch


def test_staff_sign_in_and_citizen_oauth(browser, live_server, page_errors):
    staff = desktop_context(browser, live_server)
    page = staff.new_page()
    watch(page, page_errors)
    staff_login(page, "dispatcher")
    assert "市级派遣员" in page.content()
    staff.close()

    phone = phone_context(browser, live_server, lat=41.79, lng=123.40)
    page = phone.new_page()
    watch(page, page_errors)
    page.goto("/h5/")
    page.get_by_text("微信登录").first.click()
    page.click("#confirm")
    page.wait_for_url("**/h5/**")
    assert "您好" in page.inner_text("body")
    phone.close()
    assert page_errors == []
