"""Statistics API: the case indicators bureaus publish (受理数 派遣率 结案率 ...), for staff."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate
from sqlalchemy import select

from app.apispec import ID, bounded_date, bounded_datetime, document_errors
from app.auth import scope
from app.auth.current import staff_required
from app.auth.models import Department, StaffUser
from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from reports import detection, stats
from reports.models import Category

blp = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats", description="统计分析")

MAX_DAYS = 3 * 366  # a longer period is a different report (and a slow one)


def _description() -> str:
    """The endpoint's OpenAPI description, with every definition in Chinese and English."""
    lines = [f"- {d['name']} `{key}`: {d['zh']}. {d['en']}."
             for key, d in stats.DEFINITIONS.items()]  # fmt: skip
    return (
        "Any staff account; an account tied to a department (not an admin) sees that department "
        "and the units below it. Periods are Asia/Shanghai local days, both ends inclusive "
        "(default: this month). Rates are over the cohort of cases registered in the period. "
        f"With group_by=none the answer lists the top {stats.TOP_CATEGORIES} categories by "
        "accepted reports.\n\n指标口径 / Definitions:\n\n"
        + "\n".join(lines)
        + f"\n- {stats.RATE_NOTE['zh']}. {stats.RATE_NOTE['en']}."
    )


class StatsArgs(ma.Schema):
    """Query string of GET /api/v1/stats/cases."""

    first_day = bounded_date(
        data_key="from",
        metadata={
            "description": "First local day (Asia/Shanghai), inclusive; default: 1st of this month"
        },
    )
    last_day = bounded_date(
        data_key="to",
        metadata={
            "description": "Last local day (Asia/Shanghai), inclusive; default: end of this month"
        },
    )
    group_by = ma.fields.String(load_default="none", validate=validate.OneOf(stats.GROUP_BYS))
    as_of = bounded_datetime(
        default_timezone=stats.SHANGHAI,
        metadata={
            "description": "Count as of this time (ISO 8601; local time if no offset); default now"
        },
    )
    department_id = ma.fields.Integer(
        validate=ID, metadata={"description": "Only this department and the units below it"}
    )
    district = ma.fields.String(validate=validate.Length(min=1, max=32))
    category = ma.fields.String(validate=validate.Length(min=1, max=16), metadata={
        "description": "Category code, e.g. BJ0103"})  # fmt: skip


class StatsOut(ma.Schema):
    """The answer: period, as-of time, totals, groups (or top categories), definitions."""

    period = ma.fields.Dict()
    as_of = ma.fields.String()
    group_by = ma.fields.String()
    totals = ma.fields.Dict()
    groups = ma.fields.List(ma.fields.Dict())
    top_categories = ma.fields.List(ma.fields.Dict())
    definitions = ma.fields.Dict()


@blp.route("/cases")
class CaseStatistics(MethodView):
    @blp.arguments(StatsArgs, location="query")
    @blp.response(200, StatsOut)
    @blp.doc(description=_description())
    @document_errors(blp, 401, 403, 422)
    @staff_required()
    def get(self, args: dict[str, Any], staff: StaffUser):
        """Case indicators for a period (受理数 立案数 派遣率 结案率 按期结案率 ...)"""
        return stats.case_statistics(build_query(args, staff))


class DetectionStatsArgs(ma.Schema):
    """Query string of GET /api/v1/stats/detections."""

    first_day = bounded_date(
        data_key="from",
        metadata={
            "description": "First local day (Asia/Shanghai), inclusive; default: 1st of this month"
        },
    )
    last_day = bounded_date(
        data_key="to",
        metadata={
            "description": "Last local day (Asia/Shanghai), inclusive; default: end of this month"
        },
    )
    department_id = ma.fields.Integer(
        validate=ID, metadata={"description": "Only this department and the units below it"}
    )  # fmt: skip


class DetectionStatsOut(ma.Schema):
    """Per algorithm: detections, repeats, confirmed, false positives, duplicates, pending and
    precision (percent; null when nothing was judged), with the definitions."""

    period = ma.fields.Dict()
    algorithms = ma.fields.List(ma.fields.Dict())
    definitions = ma.fields.Dict()


@blp.route("/detections")
class DetectionPrecision(MethodView):
    @blp.arguments(DetectionStatsArgs, location="query")
    @blp.response(200, DetectionStatsOut)
    @document_errors(blp, 401, 403, 422)
    @staff_required()
    def get(self, args: dict[str, Any], staff: StaffUser):
        """Each detection algorithm's precision (智能识别准确率) over the cases its detections
        opened in the period: confirmed / (confirmed + false positives rejected or voided by
        dispatchers); the scope rule of /stats/cases."""
        first_day, last_day = _period(args)
        departments = _scope(staff, args.get("department_id"))
        return detection.precision(first_day, last_day, departments)


def build_query(args: dict[str, Any], staff: StaffUser) -> stats.StatsQuery:
    """Validated arguments and the caller's scope as a StatsQuery (422 / 403 on bad input)."""
    first_day, last_day = _period(args)
    return stats.StatsQuery(
        first_day=first_day,
        last_day=last_day,
        group_by=args["group_by"],
        as_of=args.get("as_of"),
        department_ids=_scope(staff, args.get("department_id")),
        district=args.get("district"),
        category_id=_category_id(args.get("category")),
    )


def _month_end(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _period(args: dict[str, Any]) -> tuple[date, date]:
    """from/to, each defaulting to its month's edge (neither given: this month)."""
    today = datetime.now(UTC).astimezone(stats.SHANGHAI).date()
    first_day, last_day = args.get("first_day"), args.get("last_day")
    if first_day is None:
        first_day = (last_day or today).replace(day=1)
    if last_day is None:
        last_day = _month_end(first_day)
    if first_day > last_day:
        raise ValidationFailed(fields={"from": ["开始日期不能晚于结束日期"]})
    if (last_day - first_day).days >= MAX_DAYS:
        raise ValidationFailed(fields={"to": [f"统计区间最长 {MAX_DAYS} 天"]})
    return first_day, last_day


def _scope(staff: StaffUser, department_id: int | None) -> tuple[int, ...] | None:
    """Department ids the answer may cover; None = city-wide."""
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise ValidationFailed(fields={"department_id": ["部门不存在"]})
    if department_id is None:
        mine = scope.scope_of(staff)
        return None if mine is None else tuple(sorted(mine.department_ids))
    if not scope.covers(staff, department_id=department_id):
        raise Forbidden("只能查看本部门及下级单位的统计")
    return tuple(scope.department_subtree_ids(department_id))


def _category_id(code: str | None) -> int | None:
    if code is None:
        return None
    category_id = db.session.scalar(select(Category.id).where(Category.code == code))
    if category_id is None:
        raise ValidationFailed(fields={"category": [f"问题类别不存在：{code}"]})
    return category_id
