"""The ONE department-scope rule every feature applies to staff.

An account with no department, or holding the admin role, is city-wide. Any other account acts
for its department and every unit below it (its *departments*), and for the places those
departments answer for (the regions assigned to them, and the districts among them; answering
for the city region makes the account city-wide for places). A record is in scope when:

- it is assigned to one of the departments; or
- it is assigned to no department (or has no department at all, like a shop or a facility) and
  lies in one of the places.

``scope_of`` computes the scope once per request; ``restrict`` applies the rule to a query and
``covers`` to one record, so a list and a single read can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Select, false, or_, select

from app.auth.models import Department, Role, StaffUser
from app.errors import Forbidden
from app.extensions import db
from app.geo.models import Region


@dataclass(frozen=True)
class Scope:
    """What a department-bound account may act for; ``None`` places = every place."""

    department_ids: frozenset[int]
    region_ids: frozenset[int] | None
    district_codes: frozenset[str] | None


def city_wide(staff: StaffUser) -> bool:
    """True for accounts without a department and for admins."""
    return staff.department_id is None or Role.ADMIN in staff.roles


def department_subtree_ids(root_id: int) -> list[int]:
    """The department and every unit below it (the table is small: one query, walked here)."""
    rows = db.session.execute(select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for dept_id, parent_id in rows:
        children.setdefault(parent_id, []).append(dept_id)
    found, frontier = [], [root_id]
    while frontier:
        found.extend(frontier)
        frontier = [c for d in frontier for c in children.get(d, [])]
    return found


def scope_of(staff: StaffUser) -> Scope | None:
    """The account's scope, None when city-wide (computed once per request)."""
    if city_wide(staff):
        return None
    memo = g.setdefault("staff_scopes", {}) if has_request_context() else {}
    key = (staff.id, staff.department_id)
    if key not in memo:
        ids = department_subtree_ids(staff.department_id)
        rows = db.session.execute(
            select(Region.id, Region.code, Region.level).where(Region.department_id.in_(ids))
        ).all()
        if any(level == "city" for _, _, level in rows):
            memo[key] = Scope(frozenset(ids), None, None)
        else:
            memo[key] = Scope(frozenset(ids), frozenset(r.id for r in rows),
                              frozenset(r.code for r in rows if r.level == "district"))  # fmt: skip
    return memo[key]


def restrict(query: Select, staff: StaffUser, *, department: Any = None, region: Any = None,
             district: Any = None) -> Select:  # fmt: skip
    """Limit ``query`` to the account's scope, given the columns holding a row's department,
    region and district (any may be absent)."""
    scope = scope_of(staff)
    if scope is None:
        return query
    if scope.region_ids is None:
        place = None  # every place
    else:
        found = []
        if region is not None:
            found.append(region.in_(scope.region_ids))
        if district is not None:
            found.append(district.in_(scope.district_codes))
        place = or_(*found) if found else false()
    if department is None:
        return query if place is None else query.where(place)
    unassigned = department.is_(None) if place is None else department.is_(None) & place
    return query.where(or_(department.in_(scope.department_ids), unassigned))


def covers(staff: StaffUser, *, department_id: int | None = None, region_id: int | None = None,
           district_code: str | None = None) -> bool:  # fmt: skip
    """True if a record with this department, region and district is in the account's scope."""
    scope = scope_of(staff)
    if scope is None:
        return True
    if department_id is not None:
        return department_id in scope.department_ids
    if scope.region_ids is None:
        return True
    return region_id in scope.region_ids or district_code in scope.district_codes


def require(staff: StaffUser, message: str, **record: Any) -> None:
    """403 out_of_scope with ``message`` unless ``covers(staff, **record)``."""
    if not covers(staff, **record):
        raise Forbidden(message, code="out_of_scope")
