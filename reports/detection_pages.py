"""Console pieces of the detection devices (路长慧眼): the algorithm catalogue editor (admins),
and two template helpers the shared pages include: each algorithm's precision on the statistics
page and the algorithm of a machine case on the case page. Both read ``reports.detection``, the
same queries the statistics API answers from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, Flask, url_for

from app.auth.models import Role, StaffUser
from app.auth.scope import scope_of
from app.console import editors, nav_item, staff_page
from reports import admin_service, detection
from reports.stats import SHANGHAI

bp = Blueprint("detection_pages", __name__, template_folder="templates")
ADMIN = (Role.ADMIN,)


@nav_item("识别算法", ADMIN, order=84, endpoint="detection_pages.algorithms")
@bp.get("/console/admin/detection-algorithms")
@staff_page(*ADMIN)
def algorithms(staff: StaffUser):
    """The catalogue: name, category, threshold for direct registration, cool-down, active."""
    categories = [(c.code, f"{c.code} {c.kind}/{c.name}")
                  for c in admin_service.list_categories(active=True)]  # fmt: skip
    config = {"algorithms": url_for("detection_admin.Algorithms"),
              "categories": dict(categories)}  # fmt: skip
    return editors.editor_page("reports/console/detection_algorithms.html", staff, config,
                               categories=categories)  # fmt: skip


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def precision_panel(staff: StaffUser, filters: dict[str, str]) -> dict[str, Any]:
    """Per-algorithm precision for the statistics page's period, in the account's scope."""
    today = datetime.now(SHANGHAI).date()
    first = _day(filters.get("from"), today.replace(day=1))
    last = max(_day(filters.get("to"), today), first)
    mine = scope_of(staff)
    departments = None if mine is None else tuple(sorted(mine.department_ids))
    return detection.precision(first, last, departments)


def percent_label(value: float | None) -> str:
    """A precision as people read it: 87.5% (or — when nothing was judged yet)."""
    return "—" if value is None else f"{value:g}%"


def init_app(app: Flask) -> None:
    """Register the editor page and the template helpers."""
    app.register_blueprint(bp)
    app.add_template_global(precision_panel, "detection_precision")
    app.add_template_global(detection.case_detection, "case_detection")
    app.add_template_global(percent_label, "percent_label")
