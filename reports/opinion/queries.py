"""The observers' queue as queries: filters, scope and paging, shared by the API and the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from app.auth import scope
from app.auth.models import StaffUser
from app.errors import NotFound
from app.extensions import db
from reports.opinion import service
from reports.opinion.models import ItemState, OpinionItem, OpinionSource

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def items(staff: StaffUser, args: dict[str, Any]) -> Select:
    """Items by state (default: the queue, 待处理), source and month found, newest first. A
    department-bound account sees the items turned into cases in its districts only."""
    query = select(OpinionItem)
    state = args.get("state")
    if state:
        query = query.where(OpinionItem.state == ItemState(state))
    if args.get("source_id"):
        query = query.where(OpinionItem.source_id == args["source_id"])
    if args.get("month"):
        year, month = (int(x) for x in args["month"].split("-"))
        start = datetime(year, month, 1, tzinfo=LOCAL_TZ)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=LOCAL_TZ)
        query = query.where(
            OpinionItem.found_at >= start.astimezone(UTC),
            OpinionItem.found_at < end.astimezone(UTC),
        )
    query = scope.restrict(query, staff, district=OpinionItem.district_code)
    return query.order_by(OpinionItem.id.desc())


def page(query: Select, args: dict[str, Any]) -> tuple[list[OpinionItem], int]:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
    ).all()
    return list(rows), total or 0


def item_for(staff: StaffUser, item_id: int, *, lock: bool = False) -> OpinionItem:
    """One item (404 unknown, 403 outside the account's districts)."""
    item = service.item_by_id(item_id, lock=lock)
    scope.require(staff, "该舆情信息不在您的管辖范围内", district_code=item.district_code)
    return item


def sources() -> list[OpinionSource]:
    return list(db.session.scalars(select(OpinionSource).order_by(OpinionSource.id)))


def source_by_id(source_id: int) -> OpinionSource:
    source = db.session.get(OpinionSource, source_id)
    if source is None:
        raise NotFound("未找到该来源", code="opinion_source_not_found")
    return source


def queue_count() -> int:
    return (
        db.session.scalar(select(func.count()).where(OpinionItem.state == ItemState.PENDING)) or 0
    )
