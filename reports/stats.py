"""Case statistics as the bureaus publish them: 受理数, 立案数, 派遣率, 结案率, 按期结案率 ...

Periods are Asia/Shanghai local days, inclusive at both ends (``from`` 00:00 to ``to`` 24:00
local). Asia/Shanghai has kept UTC+8 without daylight saving since 1991, so day and month buckets
are ``timestamp + 8 hours`` in SQL. Every figure is an SQL aggregate (SUM(CASE ...)): no Python
loop ever sees a case row, only aggregated groups.

Definitions (the same text is served in the answer's ``definitions`` and in the OpenAPI doc):

- 受理数 accepted: reports created in the period, every channel, except merged ones (a merged
  report is a duplicate of another case and is counted once, as that case). Rejected (不予立案)
  and voided (作废) reports were received, so they count here.
- 立案数 registered: the cohort. Cases registered (registered_at) in the period, except merged,
  voided and rejected ones. All rates below are over this cohort, as bureaus compute them.
- 派遣数 dispatched: cohort cases dispatched (dispatched_at) by the as-of time. A case returned
  (回退) and re-dispatched counts once. 派遣率 = 派遣数 / 立案数.
- 处置数 disposed: cohort cases handled (handled_at) or closed by the as-of time.
  处置率 = 处置数 / 派遣数.
- 应结案数 due for closure: cohort cases closed by the as-of time, or whose deadline (due_at,
  extensions included) passed before it. Suspended (挂账) cases count when their deadline passed.
- 结案数 closed: cohort cases with closed_at by the as-of time (closed or archived).
  结案率 = 结案数 / 应结案数.
- 按期结案数 closed on time: closed cases with closed_at <= due_at (the extended deadline if an
  extension was approved). 按期结案率 = 按期结案数 / 应结案数.
- 返工率 rework rate: closed cases sent back at least once at verification (rework_count > 0)
  / 结案数.
- 延期率 extension rate: dispatched cases with an approved extension (extension_count > 0)
  / 派遣数.
- 超期未结 overdue open: cohort cases not closed at the as-of time whose deadline passed before
  it. Hence 应结案数 = 结案数 + 超期未结.

Rates are percentages rounded half-up to 2 decimals, and null when the denominator is 0.
Timestamps are compared with the as-of time; states are today's (a case voided after the as-of
time is left out, since the void time is not stored).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.auth.models import Department
from app.extensions import db
from app.geo.models import Region
from reports.models import CHANNEL_LABELS, Category, Channel, Report, ReportState

SHANGHAI = ZoneInfo("Asia/Shanghai")
GROUP_BYS = ("none", "department", "district", "category", "major_category", "channel", "day",
             "month")  # fmt: skip
EXCLUDED_FROM_COHORT = (ReportState.MERGED, ReportState.VOIDED, ReportState.REJECTED)
TOP_CATEGORIES = 10

COUNTS = ("registered", "dispatched", "disposed", "due", "closed", "closed_on_time", "reworked",
          "extended", "overdue_open")  # fmt: skip
RATES = {  # rate -> (numerator, denominator)
    "dispatch_rate": ("dispatched", "registered"),
    "disposal_rate": ("disposed", "dispatched"),
    "closure_rate": ("closed", "due"),
    "on_time_rate": ("closed_on_time", "due"),
    "rework_rate": ("reworked", "closed"),
    "extension_rate": ("extended", "dispatched"),
}

DEFINITIONS: dict[str, dict[str, str]] = {
    "accepted": {"name": "受理数", "zh": "统计期内上报的问题数（各渠道；合并的重复上报不计）",
                 "en": "Reports created in the period, every channel, merged duplicates excluded"},
    "registered": {"name": "立案数", "zh": "统计期内立案的案件数（不含合并、作废、不予立案），"
                                        "以下各率均以此批案件为基数",
                   "en": "Cases registered in the period (not merged, voided or rejected): "
                         "the cohort every rate below is computed over"},
    "dispatched": {"name": "派遣数", "zh": "立案案件中截至统计时点已派遣的数量",
                   "en": "Cohort cases dispatched by the as-of time"},
    "dispatch_rate": {"name": "派遣率", "zh": "派遣数 ÷ 立案数",
                      "en": "dispatched / registered"},
    "disposed": {"name": "处置数", "zh": "立案案件中截至统计时点已处置完成或已结案的数量",
                 "en": "Cohort cases handled or closed by the as-of time"},
    "disposal_rate": {"name": "处置率", "zh": "处置数 ÷ 派遣数", "en": "disposed / dispatched"},
    "due": {"name": "应结案数", "zh": "立案案件中已结案或处置时限（含延期）已到的数量",
            "en": "Cohort cases closed, or whose deadline (extensions included) has passed"},
    "closed": {"name": "结案数", "zh": "立案案件中截至统计时点已结案（含归档）的数量",
               "en": "Cohort cases closed (or archived) by the as-of time"},
    "closure_rate": {"name": "结案率", "zh": "结案数 ÷ 应结案数", "en": "closed / due"},
    "closed_on_time": {"name": "按期结案数", "zh": "结案时间不晚于处置时限（含延期）的结案数",
                       "en": "Closed cases closed no later than their (extended) deadline"},
    "on_time_rate": {"name": "按期结案率", "zh": "按期结案数 ÷ 应结案数",
                     "en": "closed on time / due"},
    "reworked": {"name": "返工数", "zh": "结案案件中曾核查不通过返工的数量",
                 "en": "Closed cases sent back at verification at least once"},
    "rework_rate": {"name": "返工率", "zh": "返工数 ÷ 结案数", "en": "reworked / closed"},
    "extended": {"name": "延期数", "zh": "已派遣案件中获批延期的数量",
                 "en": "Dispatched cases with an approved extension"},
    "extension_rate": {"name": "延期率", "zh": "延期数 ÷ 派遣数", "en": "extended / dispatched"},
    "overdue_open": {"name": "超期未结", "zh": "立案案件中截至统计时点超过处置时限仍未结案的数量"
                                            "（应结案数 = 结案数 + 超期未结）",
                     "en": "Cohort cases past their deadline and not closed at the as-of time "
                           "(due = closed + overdue open)"},
}  # fmt: skip
RATE_NOTE = {"zh": "比率为百分数，四舍五入保留两位小数；分母为0时为 null",
             "en": "Rates are percentages rounded half-up to 2 decimals; null when the "
                   "denominator is 0"}  # fmt: skip


@dataclass(frozen=True)
class StatsQuery:
    """What to count: local days (inclusive), grouping, scope and filters."""

    first_day: date
    last_day: date
    group_by: str = "none"
    as_of: datetime | None = None  # aware; None = now
    department_ids: tuple[int, ...] | None = None  # None = city-wide
    district: str | None = None
    category_id: int | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of first_day to local midnight after last_day,
        cut at the as-of time."""
        start = datetime.combine(self.first_day, time(), SHANGHAI).astimezone(UTC)
        end = datetime.combine(self.last_day + timedelta(days=1), time(), SHANGHAI)
        return start, min(end.astimezone(UTC), self.cutoff())

    def cutoff(self) -> datetime:
        """The as-of time in UTC."""
        return (self.as_of or datetime.now(UTC)).astimezone(UTC)


