"""Demo seed of the opinion watch: the keyword lists, the four emulated boards as sources, what
they hold now (as the worker would store it) and one post already turned into a case with its
reply and follow-up."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.auth.models import StaffUser
from app.db import utcnow
from app.extensions import db
from reports.opinion import emulator, parse, service
from reports.opinion.models import ItemState, OpinionItem, OpinionSource, Satisfaction, SourceKind

INCLUDE = [
    "井盖",
    "占道",
    "垃圾",
    "路灯",
    "小广告",
    "渣土",
    "违章搭建",
    "违建",
    "乱停",
    "油烟",
    "噪音",
    "积水",
    "下水道",
    "绿化",
    "树木",
    "摊贩",
    "扬尘",
    "户外广告",
    "共享单车",
]
EXCLUDE = ["出售", "转让", "求购", "招聘", "推荐", "好玩", "团购"]


def seed_demo() -> None:
    """Once: keywords, sources and their current posts (only with the emulator)."""
    if db.session.scalar(select(OpinionSource.id).limit(1)) is not None:
        return
    service.set_keywords(INCLUDE, EXCLUDE)
    if "opinion_emulator" not in current_app.blueprints:
        return
    base = (
        current_app.config.get("OPINION_DEMO_BASE_URL") or current_app.config["PUBLIC_BASE_URL"]
    ).rstrip("/")
    client = current_app.test_client()
    for name, kind, path, rule in emulator.DEMO_SOURCES:
        source = OpinionSource(
            name=name, kind=SourceKind(kind), url=base + path, rule=rule, interval_minutes=30
        )
        db.session.add(source)
        db.session.flush()
        # What the worker would find there now, read in process (no server runs while seeding).
        resp = client.get(path, base_url=base)
        posts = parse.parse(kind, resp.data, source.url, rule)
        source.items_found = service.store_posts(source, posts)
        source.etag = resp.headers.get("ETag")
        source.last_modified = resp.headers.get("Last-Modified")
        source.last_fetched_at, source.last_status = utcnow(), "ok"
        source.next_fetch_at = utcnow() + timedelta(minutes=source.interval_minutes)
    _demo_case()


def _demo_case() -> None:
    """The oldest pending post made a case by the demo dispatcher, replied and followed up."""
    dispatcher = db.session.scalar(select(StaffUser).where(StaffUser.username == "dispatcher"))
    item = db.session.scalar(
        select(OpinionItem)
        .where(OpinionItem.state == ItemState.PENDING)
        .order_by(OpinionItem.published_at)
        .limit(1)
    )
    if dispatcher is None or item is None:
        return
    req = service.CaseRequest(
        description=f"{item.title}。{item.body}"[:480], address="和平区南京街临街商铺"
    )
    service.to_case(item.id, dispatcher, req)
    service.record_reply(
        item.id,
        dispatcher,
        "您好，您反映的问题已转和平区城管执法部门核查处理，感谢您对城市管理工作的支持。",
        None,
    )
    service.record_followup(
        item.id, dispatcher, "电话回访发帖人，对处理结果表示认可", Satisfaction.SATISFIED
    )
