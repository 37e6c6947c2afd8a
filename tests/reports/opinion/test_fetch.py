"""The fetcher against a local feed server: the four kinds of source, conditional GET (the second
fetch sends If-None-Match and gets 304, nothing new), deduplication within and across sources,
the relevance filter, and the failures a real site gives (errors back off, reported in Chinese)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from reports.opinion import fetcher, parse, tasks
from reports.opinion.models import ItemState, OpinionItem
from tests.reports.opinion.conftest import make_source


def items() -> dict[str, OpinionItem]:
    return {i.title: i for i in db.session.scalars(select(OpinionItem))}


def test_four_kinds_fetched_deduplicated_and_judged_then_304(app, feeds, sources):
    assert tasks.fetch_round() == 4
    found = items()
    # 3 RSS + 2 Atom + 2 JSON + 2 page posts; the JSON board's copy of the RSS post is dropped.
    assert len(found) == 8
    relevant = {t for t, i in found.items() if i.state == ItemState.PENDING}
    assert relevant == {
        "雨湖区建设路口井盖破了一个大洞",
        "岳塘区宝塔路夜市烧烤占道经营",
        "楼下垃圾桶满了好几天没人清运",
        "人行道上乱停电动车挡住盲道",
        "九华大道渣土车沿路撒漏",
    }
    irrelevant = {t for t, i in found.items() if i.state == ItemState.IRRELEVANT}
    assert irrelevant == {
        "求推荐湘潭好吃的米粉店",
        "出售二手婴儿车，九成新",
        "周末湘潭有什么好玩的地方？",
    }
    assert not any(i.relevant for t, i in found.items() if t in irrelevant)

    manhole = found["雨湖区建设路口井盖破了一个大洞"]
    assert manhole.link == feeds.url("/thread/1001")  # made absolute
    assert manhole.body.startswith("雨湖区建设路与韶山路交叉口东侧的井盖破了")  # HTML stripped
    assert manhole.author == "建设路居民"
    assert manhole.published_at == datetime(2026, 11, 30, 0, 15, tzinfo=UTC)
    assert manhole.suggested_category and manhole.confidence is not None
    assert "井盖" in manhole.keywords
    board = found["九华大道渣土车沿路撒漏"]
    assert board.link == feeds.url("/msg/4001")
    assert board.published_at == datetime(2026, 11, 27, 23, 45, tzinfo=UTC)  # local 07:45
    assert found["周末湘潭有什么好玩的地方？"].body == "带孩子周末出去玩，求推荐好玩的地方。"
    assert found["楼下垃圾桶满了好几天没人清运"].author == "河东业主"

    for source in sources.values():
        assert source.last_status == "ok" and source.etag
        assert source.next_fetch_at > utcnow() + timedelta(minutes=29)
    assert sources["json"].items_found == 1  # its other post was already found on the forum
    assert all("If-None-Match" not in h for h in feeds.seen("/rss.xml"))

    # Not due yet: nothing is fetched.
    assert tasks.fetch_round() == 0
    # Due again: a conditional GET, answered 304, and nothing new.
    for source in sources.values():
        source.next_fetch_at = None
    db.session.flush()
    assert tasks.fetch_round() == 4
    second = feeds.seen("/rss.xml")[-1]
    assert second["If-None-Match"] == sources["rss"].etag
    assert second["If-Modified-Since"] == "Tue, 01 Dec 2026 04:00:00 GMT"
    assert all(s.last_status == "not_modified" for s in sources.values())
    assert len(items()) == 8


def test_a_changed_feed_adds_only_its_new_post(app, feeds, sources):
    source = sources["rss"]
    fetcher.fetch_source(source)
    before = len(items())
    feeds.docs["/rss.xml"] = feeds.docs["/rss.xml"].replace(
        b"<item>",
        b"""<item>
      <title>\xe8\xb7\xaf\xe7\x81\xaf\xe4\xb8\x8d\xe4\xba\xae</title><link>/thread/1004</link>
      <guid>bbs-1004</guid><description>\xe5\x90\x89\xe5\x88\xa9\xe8\xb7\xaf\xe8\xb7\xaf\xe7\x81\xaf\xe4\xb8\x80\xe6\x8e\x92\xe4\xb8\x8d\xe4\xba\xae\xe4\xba\x86\xe4\xb8\x80\xe5\x91\xa8</description>
    </item><item>""",
        1,
    )
    outcome = fetcher.fetch_source(source)
    assert (outcome.status, outcome.new_items) == ("ok", 1)
    assert len(items()) == before + 1
    assert items()["路灯不亮"].state == ItemState.PENDING  # 路灯 is a keyword


def test_failures_back_off_and_say_why_in_chinese(app, feeds, keywords):
    broken = make_source(feeds, "/broken")
    start = utcnow()
    for errors in (1, 2, 3):
        outcome = fetcher.fetch_source(broken)
        assert outcome.status == "error" and broken.error_count == errors
        assert broken.last_error == "网站返回错误（HTTP 500）"
        wait = broken.next_fetch_at - start
        assert timedelta(minutes=10 * 2**errors - 1) < wait < timedelta(minutes=10 * 2**errors + 1)

    app.config["OPINION_FETCH_TIMEOUT"] = 0.3
    try:
        slow = make_source(feeds, "/slow")
        assert fetcher.fetch_source(slow).error == "连接超时（0.3 秒）"
    finally:
        app.config["OPINION_FETCH_TIMEOUT"] = 10.0
    big = make_source(feeds, "/big.xml")
    app.config["OPINION_MAX_BYTES"] = 100_000
    try:
        assert fetcher.fetch_source(big).error == "内容超过上限（97 KB）"
    finally:
        app.config["OPINION_MAX_BYTES"] = 2 * 1024 * 1024
    bomb = make_source(feeds, "/dtd.xml")
    assert fetcher.fetch_source(bomb).error == "订阅内容含有不允许的文档类型声明（DTD），已拒绝"
    wrong = make_source(feeds, "/feed.json", kind="atom")
    assert fetcher.fetch_source(wrong).error.startswith("订阅内容不是有效的 XML")
    assert not items()
    # A success forgives the errors.
    broken.url = feeds.url("/rss.xml")
    assert fetcher.fetch_source(broken).status == "ok" and broken.error_count == 0


def test_page_rule_reads_only_the_items():
    html = (
        b"<ul><li class='post'><a class='title' href='/a?x=1&amp;y=2'>\xe6\xa0\x87\xe9\xa2\x98"
        b"</a><p class='summary'>\xe6\xad\xa3\xe6\x96\x87</p></li><li class='ad'>x</li>"
        b"<script>var s='<li class=\"post\">';</script></ul>"
    )
    posts = parse.parse_page(
        html,
        "http://b.example/list",
        {"item": "li.post", "title": "a.title", "link": "a.title@href", "body": "p.summary"},
    )
    assert [(p.title, p.body, p.link) for p in posts] == [
        ("标题", "正文", "http://b.example/a?x=1&y=2")
    ]
