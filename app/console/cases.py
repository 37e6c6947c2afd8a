"""Console pages for case work: the case list, one case with its actions, the statistics
dashboard, and the to-do counts of the home page.

The pages read through the same functions the staff JSON APIs use (``reports.queries`` for scope
and filters, ``reports.present.staff_view`` for what staff see of a case, including the actions
this account may take now), so a page never offers what the API would refuse. Every write goes
through the JSON APIs from the page scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import request, url_for

from app.auth.models import Role, StaffUser
from app.auth.scope import scope_of
from app.console import ALL_ROLES, bp, nav_item, render, staff_page
from reports import admin_service, present, queries, stats
from reports.models import CHANNEL_LABELS, STATE_LABELS, ReportState
from reports.schemas import QueueArgs
from reports.service import TRIAGE_LABELS
from reports.workflow import REJECT_REASONS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
EXPORT_URL = "/api/v1/staff/reports/export.csv"
FILTER_KEYS = ("state", "department_id", "category", "district", "channel", "from", "to",
               "overdue", "triage", "q")  # fmt: skip
GROUP_BY_LABELS = {"department": "处置部门", "district": "区县", "category": "问题类别",
                   "major_category": "问题大类", "channel": "上报渠道", "day": "按日",
                   "month": "按月"}  # fmt: skip
PHOTO_GROUPS = (("report", "处置前（上报）照片"), ("after", "处置后照片"), ("verify", "核查照片"))
# What the note field is called for the actions that require one (else an optional 备注).
NOTE_LABELS = {"return": "回退原因", "feedback": "处置情况说明", "verify_fail": "返工要求",
               "request_extension": "延期理由", "suspend": "挂账说明",
               "void": "作废原因"}  # fmt: skip

DISPATCHING = frozenset({Role.ADMIN, Role.DISPATCHER})
HANDLING = frozenset({Role.HANDLER})
VERIFYING = frozenset({Role.ADMIN, Role.DISPATCHER, Role.INSPECTOR})  # workflow.VERIFIERS


@dataclass(frozen=True)
class Queue:
    """A shortcut into the case list: a menu entry and a to-do count on the home page."""

    label: str
    roles: frozenset[Role]
    query: dict[str, str]
    order: int
    urgent: bool = False  # shown in red on the home page when not zero


QUEUES = (
    Queue("待分拨", DISPATCHING, {"triage": "1"}, 11),
    Queue("待派遣", DISPATCHING, {"state": ReportState.REGISTERED.value}, 12),
    Queue("本部门待签收", HANDLING, {"state": ReportState.DISPATCHED.value}, 13),
    Queue("本部门处置中", HANDLING, {"state": ReportState.IN_PROGRESS.value}, 14),
    # "verify_pass" starts from HANDLED: the verification queue.
    Queue("待核查", VERIFYING, {"state": ReportState.HANDLED.value}, 15),
    Queue("超期未结", DISPATCHING | HANDLING, {"overdue": "1"}, 16, urgent=True),
)


def local_time(value: datetime | None) -> str:
    """An aware datetime as Asia/Shanghai ``YYYY-MM-DD HH:MM`` (empty for None)."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def todo_counts(staff: StaffUser) -> list[dict[str, Any]]:
    """The shortcuts this account has, each with its queue's total (the queue API's count)."""
    held = set(staff.roles)
    todos = []
    for queue in QUEUES:
        if not queue.roles & held:
            continue
        args = QueueArgs().load(queue.query | {"per_page": "1"})
        _, total = queries.staff_queue(staff, args)
        todos.append({"label": queue.label, "count": total, "urgent": queue.urgent and total > 0,
                      "url": url_for("console_pages.cases", **queue.query)})  # fmt: skip
    return todos


# ---------------------------------------------------------------- reference data for the forms


def department_options(staff: StaffUser | None = None, active_only: bool = False) -> list:
    """(id, indented name) of departments in tree order; with ``staff``, only its scope."""
    mine = scope_of(staff) if staff is not None else None
    allowed = mine.department_ids if mine is not None else None
    out: list[tuple[int, str]] = []

    def walk(nodes: list[dict[str, Any]], depth: int) -> None:
        for node in nodes:
            shown = (allowed is None or node["id"] in allowed) and (
                node["is_active"] or not active_only
            )
            if shown:
                out.append((node["id"], "\u3000" * depth + node["name"]))
            walk(node["children"], depth + 1 if shown else depth)

    walk(admin_service.department_tree(), 0)
    return out


