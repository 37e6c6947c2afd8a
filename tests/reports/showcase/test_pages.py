"""The 文明行为展示 pages as citizens and staff read them: the gallery and a post without signing
in (a refused or pending post is a friendly 404), the form and 我的发布 for a signed-in citizen
(the refusal reason shown), the review console for reviewers (reports listed) and not for
handlers, and the console home's to-do counts."""

from __future__ import annotations

from app.auth.models import Role
from reports.showcase.seed import seed_demo_showcase
from tests.console.conftest import login_as
from tests.reports.showcase.conftest import STAFF_POSTS

BROWSER = {"Accept": "text/html"}


def html(client, url: str, status: int = 200) -> str:
    resp = client.get(url, headers=BROWSER)
    assert resp.status_code == status, (url, resp.status_code, resp.get_data(as_text=True)[:300])
    return resp.get_data(as_text=True)


def test_citizen_pages(app, client, api, approved, post_as, citizen, town, published):
    author = citizen("王小明")
    shown = approved(author, "地铁口单车停放整齐")
    refused = post_as(author, "随手拍一张").get_json()["id"]
    api("POST", f"{STAFF_POSTS}/{refused}/refuse", town.reviewer, json={"reason": "与文明行为无关"})

    gallery = html(client, "/h5/showcase")
    assert "地铁口单车停放整齐" in gallery and "王**" in gallery and "王小明" not in gallery
    assert "/public/" in gallery and "随手拍一张" not in gallery
    assert "地铁口单车停放整齐" in html(client, "/h5/showcase?sort=popular&cursor=bad")
    post = html(client, f"/h5/showcase/{shown}")
    assert "举报该作品" in post and "泄露他人隐私" in post
    assert "作品不存在或已下架" in html(client, f"/h5/showcase/{refused}", 404)
    signed_out = client.get("/h5/showcase/new", headers=BROWSER)
    assert signed_out.status_code == 302 and "/auth/wechat" in signed_out.headers["Location"]

    with client.session_transaction() as sess:
        sess["citizen_id"] = author.id
    assert 'id="showcase-form"' in html(client, "/h5/showcase/new") and "测试一区" in html(
        client, "/h5/showcase/new"
    )
    mine = html(client, "/h5/showcase/mine")
    assert "未通过原因：与文明行为无关" in mine and "展示中" in mine and "共 2 条" in mine


def test_the_review_console(app, api, post_as, approved, citizen, town, published):
    author = citizen()
    assert post_as(author, "等待审核的作品", district="T-E").status_code == 201
    shown = approved(author, "已展示的作品")
    api(
        "POST",
        f"/api/v1/showcase/posts/{shown}/flags",
        citizen("举报人"),
        json={"reason": "unrelated", "note": "不是文明行为"},
    )

    reviewer = app.test_client()
    login_as(reviewer, "sc_reviewer")
    home = html(reviewer, "/console/")
    assert "文明展示待审核" in home and "文明展示被举报" in home
    page = html(reviewer, "/console/showcase")
    assert "等待审核的作品" in page and "测试二区" in page and 'data-act="approve"' in page
    flagged = html(reviewer, "/console/showcase?tab=flagged")
    assert "广告或与文明行为无关（不是文明行为）" in flagged and 'data-act="hide"' in flagged

    west = app.test_client()
    login_as(west, "sc_west_reviewer")
    assert "等待审核的作品" not in html(west, "/console/showcase")  # 测试二区: not theirs
    handler = app.test_client()
    login_as(handler, "sc_handler")
    html(handler, "/console/showcase", 403)
    dispatcher = app.test_client()
    login_as(dispatcher, "sc_dispatcher")
    page = html(dispatcher, "/console/showcase?tab=approved")
    assert 'data-act="feature"' in page and 'data-act="approve"' not in page


def test_the_demo_seed_fills_the_gallery_home_and_console(app, client, town, make_staff):
    make_staff("reviewer", roles=(Role.REVIEWER,))
    assert seed_demo_showcase() == 8 and seed_demo_showcase() == 0
    gallery = html(client, "/h5/showcase")
    assert gallery.count('class="sc-card"') == 5 and "李**" in gallery and "李阿姨" not in gallery
    assert html(client, "/h5/").count('class="sc-tile"') == 2
    console = app.test_client()
    login_as(console, "sc_reviewer")
    flagged = html(console, "/console/showcase?tab=flagged")
    assert "周末公园环境很好" in flagged and flagged.count("与文明行为无关") >= 2
