"""Lists and lookups: a citizen's reports, staff queues filtered and scoped, one case."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.auth import scope
from app.auth.models import StaffUser, User
from app.db import utcnow
from app.errors import Forbidden, NotFound, ValidationFailed
from app.extensions import db
from reports.models import OPEN_STATES, Attention, Category, Report, ReportState, TimelineEntry

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LIST_LOADS = (selectinload(Report.category), selectinload(Report.department))
# The queues where flagged cases (Report.attention) come first: 待派遣 (returned and reopened
# cases) and 待签收 (re-dispatched ones). Elsewhere the order stays the index's.
FLAGGED_FIRST = frozenset({ReportState.REGISTERED.value, ReportState.DISPATCHED.value})
MOVED_OUT_DAYS = 7


def scoped(query: Select, staff: StaffUser) -> Select:
    """Limit a report query to what this staff account may see (``app.auth.scope``)."""
    return scope.restrict(query, staff, department=Report.department_id, region=Report.region_id)


def paginate(query: Select, page: int, per_page: int) -> tuple[list[Report], int]:
    """A page of a query and the total count."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.options(*LIST_LOADS).limit(per_page)
                               .offset((page - 1) * per_page)).all()  # fmt: skip
    return list(items), total or 0


def citizen_reports(user: User, page: int, per_page: int) -> tuple[list[Report], int]:
    """The citizen's own reports, newest first."""
    query = select(Report).where(Report.reporter_id == user.id).order_by(Report.id.desc())
    return paginate(query, page, per_page)


def citizen_report(user: User, number: str) -> tuple[Report, bool]:
    """One of the citizen's reports, or a case one of them was merged into (they follow it);
    (report, own). 404 for anything else: existence is not revealed."""
    report = db.session.scalar(select(Report).where(Report.number == number))
    if report is not None and report.reporter_id == user.id:
        return report, True
    if report is not None and db.session.scalar(
        select(Report.id).where(Report.merged_into_id == report.id, Report.reporter_id == user.id)
    ):
        return report, False
    raise NotFound("未找到该问题", code="report_not_found")


def staff_report(staff: StaffUser, number: str) -> Report:
    """A case this staff account may see: 404 if it does not exist, 403 if out of scope."""
    report = db.session.scalar(select(Report).where(Report.number == number))
    if report is None:
        raise NotFound("未找到该案件", code="report_not_found")
    visible = db.session.scalar(scoped(select(Report.id).where(Report.id == report.id), staff))
    if visible is None:
        raise Forbidden("该案件不属于您所在部门", code="out_of_scope")
    return report


def staff_queue(staff: StaffUser, args: dict) -> tuple[list[Report], int]:
    """A filtered, scoped page of cases: triage, by state, department, district, overdue..."""
    return paginate(queue_query(staff, args), args["page"], args["per_page"])


def queue_query(staff: StaffUser, args: dict) -> Select:
    """The queue's filtered, scoped, ordered query (QueueArgs), shared with the CSV export."""
    query = scoped(select(Report), staff)
    if args.get("state"):
        try:
            query = query.where(Report.state == ReportState(args["state"]))
        except ValueError:
            raise ValidationFailed(fields={"state": ["未知的状态"]}) from None
    if args.get("triage"):
        query = query.where(Report.state == ReportState.REPORTED)
    if args.get("overdue"):
        query = query.where(Report.state.in_([s.value for s in OPEN_STATES]),
                            Report.state != ReportState.HANDLED,
                            Report.due_at < utcnow())  # fmt: skip
    if args.get("department_id"):
        units = scope.department_subtree_ids(args["department_id"])
        query = query.where(Report.department_id.in_(units))
    if args.get("district"):
        query = query.where(Report.district_code == args["district"])
    if args.get("category"):
        query = query.where(Report.category_id.in_(
            select(Category.id).where(Category.code == args["category"])))  # fmt: skip
    if args.get("channel"):
        query = query.where(Report.channel == args["channel"])
    if args.get("q"):
        query = query.where(or_(Report.number == args["q"],
                                Report.description.contains(args["q"])))  # fmt: skip
    query = _date_range(query, args.get("date_from"), args.get("date_to"))
    order = Report.due_at.asc() if args.get("overdue") else Report.id.desc()
    if args.get("state") in FLAGGED_FIRST and not args.get("overdue"):
        return query.order_by(Report.attention.is_(None), order, Report.id.desc())
    return query.order_by(order, Report.id.desc())


def flagged_count(staff: StaffUser, attention: Attention) -> int:
    """How many cases in this account's scope wait flagged ``attention`` (a to-do count)."""
    query = scoped(select(func.count()).select_from(Report), staff)
    return db.session.scalar(query.where(Report.attention == attention)) or 0


def moved_out(staff: StaffUser, days: int = MOVED_OUT_DAYS) -> list[TimelineEntry]:
    """改派 away from this department-bound account's departments in the last ``days`` (newest
    first): the departments that lost a case hear of it here, since they no longer see it."""
    if scope.city_wide(staff):
        return []
    units = scope.scope_of(staff).department_ids
    since = utcnow() - timedelta(days=days)
    rows = db.session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.action == "redispatch", TimelineEntry.created_at >= since)
        .options(selectinload(TimelineEntry.report), selectinload(TimelineEntry.department))
        .order_by(TimelineEntry.id.desc())
    )  # fmt: skip
    return [e for e in rows if (e.data or {}).get("from_department_id") in units]


def _date_range(query: Select, first, last) -> Select:
    """Created between two local days, inclusive."""
    if first:
        query = query.where(Report.created_at >= _local_midnight(first))
    if last:
        query = query.where(Report.created_at < _local_midnight(last + timedelta(days=1)))
    return query


def _local_midnight(day) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)
