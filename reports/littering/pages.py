"""车窗抛物 pages: the citizen's H5 report form, list and detail, and the staff console's review
queue, violation leads, reward payouts and rules.

Pages are rendered on the server from the same queries and presenters as the JSON APIs
(``present.citizen_view``, ``present.staff_view``, ``present.batch_view`` ...), so a page shows
what the API would answer and reads correctly before any script runs. Every write goes through
the JSON APIs from the page scripts (``static/littering/``), which check roles again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint, Flask, current_app, render_template, request, url_for
from sqlalchemy import select

from app.auth.models import Role, StaffUser, User
from app.console import nav_item, render, staff_page
from app.db import commit
from app.errors import NotFound
from app.extensions import db
from app.h5 import citizen_page
from reports.littering import api as citizen_api
from reports.littering import ledger, present, queries, reconcile, staff_api
from reports.littering.models import (
    CHANNEL_LABELS,
    ENTRY_LABELS,
    INVALID_REASONS,
    LEAD_LABELS,
    STATE_LABELS,
    Ban,
    EntryState,
    LeadState,
    LitteringReport,
    PayoutBatch,
    PayoutFlag,
    PayoutState,
    ReconciliationRun,
    RewardRule,
)
from reports.littering.plates import PLATE_COLOURS
from reports.littering.rules import current_rule, yuan
from reports.littering.schemas import LeadArgs, StaffListArgs

bp = Blueprint("littering_pages", __name__, template_folder="templates",
               static_folder="static/littering", static_url_path="/static/littering")  # fmt: skip

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PER_PAGE = 20
VEHICLE_TYPES = {"car": "小轿车", "suv": "SUV", "van": "面包车/厢式车", "truck": "货车",
                 "bus": "客车/公交车", "taxi": "出租车", "motorcycle": "摩托车",
                 "other": "其他"}  # fmt: skip
# How the citizen's status tag is coloured.
STATUS_TONES = {"pending": "warn", "valid": "ok", "paid": "ok", "to_claim": "danger",
                "invalid": "muted", "duplicate": "muted"}  # fmt: skip

REVIEWERS = (Role.REVIEWER, Role.ADMIN)
ENFORCERS = (Role.HANDLER, Role.DISPATCHER, Role.REVIEWER, Role.ADMIN)
FINANCE = (Role.FINANCE, Role.ADMIN)
RULE_READERS = (Role.ADMIN, Role.REVIEWER, Role.FINANCE)
FINANCE_TABS = (("rewards", "奖励台账"), ("batches", "发放批次"), ("failed", "发放失败"),
                ("offline", "线下发放"), ("checks", "异常与对账"), ("monthly", "月报"))  # fmt: skip


def load_args(schema: ma.Schema) -> dict[str, Any]:
    """The query string through the API's own schema; a bad value falls back to its default."""
    raw = {k: v for k, v in request.args.items() if v.strip()}
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        return schema.load({k: v for k, v in raw.items() if k not in exc.messages})


def paged(query, args: dict[str, Any]) -> tuple[list, int]:
    """(rows, total) of one page, exactly as the APIs page."""
    return queries.page(query, args)


