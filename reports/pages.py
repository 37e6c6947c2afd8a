"""The report pages: the citizen's H5 report form, my reports and one report with its timeline;
the staff console's case list, one case with its actions, the statistics dashboard and the to-do
counts of the home page; the admin editors of categories, departments, regions and the calendar.

Pages read through the same functions the JSON APIs use (``reports.queries`` for scope and
filters, ``reports.present`` for what a citizen or staff sees of a case, including the actions
this account may take now), so a page shows what the API would answer, never offers what the
API would refuse, and someone else's report is a 404 for a citizen. Every write goes through the
JSON APIs from the page scripts (``static/reports/``), which check roles and scopes again; the
editors' ``/api/v1/admin/...`` is admin only, so are their pages.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, render_template, request, url_for
from sqlalchemy import select

from app.auth.models import Role, StaffUser, User
from app.auth.scope import scope_of
from app.console import ALL_ROLES, add_todos, editors, nav_item, render, staff_page
from app.errors import NotFound
from app.extensions import db
from app.geo import api as geo_api
from app.geo import regions as geo_regions
from app.h5 import citizen_page
from reports import admin_service, present, queries, stats, workflow
from reports.models import CHANNEL_LABELS, STATE_LABELS, Attention, Category, ReportState
from reports.schemas import QueueArgs
from reports.service import OUTSIDE_CITY, TRIAGE_LABELS
from reports.workflow import REJECT_REASONS
from shops import service as shops_service
from wechat import subscriptions

bp = Blueprint("reports_pages", __name__, template_folder="templates",
               static_folder="static/reports", static_url_path="/static/reports")  # fmt: skip

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
STATS_KEYS = ("from", "to", "group_by", "trend", "department_id", "district", "category")

DISPATCHING = frozenset({Role.ADMIN, Role.DISPATCHER})
HANDLING = frozenset({Role.HANDLER})
VERIFYING = workflow.roles_for("verify_pass")  # who may verify, from the one workflow table
ADMIN = (Role.ADMIN,)
# reports.admin_schemas.DEPARTMENT_KINDS with what staff call them
DEPARTMENT_KINDS = (
    ("bureau", "城管局（市级）"), ("district", "区城管局"), ("street", "街道办事处"),
    ("unit", "处置单位"), ("utility", "公用事业单位"),
)  # fmt: skip
# app.geo.importer.LEVELS with their Chinese names
REGION_LEVELS = (("city", "市"), ("district", "区县"), ("street", "街道"), ("grid", "网格"))

H5_PER_PAGE = 10
# How a state's tag is coloured on H5: finished well, finished without handling, else still open.
STATE_TONES = {"closed": "ok", "archived": "ok", "rejected": "muted", "voided": "muted",
               "merged": "muted"}  # fmt: skip


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


def more_than(cap: int) -> str:
    """A capped total as people read it: 1万+, or 500+."""
    return f"{cap // 10000}万+" if cap % 10000 == 0 else f"{cap}+"


def todo_counts(staff: StaffUser) -> list[dict[str, Any]]:
    """The shortcuts this account has, each with its queue's total (the queue API's count);
    first, when there are any, the cases waiting flagged for this account's work: returned by a
    department or reopened by a citizen (dispatchers, in 待派遣 at the top), and cases of its
    department re-dispatched elsewhere (handlers)."""
    held = set(staff.roles)
    todos = []
    if staff.has_role(*workflow.roles_for("dispatch")):
        registered = url_for("reports_pages.cases", state=ReportState.REGISTERED.value)
        for flag in (Attention.RETURNED, Attention.REOPENED):
            if count := queries.flagged_count(staff, flag):
                todos.append({"label": flag.label, "count": count, "urgent": True,
                              "url": registered})  # fmt: skip
    if Role.HANDLER in held and (moved := len(queries.moved_out(staff))):
        todos.append({"label": "改派转出", "count": moved, "urgent": False,
                      "url": url_for("reports_pages.cases", moved_out="1")})  # fmt: skip
    for queue in QUEUES:
        if not queue.roles & held:
            continue
        args = QueueArgs().load(queue.query | {"per_page": "1"})
        _, total = queries.staff_queue(staff, args)
        shown = total if total <= queries.COUNT_CAP else more_than(queries.COUNT_CAP)
        todos.append({"label": queue.label, "count": shown, "urgent": queue.urgent and total > 0,
                      "url": url_for("reports_pages.cases", **queue.query)})  # fmt: skip
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


# ---------------------------------------------------------------- console: case list


@nav_item("案件列表", ALL_ROLES, order=10, endpoint="reports_pages.cases")
@bp.get("/console/cases")
@staff_page()
def cases(staff: StaffUser):
    """Every case in this account's scope, filtered and paged by the staff queue API."""
    filters = {k: request.args.get(k, "").strip() for k in FILTER_KEYS}
    given = {k: v for k, v in filters.items() if v}
    districts = district_options()
    moved = queries.moved_out(staff) if request.args.get("moved_out") == "1" else None
    return render(
        "reports/console/cases.html", staff,
        filters=filters,
        moved_out=moved,
        moved_out_days=queries.MOVED_OUT_DAYS,
        limits={"count_cap": queries.COUNT_CAP, "text_search_days": queries.TEXT_SEARCH_DAYS},
        local_time=local_time,
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
    nav_item(_queue.label, _queue.roles, order=_queue.order, endpoint="reports_pages.cases",
             **_queue.query)(cases)  # fmt: skip


# ---------------------------------------------------------------- console: one case


@bp.get("/console/cases/<number>")
@staff_page()
def case(number: str, staff: StaffUser):
    """A case as the staff API shows it (403 out of scope, 404 unknown) with forms for exactly
    the actions the API lists as allowed for this account now."""
    report = queries.staff_report(staff, number)
    view = present.staff_view(report, staff)
    needs = {r for a in view["allowed_actions"] for r in a["requires"]}
    photos = [(label, [p for p in view["photos"] if p["stage"] == stage])
              for stage, label in PHOTO_GROUPS]  # fmt: skip
    return render(
        "reports/console/case.html", staff,
        case=view,
        photo_groups=[(label, items) for label, items in photos if items],
        local_time=local_time,
        channel_label=CHANNEL_LABELS.get(view["channel"], view["channel"]),
        departments=department_options(active_only=True) if "department" in needs else [],
        categories=category_options() if "category" in needs else [],
        # The responsible unit per category, so the form follows a change of category.
        category_units=_category_units(report) if {"category", "department"} <= needs else {},
        reject_reasons=REJECT_REASONS,
        note_labels=NOTE_LABELS | CASE_NOTE_LABELS,
        unit_labels={"hours": "个工作时", "days": "个工作日"},
        boundaries_url=url_for("geo.Boundaries"),
    )  # fmt: skip


# The note of these actions is internal (the citizen reads the public reply or nothing).
CASE_NOTE_LABELS = {"redispatch": "改派原因（内部）", "feedback": "处置情况说明（内部）"}


def _category_units(report) -> dict[str, int]:
    """category code -> id of the unit responsible for it where this case lies (one lookup per
    department type, by ``present.suggested_department``, the rule automatic dispatch uses)."""
    by_type: dict[str, int | None] = {}
    out = {}
    for category in admin_service.list_categories(active=True):
        if category.department_type not in by_type:
            unit = present.suggested_department(report, category)
            by_type[category.department_type] = unit.id if unit else None
        if by_type[category.department_type] is not None:
            out[category.code] = by_type[category.department_type]
    return out


# ---------------------------------------------------------------- console: statistics


def _this_month() -> tuple[date, date]:
    today = datetime.now(LOCAL_TZ).date()
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@nav_item("统计分析", ALL_ROLES, order=60, endpoint="reports_pages.stats_page")
@bp.get("/console/stats")
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
        "reports/console/stats.html", staff,
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


# ---------------------------------------------------------------- console: admin editors


@nav_item("类别管理", ADMIN, order=80, endpoint="reports_pages.categories")
@bp.get("/console/admin/categories")
@staff_page(*ADMIN)
def categories(staff: StaffUser):
    """The 部件/事件 category tree: add categories, change limits, routing and flags."""
    config = {"categories": url_for("reference_admin.AdminCategories"),
              "departments": url_for("reference_admin.AdminDepartments")}  # fmt: skip
    return editors.editor_page("reports/console/categories.html", staff, config)


@nav_item("部门管理", ADMIN, order=81, endpoint="reports_pages.departments")
@bp.get("/console/admin/departments")
@staff_page(*ADMIN)
def departments(staff: StaffUser):
    """The department tree: add, rename, move, set handled types, deactivate."""
    config = {"departments": url_for("reference_admin.AdminDepartments"),
              "kinds": dict(DEPARTMENT_KINDS)}  # fmt: skip
    return editors.editor_page("reports/console/departments.html", staff, config,
                               kinds=DEPARTMENT_KINDS)  # fmt: skip


@nav_item("区域管理", ADMIN, order=82, endpoint="reports_pages.regions")
@bp.get("/console/admin/regions")
@staff_page(*ADMIN)
def regions(staff: StaffUser):
    """Regions by level: responsible department, active flag, GeoJSON import."""
    config = {
        "regions": url_for("reference_admin.AdminRegions"),
        "importUrl": url_for("reference_admin.AdminRegionImport"),
        "departments": url_for("reference_admin.AdminDepartments"),
        "levels": dict(REGION_LEVELS),
        **editors.map_config(),
    }
    return editors.editor_page("reports/console/regions.html", staff, config,
                               levels=REGION_LEVELS)  # fmt: skip


@nav_item("工作日历", ADMIN, order=83, endpoint="reports_pages.calendar")
@bp.get("/console/admin/calendar")
@staff_page(*ADMIN)
def calendar(staff: StaffUser):
    """A month view of public holidays and make-up working days."""
    config = {"calendar": url_for("reference_admin.AdminCalendar")}
    return editors.editor_page("reports/console/calendar.html", staff, config)


# ---------------------------------------------------------------- citizen H5


def h5_map_config() -> dict[str, Any]:
    """What the H5 Leaflet maps need: the configured tiles (if any; else the district
    boundaries and the streets are drawn), the locate endpoint, the city centre and the
    districts' boxes (app.geo.api.map_config)."""
    return geo_api.map_config()


@bp.get("/h5/report")
@citizen_page
def report_form(citizen: User):
    """Report a problem: photos, location, description, optional category and shop. Opened from
    a shop's plate, the shop's registered point and address are the case's (the citizen may
    still move the point) and the page names the district they lie in."""
    shop = shops_service.report_binding(request.args.get("shop", "").strip())
    point = shop_point(shop)
    location = {"outside": OUTSIDE_CITY, "locate": url_for("geo.Locate"),
                "districtNames": sorted(set(geo_regions.district_names().values()))}  # fmt: skip
    return render_template(
        "reports/h5/report.html",
        shop=shop,
        shop_point=point,
        shop_categories=shop_categories() if shop and shop.get("id") else [],
        map_config=h5_map_config(),
        location_config=location,
        questions=category_questions(),
        draft_owner=draft_owner(citizen),
    )


def category_questions() -> dict[str, list[dict[str, Any]]]:
    """The follow-up questions of the active categories that ask any, by code (what
    GET /api/v1/categories lists), so the form shows them the moment a category is chosen."""
    rows = db.session.execute(
        select(Category.code, Category.questions).where(Category.is_active.is_(True))
    ).all()
    return {code: asked for code, asked in rows if asked}


def draft_owner(citizen: User) -> str:
    """Whose draft the form keeps on the device: a keyed digest of the citizen's id (the same
    for the citizen on every visit, says nothing of the id), part of the draft's storage key so
    another citizen signing in on the same phone never sees it."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"report-draft:{citizen.id}".encode(), hashlib.sha256).hexdigest()[:20]


def shop_point(shop: dict[str, Any] | None) -> dict[str, Any] | None:
    """A bound shop's registered point (GCJ-02) and address, with what the locate endpoint says
    of it (its district and street, or that it lies outside the city)."""
    found = shops_service.get_shop_by_id(shop["id"]) if shop and shop.get("id") else None
    if found is None:
        return None
    return {"lat": found.lat, "lng": found.lng, "address": found.address,
            **geo_api.locate_point(found.lat, found.lng)}  # fmt: skip


def shop_categories() -> list[dict[str, str]]:
    """Categories a citizen may pick for a shop (设施损坏, 卫生脏乱, 店外经营 ...)."""
    rows = db.session.execute(
        select(Category.code, Category.name)
        .where(Category.shop_related.is_(True), Category.is_active.is_(True))
        .order_by(Category.code)
    ).all()
    return [{"code": code, "name": name} for code, name in rows]


@bp.get("/h5/reports")
@citizen_page
def my_reports(citizen: User):
    """My reports, newest first; the script loads further pages from the API."""
    items, total = queries.citizen_reports(citizen, 1, H5_PER_PAGE)
    return render_template(
        "reports/h5/reports.html",
        items=[present.list_item(r) for r in items],
        total=total,
        per_page=H5_PER_PAGE,
        tones=STATE_TONES,
    )


@bp.get("/h5/reports/<number>")
@citizen_page
def report_detail(number: str, citizen: User):
    """One report: state, where, the public timeline, before and after photos, the rating."""
    try:
        report, own = queries.citizen_report(citizen, number)
    except NotFound:
        return render_template(
            "reports/h5/message.html",
            title="未找到该问题",
            text="该问题不存在，或不是您上报的问题。",
        ), 404
    view = present.citizen_view(report, "gcj02", own=own)
    submitted = request.args.get("submitted") == "1"
    return render_template(
        "reports/h5/report_detail.html",
        r=view,
        own=own,
        shop_name=shop_name(report.shop_id) if own else None,
        comment=report.rating_comment if own else None,
        before=[p for p in view["photos"] if p["stage"] == "report"],
        after=[p for p in view["photos"] if p["stage"] == "after"],
        timeline=list(reversed(view["timeline"])),
        tones=STATE_TONES,
        map_config=h5_map_config(),
        submitted=submitted,
        follow=follow_box() if submitted and own else None,
    )


def follow_box() -> dict[str, str]:
    """接收办理进展, shown once a report is filed: the public account to follow (its name, what
    following gives, the link of its QR code, if one is configured) and that neither is needed
    (what GET /api/v1/notifications/options says; the mini-program's subscribe prompt is not
    for H5)."""
    options = subscriptions.options(None)  # the public account's part is the same for everyone
    account = options["public_account"]
    follow_url = account["follow_url"]
    qr = None
    if follow_url:  # the link names what the code holds: a new follow URL is a new image
        version = hashlib.sha256(follow_url.encode()).hexdigest()[:12]
        qr = url_for("reports_public_pages.follow_qr_image", ext="png", v=version)
    return {"name": account["name"], "explain": account["explain"], "qr": qr,
            "always": options["always"]}  # fmt: skip


def shop_name(shop_id: int | None) -> str | None:
    """The name of the shop a report is about (public on the shop's plate page anyway)."""
    if shop_id is None:
        return None
    shop = shops_service.get_shop_by_id(shop_id)
    return shop.name if shop else None


def init_app(app: Flask) -> None:
    """Register the pages and the case queues' to-do counts on the console home."""
    app.register_blueprint(bp)
    add_todos(app, todo_counts)
