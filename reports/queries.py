"""Lists and lookups: a citizen's reports, staff queues filtered and scoped, one case.

The staff queues must stay fast at millions of cases (docs/benchmarks.md, "Console case lists at
1.34 million cases"), so they are written for the indexes of migration 0016 and the planner:

- a queue's total is counted exactly up to ``COUNT_CAP``; past it, counting stops and the total
  is ``COUNT_CAP + 1``, "more than COUNT_CAP" (the console reads 1万+ 件);
- a page is found as ids first, from an index alone where one covers the filters, and only its
  rows are then read;
- a long list whose date range ended in the past is also bounded by ids (``_id_bounds``): ids
  grow with creation time, so without that bound MariaDB walks the primary key from the newest
  case down to the range; a page is never asked for more cases than the exact total leaves,
  so the walk stops at the last one instead of running on to the oldest case;
- ``q`` finds a case number exactly, at any age, through its unique index, and text in the
  descriptions of the last ``TEXT_SEARCH_DAYS`` days of the period (the last 90 days when no
  dates are given): a substring search cannot use an index, so it reads every description it
  searches, and that is bounded this way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, false, func, or_, select
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
URGENT_FIRST = FLAGGED_FIRST | {ReportState.REPORTED.value}
MOVED_OUT_DAYS = 7
# (column, descending): the order of a list, in SQL and for a short list sorted in Python.
Order = tuple[tuple[ColumnElement[Any], bool], ...]
NEWEST_FIRST: Order = ((Report.id, True),)
# A list of at most this many cases is read whole in one unordered query and sorted here.
SMALL_LIST = 1_000
# A queue's total is exact up to this many cases; past it the total is COUNT_CAP + 1 ("more").
COUNT_CAP = 10_000
# Text search reads the descriptions of at most this many days of cases (the period's last).
TEXT_SEARCH_DAYS = 90


def scoped(query: Select, staff: StaffUser) -> Select:
    """Limit a report query to what this staff account may see (``app.auth.scope``)."""
    return scope.restrict(query, staff, department=Report.department_id, region=Report.region_id)


def paginate(
    query: Select,
    page: int,
    per_page: int,
    order: Order = NEWEST_FIRST,
    cap: int | None = None,
    narrow: Callable[[Select], Select] | None = None,
) -> tuple[list[Report], int]:
    """A page of a report query in ``order`` and its total: exact, or with ``cap`` exact up to
    ``cap`` and ``cap + 1`` when there are more (counting stops there).

    One unordered read of at most ``SMALL_LIST + 1`` ids (the planner free to take the index that
    filters best) answers a short list whole: its total, and its page sorted here. A longer list
    is counted, then its page's ids read in order (``narrow``: conditions that change no answer
    but spare the planner a walk), from an index alone where one covers the filters. Either way
    only the page's rows are read in full."""
    offset = (page - 1) * per_page
    probe = db.session.execute(
        query.with_only_columns(Report.id, *(column for column, _ in order))
        .order_by(None).limit(SMALL_LIST + 1)
    ).all()  # fmt: skip
    if len(probe) <= SMALL_LIST:
        total = len(probe) if cap is None else min(len(probe), cap + 1)
        probe.sort(key=lambda row: _sort_key(row[1:], order))
        ids = [row[0] for row in probe[offset : offset + per_page]]
    else:
        counted = query.with_only_columns(Report.id).order_by(None)
        if cap is not None:
            counted = counted.limit(cap + 1)
        total = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        # An exact total says where the list ends: no walk past its last case for a short page.
        wanted = per_page if cap is not None and total > cap else min(per_page, total - offset)
        paged = ordered(narrow(query) if narrow else query, order).with_only_columns(Report.id)
        ids = db.session.scalars(paged.limit(wanted).offset(offset)).all() if wanted > 0 else []
    if not ids:
        return [], total
    rows = db.session.scalars(select(Report).where(Report.id.in_(ids)).options(*LIST_LOADS))
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids], total


def ordered(query: Select, order: Order) -> Select:
    """``query`` in ``order``."""
    return query.order_by(*(column.desc() if desc else column.asc() for column, desc in order))