def page_links(page: int, total: int, per_page: int) -> dict[str, Any]:
    """Previous and next page URLs of the current view (None at either end)."""
    args = request.args.to_dict()

    def link(number: int) -> str:
        return url_for(request.endpoint, **(request.view_args or {}), **(args | {"page": number}))

    return {"prev": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page * per_page < total else None,
            "page": page, "pages": max(1, -(-total // per_page)), "total": total}  # fmt: skip


@bp.app_template_filter("lt_time")
def local_time(value: datetime | str | None) -> str:
    """A stored time or a presenter's ISO string as the city reads it: 2026-11-21 14:05."""
    if not value:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- citizen H5


@bp.get("/h5/littering/new")
@citizen_page
def new_report(citizen: User):
    """车窗抛物举报: plate, time, place, 2-9 photos or one short video."""
    return render_template(
        "littering/h5_new.html",
        colours=PLATE_COLOURS,
        vehicle_types=VEHICLE_TYPES,
        now=datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M"),
        deadline_hours=current_rule().deadline_hours,
        max_seconds=int(current_app.config.get("MEDIA_VIDEO_MAX_SECONDS") or 10),
    )


@bp.get("/h5/littering")
@citizen_page
def my_reports(citizen: User):
    """My littering reports, newest first, with my reward totals."""
    args = {"page": max(1, request.args.get("page", 1, type=int) or 1), "per_page": PER_PAGE}
    query = (select(LitteringReport).where(LitteringReport.reporter_id == citizen.id)
             .order_by(LitteringReport.id.desc()))  # fmt: skip
    rows, total = paged(query, args)
    return render_template(
        "littering/h5_list.html",
        items=[present.citizen_view(r, detail=False) for r in rows],
        total=total,
        pager=page_links(args["page"], total, PER_PAGE),
        rewards=citizen_api.reward_totals(citizen.id),
        tones=STATUS_TONES,
    )


@bp.get("/h5/littering/<number>")
@citizen_page
def report_detail(number: str, citizen: User):
    """One of my reports: status, reason, reward and, when a transfer waits, 确认收款."""
    try:
        report = citizen_api.own_report(citizen, number)
    except NotFound:
        return render_template("reports/h5/message.html", title="未找到该举报",
                               text="该举报不存在，或不是您提交的举报。"), 404  # fmt: skip
    view = present.citizen_view(report)
    return render_template(
        "littering/h5_detail.html",
        r=view,
        tones=STATUS_TONES,
        vehicle_types=VEHICLE_TYPES,
        submitted=request.args.get("submitted") == "1",
    )


# ---------------------------------------------------------------- console: review


@nav_item("车窗抛物审核", REVIEWERS, order=20, endpoint="littering_pages.review_queue")
@bp.get("/console/littering/reports")
@staff_page(*REVIEWERS)
def review_queue(staff: StaffUser):
    """The review queue (pending, oldest first) or reports by state and plate."""
    args = load_args(StaffListArgs())
    if "state" not in request.args:
        args["state"] = "pending"
    rows, total = paged(queries.review_queue(args["state"], args["plate"]), args)
    return render(
        "littering/review_queue.html", staff,
        items=[present.staff_item(r) for r in rows],
        filters={"state": args["state"] or "", "plate": request.args.get("plate", "").strip()},
        states=[(s.value, label) for s, label in STATE_LABELS.items()],
        pager=page_links(args["page"], total, args["per_page"]),
    )  # fmt: skip


@bp.get("/console/littering/reports/<number>")
@staff_page(*REVIEWERS)
def review_page(number: str, staff: StaffUser):
    """A report with its evidence, OCR suggestions, fraud signals, the same car's other reports
    and the decision form."""
    view = present.staff_view(queries.report_by_number(number))
    return render(
        "littering/review.html", staff,
        r=view,
        reasons=INVALID_REASONS,
        colours=PLATE_COLOURS,
        vehicle_types=VEHICLE_TYPES,
        boundaries_url=url_for("geo.Boundaries"),
    )  # fmt: skip


# ---------------------------------------------------------------- console: leads


@nav_item("违法线索", ENFORCERS, order=21, endpoint="littering_pages.leads")
@bp.get("/console/littering/leads")
@staff_page(*ENFORCERS)
def leads(staff: StaffUser):
    """Violation leads in this account's districts, by state, with the moves and exports."""
    args = load_args(LeadArgs())
    rows, total = paged(queries.leads_in_scope(staff, args["state"]), args)
    state = args["state"] or ""
    export = "/api/v1/staff/littering/leads/export?" + (f"state={state}&" if state else "")
    return render(
        "littering/leads.html", staff,
        items=[present.lead_view(x) for x in rows],
        state=state,
        states=[(s.value, label) for s, label in LEAD_LABELS.items()],
        order=[s.value for s in LeadState],
        export_csv=export + "format=csv", export_xlsx=export + "format=xlsx",
        pager=page_links(args["page"], total, args["per_page"]),
    )  # fmt: skip


# ---------------------------------------------------------------- console: rewards (finance)


def finance_page(template: str, staff: StaffUser, tab: str, **context: Any) -> str:
    """A finance page with the tabs of 奖励发放."""
    return render(template, staff, tabs=FINANCE_TABS, tab=tab, **context)


@nav_item("奖励发放", FINANCE, order=22, endpoint="littering_pages.rewards")
@bp.get("/console/littering/rewards")
@staff_page(*FINANCE)
def rewards(staff: StaffUser):
    """Rewards by state (待发放 first) with the ledger totals, and the form for a new batch."""
    state = request.args.get("state", EntryState.ACCRUED.value)
    if state and state not in {s.value for s in EntryState}:
        state = EntryState.ACCRUED.value
    args = {"page": max(1, request.args.get("page", 1, type=int) or 1), "per_page": PER_PAGE}
    rows, total = paged(queries.rewards(state), args)
    return finance_page(
        "littering/rewards.html", staff, "rewards",
        items=[present.entry_item(e) for e in rows],
        state=state,
        states=[(s.value, label) for s, label in ENTRY_LABELS.items()],
        check=ledger.check(),
        yuan=yuan,
        channels=CHANNEL_LABELS,
        pager=page_links(args["page"], total, PER_PAGE),
    )  # fmt: skip


@bp.get("/console/littering/batches")
@staff_page(*FINANCE)
def batches(staff: StaffUser):
    """Payout batches, newest first."""
    rows = db.session.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc()).limit(200))
    return finance_page("littering/batches.html", staff, "batches",
                        items=[present.batch_view(b) for b in rows])  # fmt: skip


@bp.get("/console/littering/batches/<number>")
@staff_page(*FINANCE)
def batch_page(number: str, staff: StaffUser):
    """One batch: its rewards and payouts, 放行 for another account and 撤销."""
    batch = present.batch_view(queries.batch_by_number(number), entries=True)
    return finance_page("littering/batch.html", staff, "batches", b=batch,
                        own=batch["prepared_by_id"] == staff.id)  # fmt: skip


def payouts_by_state(state: PayoutState) -> tuple[list[dict[str, Any]], int]:
    """Payouts in one state, newest first, as the payouts API lists them."""
    rows, total = paged(queries.payouts(state), {"page": 1, "per_page": 200})
    items = [present.payout_view(p) | {"entry_id": p.entry_id, "report": p.entry.report.number,
                                       "entry_state": p.entry.state.value,
                                       "batch": p.batch.number}
             for p in rows]  # fmt: skip
    return items, total


@bp.get("/console/littering/payouts/failed")
@staff_page(*FINANCE)
def failed_payouts(staff: StaffUser):
    """Failed transfers, each with 重新发放 while its reward waits to be paid again."""
    items, total = payouts_by_state(PayoutState.FAILED)
    return finance_page("littering/payouts_failed.html", staff, "failed", items=items,
                        total=total, approved=EntryState.APPROVED.value)  # fmt: skip


@bp.get("/console/littering/payouts/offline")
@staff_page(*FINANCE)
def offline_payouts(staff: StaffUser):
    """Rewards to pay by bank or cash, each with the form recording the payment."""
    items, total = payouts_by_state(PayoutState.OFFLINE_PENDING)
    return finance_page("littering/payouts_offline.html", staff, "offline", items=items,
                        total=total)  # fmt: skip


@bp.get("/console/littering/checks")
@staff_page(*FINANCE)
def checks(staff: StaffUser):
    """异常标记 (what WeChat Pay said that did not match) and the reconciliation runs."""
    flags = db.session.scalars(select(PayoutFlag).order_by(PayoutFlag.id.desc()).limit(500))
    runs = db.session.scalars(
        select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(60)
    )
    return finance_page("littering/checks.html", staff, "checks", flags=list(flags),
                        runs=[reconcile.run_view(r) for r in runs], check=ledger.check(),
                        yuan=yuan)  # fmt: skip


@bp.get("/console/littering/monthly")
@staff_page(Role.FINANCE, Role.REVIEWER, Role.ADMIN)
def monthly(staff: StaffUser):
    """Received, valid, rewarded and paid by month, with CSV and XLSX exports."""
    year = request.args.get("year", type=int)
    if year is not None and not 2000 <= year <= 2100:
        year = None
    base = "/api/v1/staff/rewards/monthly?" + (f"year={year}&" if year else "")
    return finance_page("littering/monthly.html", staff, "monthly",
                        rows=reconcile.monthly(year), year=year or "", yuan=yuan,
                        export_csv=base + "format=csv", export_xlsx=base + "format=xlsx",
                        finance=bool(set(staff.roles) & set(FINANCE)))  # fmt: skip


# ---------------------------------------------------------------- console: rules and bans


@nav_item("奖励规则", RULE_READERS, order=23, endpoint="littering_pages.rules_page")
@bp.get("/console/littering/rules")
@staff_page(*RULE_READERS)
def rules_page(staff: StaffUser):
    """The current rule and its history; admins save a new version; the ban list."""
    current = staff_api.rule_view(current_rule())
    commit()  # the first visit may have created version 1
    history = db.session.scalars(select(RewardRule).order_by(RewardRule.version.desc()))
    show_bans = staff.has_role(Role.REVIEWER)
    bans = db.session.scalars(select(Ban).where(Ban.is_active.is_(True)).order_by(Ban.id))
    return render(
        "littering/rules.html", staff,
        current=current,
        history=[staff_api.rule_view(r) for r in history],
        can_edit=Role.ADMIN in staff.roles,
        show_bans=show_bans,
        bans=list(bans) if show_bans else [],
        yuan=yuan,
        periods={"month": "每月", "quarter": "每季度", "year": "每年"},
        ban_kinds={"user": "市民（用户ID）", "device": "设备", "ip": "IP地址"},
    )  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
