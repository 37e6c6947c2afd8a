"""What staff do with facilities: search within their districts, add, edit (with the version they
read), remove and restore; admins attach a live free-space feed.

Who may do what (the staff API's decorators check the roles, these functions the districts):

* every staff account may list and read facilities; admins and dispatchers (``Role.DISPATCHER``;
  admins hold every role) may create, edit, remove and restore them;
* an account tied to a department sees and edits only the facilities in the districts its
  department (or a unit below it) is responsible for (``app.auth.scope``); admins, accounts
  without a department and departments responsible for the whole city work city-wide. A facility
  outside every district is visible to city-wide accounts only. Departments with street regions
  only (street offices) have no district and see none: facilities are placed in districts, not
  streets;
* only admins attach a facility to a live free-space feed (``feed``).

Every write is audited (app.audit) and takes its change number from the ORM hook (service.py).
Functions flush; the caller commits.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app import audit
from app.auth import scope
from app.auth.models import Role, StaffUser
from app.db import check_version, flush_versioned, utcnow
from app.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from app.extensions import db
from app.geo import regions
from services_nearby import service
from services_nearby.feed import feed_by_name
from services_nearby.models import Facility, FacilityKind, FacilityStatus

log = logging.getLogger(__name__)
STALE = "设施信息已被他人修改，请刷新后重试"

TEXT = ("name", "address", "opening_hours", "fee", "accessible", "capacity", "external_id")
AUDITED = ("kind_id", "name", "address", "lat", "lng", "coord_sys_in", "district_code",
           "opening_hours", "fee", "accessible", "capacity", "free_spaces", "external_id",
           "free_spaces_at", "feed_id", "status")  # fmt: skip
STATUS_MOVES = {
    "remove": (FacilityStatus.ACTIVE, FacilityStatus.REMOVED, "该设施已撤销"),
    "restore": (FacilityStatus.REMOVED, FacilityStatus.ACTIVE, "该设施未被撤销"),
}


# ---------------------------------------------------------------- scope and reading


def ensure_in_scope(district_code: str | None, staff: StaffUser) -> None:
    """403 out_of_scope unless a facility in this district is within the account's scope."""
    scope.require(staff, "该设施不在您的管辖范围内", district_code=district_code)


def facility_for_staff(facility_id: int, staff: StaffUser) -> Facility:
    """A facility this account may see: 404 if none, 403 if outside its districts."""
    facility = service.get_facility(facility_id)
    ensure_in_scope(facility.district_code, staff)
    return facility


def search(
    filters: dict[str, Any], staff: StaffUser, page: int, per_page: int
) -> tuple[list[Facility], int]:
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


# ---------------------------------------------------------------- checks of a write


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
    if district is None and regions.region_shapes():
        raise ValidationFailed(
            fields={"location": ["位置不在本市任何区域内，请检查经纬度和坐标系"]}
        )
    ensure_in_scope(district, staff)
    return p, coord_sys, district


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


# ---------------------------------------------------------------- the writes


def create_facility(data: dict[str, Any], staff: StaffUser) -> Facility:
    """Add a facility entered by staff (source ``staff``); its district comes from its position."""
    f = Facility(source="staff", address="", opening_hours="", fee="")
    _apply(f, data, staff)
    db.session.add(f)
    db.session.flush()
    audit.record("facility.create", "facility", f.id, actor=staff,
                 after=_audit_safe({k: getattr(f, k) for k in AUDITED}))  # fmt: skip
    log.info("facility %s (%s) created by %s", f.id, f.name, staff.username)
    return f


def update_facility(facility_id: int, data: dict[str, Any], staff: StaffUser) -> Facility:
    """Edit a facility with the version read (409 stale_version if it moved on); a move is
    placed again and must stay in the account's districts."""
    f = facility_for_staff(facility_id, staff)
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


def change_status(
    facility_id: int, action: str, body: dict[str, Any], staff: StaffUser
) -> Facility:
    """Remove (hide from citizens) or restore a facility; 409 if it is already so."""
    f = facility_for_staff(facility_id, staff)
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