class local_time_format(FunctionElement):
    """A timestamp stored in UTC, formatted as Asia/Shanghai local time (strftime codes)."""

    type = String()
    inherit_cache = True


@compiles(local_time_format, "sqlite")
def _local_time_format_sqlite(element, compiler, **kw):
    column, fmt = element.clauses
    return f"strftime({compiler.process(fmt, **kw)}, {compiler.process(column, **kw)}, '+8 hours')"


@compiles(local_time_format, "mysql")
@compiles(local_time_format, "mariadb")
def _local_time_format_mysql(element, compiler, **kw):
    column, fmt = element.clauses
    sql_column = compiler.process(column, **kw)
    return f"DATE_FORMAT({sql_column} + INTERVAL 8 HOUR, {compiler.process(fmt, **kw)})"


def _group_expr(group_by: str, when: Any) -> ColumnElement | None:
    """The SQL grouping key; ``when`` is the timestamp that places a case in a day or month."""
    if group_by == "day":
        return local_time_format(when, literal("%Y-%m-%d"))
    if group_by == "month":
        return local_time_format(when, literal("%Y-%m"))
    column = {"department": Report.department_id, "district": Report.district_code,
              "category": Report.category_id, "major_category": Report.category_id,
              "channel": Report.channel}.get(group_by)  # fmt: skip
    return column


def _count(condition: ColumnElement[bool]) -> ColumnElement:
    return func.sum(case((condition, 1), else_=0))


