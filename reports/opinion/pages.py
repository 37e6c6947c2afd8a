"""网络舆情 console pages: the observers' queue, an item with its actions, the counts, and the
sources and keyword lists (admins edit them).

Rendered on the server from the same queries and presenters as the JSON APIs; every write goes
through those APIs from static/opinion/console.js, which check roles again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint, Flask, request, url_for
from sqlalchemy import select

from app.auth.models import Role, StaffUser
from app.console import add_todos, nav_item, render, staff_page
from app.extensions import db
from reports.models import Category
from reports.opinion import present, queries, service
from reports.opinion.models import (
    KIND_LABELS,
    SATISFACTION_LABELS,
    STATE_LABELS,
    ItemState,
)
from reports.opinion.schemas import OpinionCountArgs, OpinionItemListArgs

bp = Blueprint(
    "opinion_pages",
    __name__,
    template_folder="templates",
    static_folder="static/opinion",
    static_url_path="/static/opinion",
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
OBSERVERS = (Role.DISPATCHER, Role.ADMIN)
TABS = (("queue", "监测队列"), ("counts", "统计"), ("sources", "来源与关键词"))
COUNT_LABELS = {
    "found": "发现",
    "relevant": "相关",
    "cases": "转为案件",
    "replied": "已答复",
    "followed_up": "已回访",
}


@bp.app_template_filter("op_time")
def local_time(value: datetime | str | None) -> str:
    """A stored time or an ISO string as the city reads it: 2026-11-21 14:05."""
    if not value:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def load_args(schema: ma.Schema) -> dict[str, Any]:
    """The query string through the API's schema; a bad value falls back to its default."""
    raw = {k: v for k, v in request.args.items() if v.strip()}
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        return schema.load({k: v for k, v in raw.items() if k not in exc.messages})


def page_links(page: int, total: int, per_page: int) -> dict[str, Any]:
    args = request.args.to_dict()

    def link(number: int) -> str:
        return url_for(request.endpoint, **(args | {"page": number}))

    return {
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page * per_page < total else None,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "total": total,
    }


def frame(template: str, staff: StaffUser, tab: str, **context: Any) -> str:
    return render(
        template, staff, tabs=TABS, tab=tab, is_admin=Role.ADMIN in staff.roles, **context
    )


@nav_item("网络舆情", OBSERVERS, order=24, endpoint="opinion_pages.queue")
@bp.get("/console/opinion")
@staff_page(*OBSERVERS)
def queue(staff: StaffUser):
    """The queue (待处理 by default), or posts by state, source and month."""
    args = load_args(OpinionItemListArgs())
    if "state" not in request.args:
        args["state"] = ItemState.PENDING.value
    rows, total = queries.page(queries.items(staff, args), args)
    return frame(
        "opinion/queue.html",
        staff,
        "queue",
        items=[present.item_view(i) for i in rows],
        filters={
            "state": args["state"] or "",
            "source_id": args.get("source_id") or "",
            "month": args.get("month") or "",
        },
        states=[(s.value, label) for s, label in STATE_LABELS.items()],
        sources=[(s.id, s.name) for s in queries.sources()],
        pager=page_links(args["page"], total, args["per_page"]),
    )


@bp.get("/console/opinion/items/<int:item_id>")
@staff_page(*OBSERVERS)
def item_page(item_id: int, staff: StaffUser):
    """A post: its text, the filter's verdict, and the forms of the actions open now."""
    view = present.item_view(queries.item_for(staff, item_id), detail=True)
    categories = db.session.execute(
        select(Category.code, Category.major_name, Category.name)
        .where(Category.is_active.is_(True))
        .order_by(Category.code)
    ).all()
    return frame(
        "opinion/item.html",
        staff,
        "queue",
        item=view,
        categories=[(code, f"{code} {major}/{name}") for code, major, name in categories],
        satisfactions=list(SATISFACTION_LABELS.items()),
        prefill=f"{view['title']}。{view['body']}"[:480],
        now=datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"),
    )


@bp.get("/console/opinion/counts")
@staff_page(*OBSERVERS)
def counts_page(staff: StaffUser):
    """Found, relevant, made cases, replied, followed up: by month of a year, and by year."""
    year = load_args(OpinionCountArgs()).get("year") or service.local_year()
    data = service.counts(year)
    return frame("opinion/counts.html", staff, "counts", data=data, year=year, labels=COUNT_LABELS)


@bp.get("/console/opinion/sources")
@staff_page(*OBSERVERS)
def sources_page(staff: StaffUser):
    """The sources with their last fetch and errors, and the keyword lists; admins edit."""
    include, exclude = service.keyword_lists()
    return frame(
        "opinion/sources.html",
        staff,
        "sources",
        sources=[present.source_view(s) for s in queries.sources()],
        kinds=[(k.value, label) for k, label in KIND_LABELS.items()],
        include="，".join(include),
        exclude="，".join(exclude),
        status_labels={"ok": "正常", "not_modified": "无更新", "error": "出错"},
    )


def todos(staff: StaffUser) -> list[dict[str, Any]]:
    """待处理的网络舆情 on the console home, for observers."""
    if not staff.has_role(*OBSERVERS):
        return []
    count = queries.queue_count()
    return (
        [
            {
                "label": "待处理网络舆情",
                "count": count,
                "url": url_for("opinion_pages.queue"),
                "urgent": False,
            }
        ]
        if count
        else []
    )


def init_app(app: Flask) -> None:
    """Register the pages and the console to-do count."""
    app.register_blueprint(bp)
    add_todos(app, todos)
    # The case page (reports/console/case.html) shows a 网络舆情 case's post through this.
    app.add_template_global(service.post_for_case, "opinion_post_for")
