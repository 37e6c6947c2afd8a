"""Staff facility API (``/api/v1/staff/facilities``) and the admin facility-kind API
(``/api/v1/admin/facility-kinds``), with the operations behind them.

Who may do what:

* every staff account may list and read facilities; admins and dispatchers (``Role.DISPATCHER``;
  admins hold every role) may create, edit, remove and restore them; other roles get 403;
* an account tied to a department sees and edits only the facilities in the districts its
  department (or a unit below it) is responsible for; admins, accounts without a department and
  departments responsible for the whole city work city-wide. A facility outside every district is
  visible to city-wide accounts only. Departments with street regions only (street offices) have
  no district and see none: facilities are placed in districts, not streets;
* only admins attach a facility to a live free-space feed (``feed``) and edit facility kinds.

Every write is audited (app.audit). Facility writes get their change number from the ORM hook
(service.py); kind writes take one with ``service.next_seq()``, so every process's nearest-search
index notices the new set of kinds and reloads.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app import audit
from app.apispec import document_errors
from app.auth import scope
from app.auth.current import staff_required
from app.auth.models import Role, StaffUser
from app.db import check_version, flush_versioned, utcnow
from app.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from app.extensions import db
from app.geo import regions
from services_nearby import hours, service
from services_nearby.feed import feed_by_name
from services_nearby.models import Facility, FacilityKind, FacilityStatus
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

log = logging.getLogger(__name__)
STALE = "设施信息已被他人修改，请刷新后重试"

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

TEXT = ("name", "address", "opening_hours", "fee", "accessible", "capacity", "external_id")
AUDITED = ("kind_id", "name", "address", "lat", "lng", "coord_sys_in", "district_code",
           "opening_hours", "fee", "accessible", "capacity", "free_spaces", "external_id",
           "free_spaces_at", "feed_id", "status")  # fmt: skip


# ---------------------------------------------------------------- scope


def ensure_in_scope(district_code: str | None, staff: StaffUser) -> None:
    """403 out_of_scope unless a facility in this district is within the account's scope."""
    scope.require(staff, "该设施不在您的管辖范围内", district_code=district_code)


def facility_for_staff(facility_id: int, staff: StaffUser) -> Facility:
    """A facility this account may see: 404 if none, 403 if outside its districts."""
    facility = service.get_facility(facility_id)
    ensure_in_scope(facility.district_code, staff)
    return facility


# ---------------------------------------------------------------- reading


