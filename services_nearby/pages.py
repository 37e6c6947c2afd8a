"""便民设施 pages: the citizens' H5 pages ``/nearby`` (what to look for) and ``/nearby/{kind}`` (the
nearest of a kind, located by the browser), and the staff console's facility registry.

The H5 list is answered from the same index and search as ``GET /api/v1/nearby``
(services_nearby.nearest); its script (``static/nearby/list.js``) asks that API once the browser
has located the citizen. The console page is a shell: the filters and the API URLs are rendered
here, and its script (``static/nearby/manage_facilities.js``) reads and writes through the staff
API (services_nearby.staff_api), which checks roles and department scopes again. Every staff
account may read facilities; dispatchers and admins write, so only they get the add, edit and
remove controls.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, render_template, request, url_for

from app.auth.models import Role, StaffUser
from app.console import nav_item, staff_page
from app.console.editors import active_options, district_options, editor_page, holds, map_config
from app.errors import ValidationFailed
from app.extensions import limiter
from app.ratelimits import public_limit
from services_nearby.models import FacilityStatus
from services_nearby.nearest import search_nearby
from services_nearby.public import SYSTEMS, parse_args
from services_nearby.service import kinds

bp = Blueprint("nearby_pages", __name__, template_folder="templates",
               static_folder="static/nearby", static_url_path="/static/nearby")  # fmt: skip

FACILITY_EDITORS = (Role.ADMIN, Role.DISPATCHER)


# ---------------------------------------------------------------- citizen H5


@bp.get("/nearby")
@limiter.limit(public_limit)
def kinds_page():
    """Choose what to look for."""
    return render_template("nearby/kinds.html", kinds=kinds())


@bp.get("/nearby/<kind>")
@limiter.limit(public_limit)
def kind_page(kind: str):
    """The nearest of a kind. The browser locates the citizen (WGS-84) and asks the JSON API; with
    ``lat``/``lng`` in the address the list is rendered on the server too."""
    chosen = next((k for k in kinds() if k.code == kind), None)
    if chosen is None:
        return render_template("error.html", status=404, message="没有这种设施类型"), 404
    items, error, notice = None, None, None
    if request.args.get("lat") and request.args.get("lng"):
        try:
            args = parse_args(request.args.to_dict() | {"kind": kind})
            answer = search_nearby(args)
            items = json.loads(answer.found.json(SYSTEMS[args["coord_sys"]]))
            notice = answer.notice
        except ValidationFailed as exc:
            error = exc.message
    return render_template("nearby/list.html", kind=chosen, items=items, error=error,
                           notice=notice)  # fmt: skip


# ---------------------------------------------------------------- console


@nav_item("便民设施", order=40, endpoint="nearby_pages.facilities")
@bp.get("/console/facilities")
@staff_page()
def facilities(staff: StaffUser):
    """Search public facilities; dispatchers and admins add, edit, remove and restore them."""
    can_edit = holds(staff, FACILITY_EDITORS)
    config = {"facilities": url_for("nearby_staff.Facilities"), "canEdit": can_edit,
              **map_config()}  # fmt: skip
    all_kinds = kinds(active_only=False)
    return editor_page(
        "nearby/console/facilities.html", staff, config,
        kinds=all_kinds, kind_options=active_options(all_kinds), districts=district_options(),
        statuses=[(s.value, s.label) for s in FacilityStatus], can_edit=can_edit,
    )  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