class _Descending:
    """A sort key component that sorts the other way round."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and other.value == self.value


def _sort_key(values: Sequence[Any], order: Order) -> tuple:
    """The key sorting rows as the database does ``order`` (NULL first when ascending)."""
    key = []
    for value, (_, desc) in zip(values, order, strict=True):
        part = (value is not None, value)
        key.append(_Descending(part) if desc else part)
    return tuple(key)


def citizen_reports(user: User, page: int, per_page: int) -> tuple[list[Report], int]:
    """The citizen's own reports, newest first."""
    return paginate(select(Report).where(Report.reporter_id == user.id), page, per_page)


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
    """A filtered, scoped page of cases (triage, by state, department, district, overdue...) and
    its total, exact up to ``COUNT_CAP`` (``COUNT_CAP + 1``: more than that)."""
    query, order = _queue_filtered(staff, args), _queue_order(args)
    return paginate(query, args["page"], args["per_page"], order, COUNT_CAP, _queue_narrow(args))


def queue_query(staff: StaffUser, args: dict) -> Select:
    """The queue's filtered, scoped, ordered query (QueueArgs), shared with the CSV export."""
    return ordered(_queue_filtered(staff, args), _queue_order(args))


def _queue_order(args: dict) -> Order:
    """Newest first; the overdue queue by due time; in the queues waiting for a dispatcher or a
    department (URGENT_FIRST), urgent cases (紧急: a follow-up answer said so) first, then, in
    FLAGGED_FIRST, flagged ones."""
    if args.get("overdue"):
        return ((Report.due_at, False), (Report.id, True))
    state = ReportState.REPORTED.value if args.get("triage") else args.get("state")
    order: Order = ((Report.urgent, True),) if state in URGENT_FIRST else ()
    if state in FLAGGED_FIRST:
        order = (*order, (Report.attention.is_(None), False))
    return (*order, (Report.id, True))


def _queue_narrow(args: dict) -> Callable[[Select], Select] | None:
    """A date range that ended in the past also bounds the ids (the same cases): the newest
    first, the planner would walk every newer case before reaching the range."""
    start, end = _period(args.get("date_from"), args.get("date_to"))
    if end is None or end > utcnow():
        return None
    return lambda query: query.where(_id_bounds(start, end))


def _queue_filtered(staff: StaffUser, args: dict) -> Select:
    """The queue's filters (QueueArgs) and the account's scope."""
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
        # The id, not a subquery: the planner then knows how many cases it holds.
        category = db.session.scalar(select(Category.id).where(Category.code == args["category"]))
        query = query.where(Report.category_id == category if category else false())
    if args.get("channel"):
        query = query.where(Report.channel == args["channel"])
    start, end = _period(args.get("date_from"), args.get("date_to"))
    query = query.where(*_created(start, end))
    if args.get("q"):
        query = query.where(_search(args["q"], start, end))
    return query


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


def _period(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """Created between two local days, inclusive: [start, end) in aware datetimes."""
    start = _local_midnight(first) if first else None
    end = _local_midnight(last + timedelta(days=1)) if last else None
    return start, end


def _search(q: str, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """The case numbered ``q`` (any age), or cases whose description contains ``q`` among those
    created in the last ``TEXT_SEARCH_DAYS`` days of the period [start, end) (or of today)."""
    last = end or utcnow()
    first = max(start, last - timedelta(days=TEXT_SEARCH_DAYS)) if start else \
        last - timedelta(days=TEXT_SEARCH_DAYS)  # fmt: skip
    text = Report.description.contains(q) & _id_bounds(first, end) & (Report.created_at >= first)
    numbered = db.session.scalar(select(Report.id).where(Report.number == q))
    return text if numbered is None else or_(Report.id == numbered, text)


def _id_bounds(start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """``id BETWEEN`` the smallest and largest id of the cases created in [start, end): true of
    every such case, so adding it changes no answer; false when there is none. One pass over the
    period in ix_reports_created_at: cheap for a period of weeks, about 0.3 µs a case."""
    low, high = db.session.execute(
        select(func.min(Report.id), func.max(Report.id)).where(*_created(start, end))
    ).one()
    return false() if low is None else Report.id.between(low, high)


def _created(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if start is not None:
        conditions.append(Report.created_at >= start)
    if end is not None:
        conditions.append(Report.created_at < end)
    return conditions


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ)
