"""Staff facility API (``/api/v1/staff/facilities``) and the admin facility-kind API
(``/api/v1/admin/facility-kinds``): thin views over :mod:`services_nearby.facilities` and the kind
operations of :mod:`services_nearby.service`.

Every staff account may list and read facilities; admins and dispatchers (``Role.DISPATCHER``;
admins hold every role) create, edit, remove and restore them; only admins edit facility kinds.
The department scope (which districts an account sees) is checked by the operations.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.geo import regions
from services_nearby import facilities, hours, service
from services_nearby.models import Facility
from services_nearby.schemas import (
    FacilityCreateIn,
    FacilityKindCreateIn,
    FacilityKindOut,
    FacilityKindUpdateIn,
    FacilityListArgs,
    FacilityListOut,
    FacilityOut,
    FacilityStatusIn,
    FacilityUpdateIn,
)

blp = Blueprint(
    "nearby_staff",
    __name__,
    url_prefix="/api/v1/staff/facilities",
    description="便民设施管理（工作人员）",
)
kinds_blp = Blueprint(
    "nearby_kinds_admin",
    __name__,
    url_prefix="/api/v1/admin/facility-kinds",
    description="便民设施类型（管理员维护）",
)

readers = staff_required()  # any staff role, within its scope
editors = staff_required(Role.DISPATCHER)  # admins hold every role
admin_only = staff_required(Role.ADMIN)


def facility_view(f: Facility, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A facility as staff see it."""
    names = regions.district_names() if names is None else names
    view = {c: getattr(f, c) for c in (
        "id", "name", "address", "lat", "lng", "wgs_lat", "wgs_lng", "coord_sys_in",
        "district_code", "opening_hours", "fee", "accessible", "capacity", "free_spaces",
        "free_spaces_at", "source", "external_id", "version", "created_at", "updated_at",
    )}  # fmt: skip
    view["kind"], view["kind_name"] = f.kind.code, f.kind.name
    view["district_name"] = names.get(f.district_code or "")
    view["hours_label"] = hours.compiled(f.opening_hours or "").label
    view["feed"] = f.feed.name if f.feed is not None else None
    view["status"], view["status_label"] = f.status.value, f.status.label
    return view


# ---------------------------------------------------------------- views: facilities


@blp.route("")
class Facilities(MethodView):
    @readers
    @blp.arguments(FacilityListArgs, location="query")
    @blp.response(200, FacilityListOut)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Facilities by kind, district, status, source and name or address, newest first."""
        page, per_page = args.pop("page"), args.pop("per_page")
        items, total = facilities.search(args, staff, page, per_page)
        names = regions.district_names()
        return {"items": [facility_view(f, names) for f in items], "total": total,
                "page": page, "per_page": per_page}  # fmt: skip

    @editors
    @blp.arguments(FacilityCreateIn)
    @blp.response(201, FacilityOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a facility; its district comes from its position. Citizens see it at once."""
        f = facilities.create_facility(body, staff)
        commit()
        return facility_view(f)


@blp.route("/<int:facility_id>")
class FacilityOne(MethodView):
    @readers
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404)
    def get(self, facility_id, staff):
        """One facility."""
        return facility_view(facilities.facility_for_staff(facility_id, staff))

    @editors
    @blp.arguments(FacilityUpdateIn)
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, facility_id, staff):
        """Edit a facility with the ``version`` read (409 stale_version if it changed since);
        ``lat``/``lng`` move it."""
        f = facilities.update_facility(facility_id, body, staff)
        commit()
        return facility_view(f)


def _status_route(action: str, summary: str) -> None:
    """POST /<id>/<action> with an optional reason and version."""

    @blp.arguments(FacilityStatusIn)
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, facility_id, staff):
        f = facilities.change_status(facility_id, action, body, staff)
        commit()
        return facility_view(f)

    post.__doc__ = summary
    view = type(f"Facility{action.title()}", (MethodView,), {"post": post})
    view.decorators = [editors]
    blp.route(f"/<int:facility_id>/{action}")(view)


_status_route("remove", "Remove a facility (已撤销): citizens no longer find it; 409 if removed.")
_status_route("restore", "List a removed facility again; 409 if it is not removed.")


# ---------------------------------------------------------------- views: kinds


@kinds_blp.route("")
class Kinds(MethodView):
    decorators = [admin_only]

    @kinds_blp.response(200, FacilityKindOut(many=True))
    @document_errors(kinds_blp, 401, 403)
    def get(self, staff):
        """Every kind in display order, inactive ones included."""
        return service.kinds(active_only=False)

    @kinds_blp.arguments(FacilityKindCreateIn)
    @kinds_blp.response(201, FacilityKindOut)
    @document_errors(kinds_blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a kind (code permanent; OSM tags ``key=value`` decide what imports as it)."""
        kind = service.create_kind(body, staff)
        commit()
        return kind


@kinds_blp.route("/<int:kind_id>")
class KindOne(MethodView):
    decorators = [admin_only]

    @kinds_blp.arguments(FacilityKindUpdateIn)
    @kinds_blp.response(200, FacilityKindOut)
    @document_errors(kinds_blp, 401, 403, 404, 422)
    def patch(self, body, kind_id, staff):
        """Edit a kind; a deactivated kind disappears from the citizens' search at once."""
        kind = service.update_kind(kind_id, body, staff)
        commit()
        return kind
