"""Open311 console pieces: the admins' client list (issue, revoke, new key, rate limits) and the
Open311 block of the staff case page (which client posted it, the link it sent)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, url_for

from app.auth.models import Role, StaffUser
from app.console import nav_item, render, staff_page
from reports.open311 import service

bp = Blueprint(
    "open311_pages",
    __name__,
    template_folder="templates",
    static_folder="static/open311",
    static_url_path="/static/open311",
)

ADMIN = (Role.ADMIN,)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | str | None) -> str:
    """A stored time as the city reads it: 2026-11-21 14:05."""
    if not value:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


@nav_item("Open311接入", ADMIN, order=85, endpoint="open311_pages.clients")
@bp.get("/console/admin/open311")
@staff_page(*ADMIN)
def clients(staff: StaffUser):
    """The clients with their keys' first characters, rate limits and use; the forms."""
    return render(
        "open311/clients.html",
        staff,
        clients=service.client_views(service.list_clients()),
        periods=list(service.RATE_PERIODS.items()),
        api_url=url_for("open311_admin.Clients"),
        discovery_url=url_for("open311.discovery", fmt="xml"),
        jurisdiction=current_app.config["OPEN311_JURISDICTION_ID"],
        local_time=local_time,
    )


def init_app(app: Flask) -> None:
    """Register the page and the case page's Open311 block."""
    app.register_blueprint(bp)
    app.add_template_global(service.request_for_case, "open311_request_for")