def search(filters: dict[str, Any], staff: StaffUser, page: int, per_page: int):
    """A page of facilities matching the filters within the account's scope; (items, total)."""
    query = select(Facility)
    if filters.get("kind"):
        query = query.where(
            Facility.kind_id.in_(
                select(FacilityKind.id).where(FacilityKind.code == filters["kind"])
            )
        )
    if filters.get("district"):
        query = query.where(Facility.district_code == filters["district"])
    if filters.get("status"):
        query = query.where(Facility.status == FacilityStatus(filters["status"]))
    if filters.get("source"):
        query = query.where(Facility.source == filters["source"])
    if filters.get("q"):
        q = filters["q"]
        query = query.where(or_(Facility.name.contains(q, autoescape=True),
                                Facility.address.contains(q, autoescape=True)))  # fmt: skip
    query = scope.restrict(query, staff, district=Facility.district_code)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(
        query.options(selectinload(Facility.kind), selectinload(Facility.feed))
        .order_by(Facility.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()  # fmt: skip
    return list(items), total or 0


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


# ---------------------------------------------------------------- writing facilities


def _active_kind(code: str) -> FacilityKind:
    kind = db.session.scalar(select(FacilityKind).where(FacilityKind.code == code))
    if kind is None or not kind.is_active:
        raise ValidationFailed(fields={"kind": ["设施类型不存在或已停用"]})
    return kind


def _placed(data: dict[str, Any], staff: StaffUser) -> tuple[service.Point, str, str | None]:
    """The point, its system and district for ``lat``/``lng``: 422 outside the city, 403
    outside the account's districts."""
    coord_sys = data.get("coord_sys", "gcj02")
    p = service.point(data["lat"], data["lng"], coord_sys)
    district = regions.district_code_at(p.lat, p.lng)
    if district is None and _city_has_regions():
        raise ValidationFailed(
            fields={"location": ["位置不在本市任何区域内，请检查经纬度和坐标系"]}
        )
    ensure_in_scope(district, staff)
    return p, coord_sys, district


def _city_has_regions() -> bool:
    return bool(regions.region_shapes())


def _feed_id(name: str | None, staff: StaffUser) -> int | None:
    if Role.ADMIN not in staff.roles:
        raise Forbidden("仅管理员可以设置空位数据源", code="forbidden")
    if name is None:
        return None
    feed = feed_by_name(name)
    if feed is None or not feed.is_active:
        raise ValidationFailed(fields={"feed": ["数据源不存在或已停用"]})
    return feed.id


def _check_external_id(facility: Facility | None, external_id: str | None) -> None:
    if facility is not None and facility.source != "staff":
        raise ValidationFailed(fields={"external_id": ["导入的设施编号由导入文件决定，不能修改"]})
    if external_id is None:
        return
    taken = db.session.scalar(select(Facility.id).where(
        Facility.source == "staff", Facility.external_id == external_id))  # fmt: skip
    if taken is not None and (facility is None or taken != facility.id):
        raise Conflict("该编号已被其他设施使用", code="external_id_exists")


def _check_spaces(f: Facility, data: dict[str, Any]) -> None:
    """422 when the free spaces would exceed the capacity (either given, the other stored)."""
    if f.capacity is not None and f.free_spaces is not None and f.free_spaces > f.capacity:
        field = "capacity" if "capacity" in data else "free_spaces"
        raise ValidationFailed(fields={field: [
            f"空位数（{f.free_spaces}）不能大于容量（{f.capacity}）"]})  # fmt: skip


def _apply(f: Facility, data: dict[str, Any], staff: StaffUser) -> None:
    """Set what ``data`` gives on a new or existing facility (checks included). Lookups run
    without autoflush, so a facility is written once per request (one version step)."""
    with db.session.no_autoflush:
        if "kind" in data and (f.kind_id is None or data["kind"] != f.kind.code):
            f.kind = _active_kind(data["kind"])
        if "external_id" in data and data["external_id"] != f.external_id:
            _check_external_id(None if f.id is None else f, data["external_id"])
        for key in TEXT:
            if key in data:
                setattr(f, key, data[key])
        if "free_spaces" in data:
            f.free_spaces = data["free_spaces"]
            f.free_spaces_at = utcnow() if data["free_spaces"] is not None else None
        if "capacity" in data or "free_spaces" in data:
            _check_spaces(f, data)
        if "feed" in data:
            f.feed_id = _feed_id(data["feed"], staff)
        if "lat" in data:
            p, coord_sys, district = _placed(data, staff)
            service.place(f, p, coord_sys, district)


def _audit_safe(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, FacilityStatus):
            value = value.value
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[key] = value
    return out


def create_facility(data: dict[str, Any], staff: StaffUser) -> Facility:
    """Add a facility entered by staff (source ``staff``)."""
    f = Facility(source="staff", address="", opening_hours="", fee="")
    _apply(f, data, staff)
    db.session.add(f)
    db.session.flush()
    audit.record("facility.create", "facility", f.id, actor=staff,
                 after=_audit_safe({k: getattr(f, k) for k in AUDITED}))  # fmt: skip
    log.info("facility %s (%s) created by %s", f.id, f.name, staff.username)
    return f


def update_facility(f: Facility, data: dict[str, Any], staff: StaffUser) -> Facility:
    """Edit a facility; a move is placed again and must stay in the account's districts."""
    check_version(f, data["version"], STALE)
    before = {k: getattr(f, k) for k in AUDITED}
    _apply(f, data, staff)
    changed = {k: getattr(f, k) for k in AUDITED if getattr(f, k) != before[k]}
    flush_versioned(STALE)
    if changed:
        audit.record("facility.update", "facility", f.id, actor=staff,
                     before=_audit_safe({k: before[k] for k in changed}),
                     after=_audit_safe(changed))  # fmt: skip
        log.info("facility %s updated by %s: %s", f.id, staff.username, sorted(changed))
    return f


STATUS_MOVES = {
    "remove": (FacilityStatus.ACTIVE, FacilityStatus.REMOVED, "该设施已撤销"),
    "restore": (FacilityStatus.REMOVED, FacilityStatus.ACTIVE, "该设施未被撤销"),
}


def change_status(f: Facility, action: str, body: dict[str, Any], staff: StaffUser) -> Facility:
    """Remove (hide from citizens) or restore a facility; 409 if it is already so."""
    check_version(f, body.get("version"), STALE)
    allowed, target, refused = STATUS_MOVES[action]
    if f.status != allowed:
        raise InvalidTransition(refused)
    f.status = target
    flush_versioned(STALE)
    audit.record(f"facility.{action}", "facility", f.id, actor=staff, reason=body["reason"],
                 before=allowed.value, after=target.value)  # fmt: skip
    log.info("facility %s %s by %s: %s", f.id, action, staff.username, body["reason"])
    return f


# ---------------------------------------------------------------- writing kinds


def create_kind(data: dict[str, Any], staff: StaffUser) -> FacilityKind:
    """Add a kind; 409 kind_exists if the code is taken."""
    if db.session.scalar(select(FacilityKind.id).where(FacilityKind.code == data["code"])):
        raise Conflict("设施类型编码已存在", code="kind_exists")
    last = db.session.scalar(select(func.max(FacilityKind.sort_order)))
    kind = FacilityKind(
        code=data["code"], name=data["name"], title=data.get("title") or data["name"],
        osm_tags=data["osm_tags"], is_active=data.get("is_active", True),
        sort_order=data.get("sort_order", (last or 0) + 1),
    )  # fmt: skip
    db.session.add(kind)
    service.next_seq()  # the index of every process reloads its kinds
    db.session.flush()
    audit.record("facility_kind.create", "facility_kind", kind.id, actor=staff,
                 code=kind.code, name=kind.name, title=kind.title)  # fmt: skip
    log.info("facility kind %s created by %s", kind.code, staff.username)
    return kind


def update_kind(kind_id: int, data: dict[str, Any], staff: StaffUser) -> FacilityKind:
    """Rename, retag, reorder or (de)activate a kind (kinds are never deleted)."""
    kind = db.session.get(FacilityKind, kind_id)
    if kind is None:
        raise NotFound("没有这种设施类型", code="unknown_kind")
    changed = {k: v for k, v in data.items() if getattr(kind, k) != v}
    if changed:
        before = {k: getattr(kind, k) for k in changed}
        for key, value in changed.items():
            setattr(kind, key, value)
        service.next_seq()
        db.session.flush()
        audit.record("facility_kind.update", "facility_kind", kind.id, actor=staff,
                     code=kind.code, before=before, after=changed)  # fmt: skip
        log.info("facility kind %s updated by %s: %s", kind.code, staff.username, sorted(changed))
    return kind


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
        items, total = search(args, staff, page, per_page)
        names = regions.district_names()
        return {"items": [facility_view(f, names) for f in items], "total": total,
                "page": page, "per_page": per_page}  # fmt: skip

    @editors
    @blp.arguments(FacilityCreateIn)
    @blp.response(201, FacilityOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a facility; its district comes from its position. Citizens see it at once."""
        f = create_facility(body, staff)
        db.session.commit()
        return facility_view(f)


@blp.route("/<int:facility_id>")
class FacilityOne(MethodView):
    @readers
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404)
    def get(self, facility_id, staff):
        """One facility."""
        return facility_view(facility_for_staff(facility_id, staff))

    @editors
    @blp.arguments(FacilityUpdateIn)
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, facility_id, staff):
        """Edit a facility with the ``version`` read (409 stale_version if it changed since);
        ``lat``/``lng`` move it."""
        f = update_facility(facility_for_staff(facility_id, staff), body, staff)
        db.session.commit()
        return facility_view(f)


def _status_route(action: str, summary: str) -> None:
    """POST /<id>/<action> with an optional reason and version."""

    @blp.arguments(FacilityStatusIn)
    @blp.response(200, FacilityOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, facility_id, staff):
        f = change_status(facility_for_staff(facility_id, staff), action, body, staff)
        db.session.commit()
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
        kind = create_kind(body, staff)
        db.session.commit()
        return kind


@kinds_blp.route("/<int:kind_id>")
class KindOne(MethodView):
    decorators = [admin_only]

    @kinds_blp.arguments(FacilityKindUpdateIn)
    @kinds_blp.response(200, FacilityKindOut)
    @document_errors(kinds_blp, 401, 403, 404, 422)
    def patch(self, body, kind_id, staff):
        """Edit a kind; a deactivated kind disappears from the citizens' search at once."""
        kind = update_kind(kind_id, body, staff)
        db.session.commit()
        return kind
