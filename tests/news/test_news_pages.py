"""The 城管动态 H5 pages (no sign-in) and the console editor page (admins and dispatchers)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.auth.models import Role
from app.console import menu_for
from app.news.models import NewsStatus
from tests.console.conftest import login_as


def test_the_list_shows_published_articles_without_signing_in(client, article):
    article("冬季清雪作业期间临时停车提示", status=NewsStatus.PUBLISHED,
            summary="请配合将车辆停放在路外停车场。")  # fmt: skip
    article("尚未发布的草稿")
    article("已经撤回的通告", status=NewsStatus.WITHDRAWN)
    resp = client.get("/h5/news")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "城管动态" in html and "共 1 篇" in html
    assert "冬季清雪作业期间临时停车提示" in html and "请配合将车辆停放在路外停车场。" in html
    assert "尚未发布的草稿" not in html and "已经撤回的通告" not in html
    assert "weui.min.css" in html and "weui-media-box" in html


def test_an_empty_list_says_so(client):
    assert "暂无城管动态" in client.get("/h5/news").get_data(as_text=True)


def test_the_list_pages_ten_at_a_time(client, article):
    for day in range(1, 13):
        article(f"第{day}号通告", status=NewsStatus.PUBLISHED,
                published_at=datetime(2026, 11, day, tzinfo=UTC))  # fmt: skip
    first = client.get("/h5/news").get_data(as_text=True)
    assert "第12号通告" in first and "第3号通告" in first and "第2号通告" not in first
    assert 'id="news-next"' in first and "第 1 / 2 页" in first
    second = client.get("/h5/news?page=2").get_data(as_text=True)
    assert "第2号通告" in second and "第1号通告" in second and 'id="news-prev"' in second


def test_an_article_is_plain_text_paragraphs_never_html(client, article):
    a = article("关于规范户外广告设置的通知", status=NewsStatus.PUBLISHED,
                body="第一段 <b>加粗</b>\n<script>alert(1)</script>\n\n第三段",
                published_at=datetime(2026, 11, 20, 2, 30, tzinfo=UTC))  # fmt: skip
    resp = client.get(f"/h5/news/{a.id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "关于规范户外广告设置的通知" in html and "发布时间：2026-11-20 10:30" in html
    assert "<script>alert(1)</script>" not in html and "<b>加粗</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<p>第") == 2  # blank lines are not paragraphs


def test_drafts_and_withdrawn_articles_are_a_friendly_404(client, article):
    for status in (NewsStatus.DRAFT, NewsStatus.WITHDRAWN):
        resp = client.get(f"/h5/news/{article(status=status).id}")
        assert resp.status_code == 404
        assert "文章不存在或已撤回" in resp.get_data(as_text=True)
    assert client.get("/h5/news/999999").status_code == 404


def test_console_page_for_editors_only(client, make_staff, make_department):
    make_staff("news-page-dispatcher", (Role.DISPATCHER,))
    login_as(client, "news-page-dispatcher")
    resp = client.get("/console/news")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for text in ("城管动态", "新建文章", 'id="news-title"', 'id="news-body"', 'id="news-publish"',
                 'id="news-withdraw"', 'id="news-status-filter"', "/api/v1/staff/news",
                 "console/news.js"):  # fmt: skip
        assert text in html, text
    assert 'href="/console/news"' in html  # in the menu

    other = client.application.test_client()
    dept = make_department("NEWS-P", "测试处置单位")
    handler = make_staff("news-page-handler", (Role.HANDLER,), department=dept)
    login_as(other, "news-page-handler")
    assert other.get("/console/news").status_code == 403
    assert "城管动态" not in [item.label for item in menu_for(handler)]


def test_console_page_needs_a_sign_in(client):
    resp = client.get("/console/news")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