def category_options() -> list[tuple[str, str]]:
    """(code, "code 大类/名称") of the active categories."""
    return [(c.code, f"{c.code} {c.major_name}/{c.name}")
            for c in admin_service.list_categories(active=True)]  # fmt: skip


def district_options() -> list[tuple[str, str]]:
    """(code, name) of the active districts."""
    return [(r.code, r.name) for r in admin_service.list_regions(level="district", active=True)]


# ---------------------------------------------------------------- case list


@nav_item("案件列表", ALL_ROLES, order=10)
@bp.get("/cases")
@staff_page()
def cases(staff: StaffUser):
    """Every case in this account's scope, filtered and paged by the staff queue API."""
    filters = {k: request.args.get(k, "").strip() for k in FILTER_KEYS}
    given = {k: v for k, v in filters.items() if v}
    districts = district_options()
    return render(
        "console/cases.html", staff,
        filters=filters,
        export_url=EXPORT_URL + ("?" + urlencode(given) if given else ""),
        states=[(s.value, label) for s, label in STATE_LABELS.items()],
        departments=department_options(staff),
        categories=category_options(),
        districts=districts,
        channels=[(c.value, label) for c, label in CHANNEL_LABELS.items()],
        labels={"districts": dict(districts), "triage": TRIAGE_LABELS,
                "channels": {c.value: label for c, label in CHANNEL_LABELS.items()}},
    )  # fmt: skip


for _queue in QUEUES:  # the shortcuts open the case list with their filters
    nav_item(_queue.label, _queue.roles, order=_queue.order, endpoint="console_pages.cases",
             **_queue.query)(cases)  # fmt: skip


# ---------------------------------------------------------------- one case


@bp.get("/cases/<number>")
@staff_page()
def case(number: str, staff: StaffUser):
    """A case as the staff API shows it (403 out of scope, 404 unknown) with forms for exactly
    the actions the API lists as allowed for this account now."""
    view = present.staff_view(queries.staff_report(staff, number), staff)
    needs = {r for a in view["allowed_actions"] for r in a["requires"]}
    photos = [(label, [p for p in view["photos"] if p["stage"] == stage])
              for stage, label in PHOTO_GROUPS]  # fmt: skip
    return render(
        "console/case.html", staff,
        case=view,
        photo_groups=[(label, items) for label, items in photos if items],
        local_time=local_time,
        channel_label=CHANNEL_LABELS.get(view["channel"], view["channel"]),
        departments=department_options(active_only=True) if "department" in needs else [],
        categories=category_options() if "category" in needs else [],
        reject_reasons=REJECT_REASONS,
        note_labels=NOTE_LABELS,
        unit_labels={"hours": "个工作时", "days": "个工作日"},
        boundaries_url=url_for("geo.Boundaries"),
    )  # fmt: skip


# ---------------------------------------------------------------- statistics


def _this_month() -> tuple[date, date]:
    today = datetime.now(LOCAL_TZ).date()
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


STATS_KEYS = ("from", "to", "group_by", "trend", "department_id", "district", "category")


@nav_item("统计分析", ALL_ROLES, order=60)
@nav_item("店铺热力图", ALL_ROLES, order=61, endpoint="shop_pages.heatmap_page")
@bp.get("/stats")
@staff_page()
def stats_page(staff: StaffUser):
    """The indicators of /api/v1/stats/cases as cards and charts, and the heat map layers.
    The filters are a GET form: the page's URL reproduces the view."""
    first, last = _this_month()
    filters = {k: request.args.get(k, "").strip() for k in STATS_KEYS}
    filters["from"] = filters["from"] or first.isoformat()
    filters["to"] = filters["to"] or last.isoformat()
    if filters["group_by"] not in GROUP_BY_LABELS:
        filters["group_by"] = "department"
    if filters["trend"] not in ("day", "month"):
        filters["trend"] = "day"
    return render(
        "console/stats.html", staff,
        filters=filters,
        indicators=stats.DEFINITIONS,
        names={k: d["name"] for k, d in stats.DEFINITIONS.items()},
        rate_keys=list(stats.RATES),
        group_bys=GROUP_BY_LABELS,
        departments=department_options(staff),
        categories=category_options(),
        districts=district_options(),
        heatmaps={"cases": "/api/v1/stats/heatmap", "shops": url_for("shops_public.Heatmap"),
                  "boundaries": url_for("geo.Boundaries")},
    )  # fmt: skip
