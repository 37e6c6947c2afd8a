"""我的数据与账号注销 in a real browser, on a phone: reached from 我的上报, a wrong confirmation is
told at its field, the right one deletes the account once (the page's one Idempotency-Key) and the
session ends with it."""

from __future__ import annotations

import re

from tests.browser.conftest import phone_context, screenshot, watch

XINGHUA = (41.7960, 123.3710)


def test_a_citizen_deletes_the_account_from_the_page(browser, live_server, page_errors):
    phone = phone_context(browser, live_server, lat=XINGHUA[0], lng=XINGHUA[1])
    page = phone.new_page()
    watch(page, page_errors)
    page.goto("/h5/reports")
    page.click("#confirm")  # the public account's sign-in (emulator)
    page.wait_for_url(re.compile(r"/h5/reports$"))
    page.click("#my-data-link")
    page.wait_for_url(re.compile(r"/h5/me/data$"))
    assert page.locator("#data-sections").inner_text().count("项") >= 2

    page.fill("#confirm", "注销")
    page.click("#delete-account")
    error = page.locator("#error-confirm")
    error.wait_for(state="visible")
    assert "确认注销" in error.inner_text()
    assert page.get_attribute("#confirm", "aria-invalid") == "true"

    page.fill("#confirm", "确认注销")
    page.click("#delete-account")
    done = page.locator("#delete-done")
    done.wait_for(state="visible")
    assert "账号已注销" in done.inner_text()
    screenshot(page, "privacy-account-deleted")
    page.goto("/h5/me/data")  # signed out: the public account's sign-in page again
    assert "/_wechat/connect/" in page.url, page.url
    # The refused confirmation's 422 is the answer the test provoked.
    assert [e for e in page_errors if "status of 422" not in e] == []
    phone.close()
