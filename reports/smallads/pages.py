"""牛皮癣 console pages: the inspector's 拍照登记 (photo -> OCR suggestions -> confirmed numbers),
the advertiser list and one advertiser's evidence, SMS, log and actions. Rendered from the API's
presenters; every write goes through the staff API from static/smallads/smallads.js."""

from __future__ import annotations

from flask import Blueprint, Flask, request, url_for

from app.auth.models import Role, StaffUser
from app.console import nav_item, render, staff_page
from reports.littering.queries import page
from reports.smallads import phones, present, service
from reports.smallads.models import STATE_LABELS, Advertiser

bp = Blueprint(
    "smallads_pages",
    __name__,
    template_folder="templates",
    static_folder="static/smallads",
    static_url_path="/static/smallads",
)

INSPECTORS = (Role.INSPECTOR, Role.ADMIN)
ENFORCERS = (Role.DISPATCHER, Role.HANDLER, Role.ADMIN)
PER_PAGE = 20


@nav_item("小广告拍照登记", INSPECTORS, order=40, endpoint="smallads_pages.capture")
@bp.get("/console/smallads/capture")
@staff_page(*INSPECTORS)
def capture(staff: StaffUser):
    """Photo, OCR suggestions, confirmed numbers and the place."""
    return render("smallads/capture.html", staff)


@nav_item("牛皮癣号码查处", ENFORCERS, order=41, endpoint="smallads_pages.advertisers")
@bp.get("/console/smallads")
@staff_page(*ENFORCERS)
def advertisers(staff: StaffUser):
    """Advertisers in scope, by state or number."""
    state = request.args.get("state", "")
    state = state if state in {s.value for s in STATE_LABELS} else ""
    typed = request.args.get("phone", "").strip()
    query = service.advertisers_in_scope(staff)
    if state:
        query = query.where(Advertiser.state == state)
    if typed:
        query = query.where(Advertiser.phone == (phones.normalize(typed) or ""))
    number = max(1, request.args.get("page", 1, type=int) or 1)
    rows, total = page(query.order_by(Advertiser.id.desc()), {"page": number, "per_page": PER_PAGE})
    return render(
        "smallads/advertisers.html",
        staff,
        items=[present.item(a, staff) for a in rows],
        total=total,
        states=[(s.value, s.label) for s in STATE_LABELS],
        state=state,
        phone=typed,
        prev=url_for(".advertisers", state=state, phone=typed, page=number - 1)
        if number > 1
        else None,
        next=url_for(".advertisers", state=state, phone=typed, page=number + 1)
        if number * PER_PAGE < total
        else None,
    )


@bp.get("/console/smallads/<int:advertiser_id>")
@staff_page(*ENFORCERS)
def advertiser(advertiser_id: int, staff: StaffUser):
    """One advertiser: photos, notice and reminders with receipts, deadline, log, actions."""
    view = present.detail(service.advertiser_in_scope(staff, advertiser_id), staff)
    return render(
        "smallads/advertiser.html", staff, a=view, may_notify=staff.has_role(Role.DISPATCHER)
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
