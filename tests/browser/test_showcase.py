"""文明行为展示 in a browser: a citizen posts a photo with a few words from the H5 form (upload,
idempotent post, 我的发布 says 待审核), a reviewer approves it in the console and features it, and
it shows in the gallery and on the home page, where the citizen likes it (the count follows and
survives a reload)."""

from __future__ import annotations

import io
import random

from PIL import Image

from tests.browser.conftest import desktop_context, phone_context, staff_login, watch


def photo_file(colour: str) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (1600, 1200), colour).save(buf, "JPEG", quality=85)
    return {"name": "文明.jpg", "mimeType": "image/jpeg", "buffer": buf.getvalue()}


def test_a_post_is_reviewed_featured_and_liked(browser, live_server, page_errors):
    tag = str(random.Random().randint(10_000, 99_999))  # digits: people read this text
    text = f"公交站台市民排队候车，秩序井然{tag}"
    phone = phone_context(browser, live_server, lat=41.7930, lng=123.4080)
    citizen = phone.new_page()
    watch(citizen, page_errors)
    citizen.goto("/h5/showcase/new")  # signed out: the public account's sign-in, then back
    citizen.fill("#openid", f"o-showcase-{tag}")
    citizen.get_by_role("button", name="切换").click()
    citizen.click("#confirm")
    citizen.wait_for_url("**/h5/showcase/new")
    citizen.set_input_files("#photo-input", [photo_file("#6a9a70")])
    citizen.wait_for_function(
        "document.querySelectorAll('#photo-list li:not(.weui-uploader__file_status)').length === 1",
        timeout=30000,
    )
    citizen.fill("#text", text)
    citizen.click("#submit-btn")
    citizen.wait_for_url("**/h5/showcase/mine", timeout=30000)
    assert "待审核" in citizen.inner_text("#mine-list")

    desk = desktop_context(browser, live_server)
    staff = desk.new_page()
    watch(staff, page_errors)
    staff_login(staff, "reviewer")
    staff.goto("/console/showcase")
    staff.locator(".sc-post", has_text=text).get_by_role("button", name="通过", exact=True).click()
    staff.locator(".sc-post", has_text=text).wait_for(state="detached")
    staff.goto("/console/showcase?tab=approved")
    staff.locator(".sc-post", has_text=text).get_by_role("button", name="设为精选").click()
    staff.locator(".sc-post", has_text=text).get_by_role("button", name="取消精选").wait_for()
    desk.close()

    citizen.goto("/h5/")
    assert text in citizen.inner_text("#showcase-featured")
    citizen.goto("/h5/showcase")
    card = citizen.locator(".sc-card", has_text=text)
    like = card.locator("[data-like]")
    assert like.get_attribute("aria-pressed") == "false" and like.inner_text() == "赞 0"
    like.click()
    citizen.wait_for_function(
        "b => b.getAttribute('aria-pressed') === 'true'", arg=like.element_handle()
    )
    assert like.inner_text() == "赞 1"
    citizen.reload()
    assert citizen.locator(".sc-card", has_text=text).locator("[data-like]").inner_text() == "赞 1"
    phone.close()
    assert page_errors == []
