"""Emulated local complaint boards for the embedded mode and the demo: an RSS feed, an Atom feed,
a JSON Feed and an HTML board page at /_opinion/..., with ETag and Last-Modified so conditional
GET answers 304. The demo sources (reports.opinion.seed) point here, never at the internet.
Registered only when OPINION_EMULATOR is on (outside production).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, request

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
bp = Blueprint("opinion_emulator", __name__, url_prefix="/_opinion")

# (board, id, title, text, author, days ago, hour): real-looking posts of the demo city, some
# about city management and some not; one is copied from the forum to the JSON board.
POSTS = [
    (
        "rss",
        "t1001",
        "太原街地下通道口井盖松动，踩上去咣当响",
        "和平区太原街北二马路地下通道出口旁边的井盖松了，人踩上去直晃，晚上路过的人多，"
        "老人孩子容易崴脚，希望有关部门尽快处理。",
        "太原街老住户",
        0,
        9,
    ),
    (
        "rss",
        "t1002",
        "铁西区兴华街夜市烧烤占道经营，油烟呛人",
        "兴华街南段每天晚上八点以后烧烤摊摆到人行道上，油烟大、噪音到半夜，"
        "车也过不去，已经持续两个多月了。",
        "兴华街居民",
        1,
        21,
    ),
    (
        "rss",
        "t1003",
        "求推荐沈阳好吃的鸡架店",
        "周末想带外地朋友吃鸡架，大家有什么推荐的老店吗？最好在皇姑区附近。",
        "吃货小王",
        1,
        12,
    ),
    (
        "rss",
        "t1004",
        "北陵公园东门路灯一排不亮",
        "皇姑区北陵公园东门外泰山路这一段，路灯已经连续一周不亮了，晚上散步的人多，黑灯瞎火很不安全。",
        "晨练大爷",
        2,
        19,
    ),
    (
        "atom",
        "a2001",
        "浑南区某小区门口垃圾堆了三天没人清运",
        "浑南区白塔河路附近小区大门外的垃圾桶满了，旁边堆了好多袋子，天热臭气熏天，招了很多苍蝇。",
        "浑南业主",
        0,
        14,
    ),
    (
        "atom",
        "a2002",
        "出售二手婴儿车，九成新",
        "好孩子婴儿车一台，用了半年，九成新，价格面议，沈河区可自取。",
        "宝妈",
        0,
        16,
    ),
    (
        "atom",
        "a2003",
        "大东区东望街人行道被乱停车占满",
        "东望街人行道上天天停满私家车，行人只能走机动车道，盲道也被挡住了，请城管管一管。",
        "大东区市民",
        3,
        8,
    ),
    (
        "json",
        "j3001",
        "沈河区中街附近墙上到处是小广告",
        "中街步行街旁边的居民楼外墙、电线杆上贴满了办证、开锁的小广告，撕了又贴，影响市容。",
        "中街商户",
        1,
        10,
    ),
    (
        "json",
        "j3002",
        "铁西区兴华街夜市烧烤占道经营，油烟呛人",
        "兴华街南段每天晚上八点以后烧烤摊摆到人行道上，油烟大、噪音到半夜，"
        "车也过不去，已经持续两个多月了。",
        "转帖",
        1,
        22,
    ),
    (
        "json",
        "j3003",
        "周末棋盘山有什么好玩的？",
        "打算周末带孩子去棋盘山，有没有推荐的游玩路线？",
        "周末去哪儿",
        2,
        11,
    ),
    (
        "page",
        "p4001",
        "于洪区黄河北大街施工渣土车沿路撒漏",
        "黄河北大街这几天渣土车进进出出，没盖篷布，一路撒土，下雨后全是泥，骑车很危险。",
        "于洪骑行者",
        0,
        7,
    ),
    (
        "page",
        "p4002",
        "和平区南京街违章搭建彩钢房",
        "南京街一处临街商铺在楼顶搭了彩钢板房，越盖越大，担心不安全，请相关部门查一查。",
        "热心市民",
        4,
        15,
    ),
]


def _at(days: int, hour: int) -> datetime:
    """A post's time: ``days`` before today at ``hour`` local (stable within a day, so the
    documents and their ETags are too)."""
    today = datetime.now(LOCAL_TZ).date()
    return datetime.combine(today - timedelta(days=days), time(hour), LOCAL_TZ)


def _posts(board: str) -> list[dict]:
    base = request.url_root.rstrip("/") + bp.url_prefix
    return [
        {
            "id": pid,
            "title": title,
            "text": text,
            "author": author,
            "at": _at(days, hour),
            "url": f"{base}/posts/{pid}",
        }
        for b, pid, title, text, author, days, hour in POSTS
        if b == board
    ]


def _conditional(body: str, mimetype: str, posts: list[dict]) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.add_etag()
    newest = max((p["at"] for p in posts), default=datetime.now(UTC))
    resp.last_modified = newest.astimezone(UTC)
    resp.headers["Cache-Control"] = "no-cache"
    return resp.make_conditional(request)


@bp.get("/rss.xml")
def rss() -> Response:
    posts = _posts("rss")
    items = "".join(
        f"<item><title>{xml_escape(p['title'])}</title><link>{p['url']}</link>"
        f'<guid isPermaLink="true">{p["url"]}</guid><author>{xml_escape(p["author"])}</author>'
        f"<pubDate>{format_datetime(p['at'])}</pubDate>"
        f"<description><![CDATA[<p>{escape(p['text'])}</p>]]></description></item>"
        for p in posts
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>沈阳市民网络问政</title><link>" + request.url_root + "</link>"
        "<description>市民反映的城市问题</description>" + items + "</channel></rss>"
    )
    return _conditional(body, "application/rss+xml", posts)


@bp.get("/atom.xml")
def atom() -> Response:
    posts = _posts("atom")
    entries = "".join(
        f"<entry><id>tag:bbs.example,2026:{p['id']}</id><title>{xml_escape(p['title'])}</title>"
        f'<link rel="alternate" href="{p["url"]}"/><published>{p["at"].isoformat()}</published>'
        f"<updated>{p['at'].isoformat()}</updated><author><name>{xml_escape(p['author'])}</name>"
        f'</author><content type="text">{xml_escape(p["text"])}</content></entry>'
        for p in posts
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>盛京论坛·城事版</title><id>tag:bbs.example,2026:city</id>"
        f"<updated>{datetime.now(UTC).date().isoformat()}T00:00:00Z</updated>" + entries + "</feed>"
    )
    return _conditional(body, "application/atom+xml", posts)


@bp.get("/feed.json")
def json_feed() -> Response:
    posts = _posts("json")
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "沈阳城事投诉平台",
        "items": [
            {
                "id": p["id"],
                "url": p["url"],
                "title": p["title"],
                "content_text": p["text"],
                "date_published": p["at"].isoformat(),
                "authors": [{"name": p["author"]}],
            }
            for p in posts
        ],
    }
    return _conditional(json.dumps(feed, ensure_ascii=False), "application/feed+json", posts)


@bp.get("/board.html")
def board() -> Response:
    posts = _posts("page")
    rows = "".join(
        f'<li class="post"><a class="title" href="/_opinion/posts/{p["id"]}">'
        f'{escape(p["title"])}</a><span class="author">{escape(p["author"])}</span>'
        f'<span class="time">{p["at"].strftime("%Y-%m-%d %H:%M")}</span>'
        f'<p class="summary">{escape(p["text"])}</p></li>'
        for p in posts
    )
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        "<title>沈阳网·民生留言板</title></head><body><h1>民生留言板</h1>"
        f'<ul class="posts">{rows}</ul></body></html>'
    )
    return _conditional(body, "text/html", posts)


@bp.get("/posts/<pid>")
def post(pid: str) -> Response:
    """A post's own page (where the links point)."""
    for _board, found, title, text, author, days, hour in POSTS:
        if found == pid:
            at = _at(days, hour).strftime("%Y-%m-%d %H:%M")
            body = (
                f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
                f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
                f"<p>{escape(author)} · {at}</p><p>{escape(text)}</p></body></html>"
            )
            return Response(body, mimetype="text/html")
    return Response(
        "<!doctype html><title>帖子不存在</title><p>帖子不存在或已删除</p>",
        404,
        mimetype="text/html",
    )


BOARD_RULE = {
    "item": "li.post",
    "title": "a.title",
    "link": "a.title@href",
    "date": "span.time",
    "body": "p.summary",
    "author": "span.author",
}
DEMO_SOURCES = [  # (name, kind, path, rule)
    ("沈阳市民网络问政", "rss", "/_opinion/rss.xml", None),
    ("盛京论坛·城事版", "atom", "/_opinion/atom.xml", None),
    ("沈阳城事投诉平台", "json", "/_opinion/feed.json", None),
    ("沈阳网·民生留言板", "page", "/_opinion/board.html", BOARD_RULE),
]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