def _cohort_columns(as_of: datetime) -> list[ColumnElement]:
    """One SUM(CASE ...) per count in COUNTS, in that order."""
    closed = Report.closed_at <= as_of
    dispatched = Report.dispatched_at <= as_of
    not_closed = or_(Report.closed_at.is_(None), Report.closed_at > as_of)
    return [
        func.count().label("registered"),
        _count(dispatched).label("dispatched"),
        _count(or_(closed, Report.handled_at <= as_of)).label("disposed"),
        _count(or_(closed, Report.due_at < as_of)).label("due"),
        _count(closed).label("closed"),
        _count(and_(closed, Report.closed_at <= Report.due_at)).label("closed_on_time"),
        _count(and_(closed, Report.rework_count > 0)).label("reworked"),
        _count(and_(dispatched, Report.extension_count > 0)).label("extended"),
        _count(and_(not_closed, Report.due_at < as_of)).label("overdue_open"),
    ]


def _filters(q: StatsQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if q.department_ids is not None:
        conditions.append(Report.department_id.in_(q.department_ids))
    if q.district is not None:
        conditions.append(Report.district_code == q.district)
    if q.category_id is not None:
        conditions.append(Report.category_id == q.category_id)
    return conditions


def cohort_counts(q: StatsQuery, group_by: str) -> dict[Any, dict[str, int]]:
    """Cohort indicators per group key (key None for the whole when group_by is none)."""
    start, end = q.bounds()
    key = _group_expr(group_by, Report.registered_at)
    stmt = select(*([key.label("k")] if key is not None else []), *_cohort_columns(q.cutoff()))
    stmt = stmt.where(Report.registered_at >= start, Report.registered_at < end,
                      Report.state.not_in(EXCLUDED_FROM_COHORT), *_filters(q))  # fmt: skip
    if key is not None:
        stmt = stmt.group_by(key)
    rows = db.session.execute(stmt).mappings()
    return {_key(row.get("k")): {c: int(row[c] or 0) for c in COUNTS} for row in rows}


def accepted_counts(q: StatsQuery, group_by: str) -> dict[Any, int]:
    """受理数 per group key (reports created in the period, merged ones excluded)."""
    start, end = q.bounds()
    key = _group_expr(group_by, Report.created_at)
    stmt = select(*([key.label("k")] if key is not None else []), func.count().label("n"))
    stmt = stmt.where(Report.created_at >= start, Report.created_at < end,
                      Report.state != ReportState.MERGED, *_filters(q))  # fmt: skip
    if key is not None:
        stmt = stmt.group_by(key)
    return {_key(row.get("k")): int(row["n"]) for row in db.session.execute(stmt).mappings()}


def _key(value: Any) -> Any:
    """Enum keys (channel) as their stored value."""
    return value.value if isinstance(value, Channel) else value


def percent(numerator: int, denominator: int) -> float | None:
    """numerator / denominator as a percentage rounded half-up to 2 decimals; None if 0/0."""
    if not denominator:
        return None
    value = Decimal(numerator * 100) / Decimal(denominator)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def indicators(accepted: int, counts: dict[str, int] | None) -> dict[str, Any]:
    """All indicators of one group, counts and rates, in a stable order."""
    counts = counts or dict.fromkeys(COUNTS, 0)
    out: dict[str, Any] = {"accepted": accepted, **counts}
    for rate, (num, den) in RATES.items():
        out[rate] = percent(counts[num], counts[den])
    return {k: out[k] for k in DEFINITIONS}


def case_statistics(q: StatsQuery) -> dict[str, Any]:
    """The whole answer: period, as-of time, totals, groups, top categories, definitions."""
    sql_group = "category" if q.group_by == "major_category" else q.group_by
    accepted = accepted_counts(q, "category" if q.group_by == "none" else sql_group)
    cohort = cohort_counts(q, sql_group)
    totals_cohort = _sum_counts(cohort.values())
    out: dict[str, Any] = {
        "period": _period(q),
        "as_of": q.cutoff().astimezone(SHANGHAI).isoformat(),
        "group_by": q.group_by,
        "totals": indicators(sum(accepted.values()), totals_cohort),
        "groups": [],
        "definitions": {**DEFINITIONS, "rates": RATE_NOTE},
    }
    if q.group_by == "none":
        out["top_categories"] = top_categories(accepted)
    else:
        out["groups"] = _groups(q.group_by, accepted, cohort)
    return out


def _period(q: StatsQuery) -> dict[str, Any]:
    start, end = q.bounds()
    return {"from": q.first_day.isoformat(), "to": q.last_day.isoformat(),
            "timezone": "Asia/Shanghai", "start": start.astimezone(SHANGHAI).isoformat(),
            "end": end.astimezone(SHANGHAI).isoformat()}  # fmt: skip


def _sum_counts(groups: Iterable[dict[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(COUNTS, 0)
    for counts in groups:
        for name in COUNTS:
            total[name] += counts[name]
    return total


def _groups(group_by: str, accepted: dict[Any, int], cohort: dict[Any, dict[str, int]]) -> list:
    """One entry per key seen in either query, labelled, with every indicator."""
    if group_by == "major_category":
        accepted, cohort = _fold_majors(accepted, cohort)
    keys = set(accepted) | set(cohort)
    labels = _labels(group_by, keys)
    groups = [{"key": k, "label": labels.get(k, str(k)), **indicators(accepted.get(k, 0),
               cohort.get(k))} for k in keys]  # fmt: skip
    if group_by in ("day", "month"):
        return sorted(groups, key=lambda g: g["key"])
    return sorted(groups, key=lambda g: (-g["accepted"], -g["registered"], str(g["key"])))


def _fold_majors(accepted: dict[Any, int], cohort: dict[Any, dict[str, int]]):
    """Category-level groups summed into their top classes (部件/01 公用设施 ...)."""
    majors = {c.id: f"{c.kind}/{c.major_code}" for c in _categories(set(accepted) | set(cohort))}
    folded_accepted: dict[Any, int] = {}
    folded_cohort: dict[Any, list[dict[str, int]]] = {}
    for cid, n in accepted.items():
        key = majors.get(cid)
        folded_accepted[key] = folded_accepted.get(key, 0) + n
    for cid, counts in cohort.items():
        folded_cohort.setdefault(majors.get(cid), []).append(counts)
    return folded_accepted, {k: _sum_counts(v) for k, v in folded_cohort.items()}


def _categories(ids: set[Any]) -> list[Category]:
    ids = {i for i in ids if i is not None}
    return list(db.session.scalars(select(Category).where(Category.id.in_(ids)))) if ids else []


NULL_LABELS = {"department": "未派遣", "district": "未定位", "category": "未分类",
               "major_category": "未分类", "channel": "未知渠道"}  # fmt: skip


def _labels(group_by: str, keys: set[Any]) -> dict[Any, str]:
    """Chinese names of the group keys."""
    labels: dict[Any, str] = {None: NULL_LABELS.get(group_by, "未知")}
    present = {k for k in keys if k is not None}
    if group_by == "department" and present:
        rows = db.session.execute(select(Department.id, Department.name)
                                  .where(Department.id.in_(present)))  # fmt: skip
        labels.update(dict(rows.all()))
    elif group_by == "district" and present:
        rows = db.session.execute(select(Region.code, Region.name).where(Region.code.in_(present)))
        labels.update(dict(rows.all()))
    elif group_by == "category":
        labels.update({c.id: c.full_name for c in _categories(present)})
    elif group_by == "major_category":
        labels.update({k: f"{k.split('/')[0]}/{_major_names().get(k, k)}" for k in present})
    elif group_by == "channel":
        labels.update({c.value: label for c, label in CHANNEL_LABELS.items()})
    elif group_by == "month":
        labels.update({k: f"{k[:4]}年{int(k[5:7])}月" for k in present})
    return labels


def _major_names() -> dict[str, str]:
    rows = db.session.execute(select(Category.kind, Category.major_code, Category.major_name))
    return {f"{kind}/{code}": name for kind, code, name in rows}


def top_categories(accepted_by_category: dict[Any, int]) -> list[dict[str, Any]]:
    """The TOP_CATEGORIES categories with the most accepted reports, with their share."""
    total = sum(accepted_by_category.values())
    ranked = sorted(((n, cid) for cid, n in accepted_by_category.items() if cid is not None),
                    key=lambda item: (-item[0], item[1]))[:TOP_CATEGORIES]  # fmt: skip
    names = {c.id: c for c in _categories({cid for _, cid in ranked})}
    return [{"key": cid, "code": names[cid].code if cid in names else None,
             "label": names[cid].full_name if cid in names else str(cid), "accepted": n,
             "share": percent(n, total)} for n, cid in ranked]  # fmt: skip
