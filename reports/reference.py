"""Reference data as the workflow needs it: categories, the working calendar, region routing.

Regions and the calendar are read into per-process caches and re-read when the table changes
(a cheap fingerprint query per use), so an admin's edit reaches every gunicorn worker without a
restart and the hot path never parses polygons per request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, g, has_request_context
from sqlalchemy import case, func, select

from app.auth.models import Department
from app.extensions import db
from app.geo import shapes
from reports.calendar import WorkCalendar
from reports.models import CalendarDay, Category, Region

_lock = threading.Lock()


def category_by_code(code: str) -> Category | None:
    """An active category by its code."""
    return db.session.scalar(
        select(Category).where(Category.code == code, Category.is_active.is_(True))
    )


def _cache(name: str) -> dict[str, Any]:
    return current_app.extensions.setdefault("reports_cache", {}).setdefault(name, {})


def _fingerprint(name: str, query) -> tuple[Any, ...]:
    """A table's change fingerprint, read at most once per request (one submission routes,
    locates and dispatches through several lookups; they share one check)."""
    checked = g.setdefault("reports_fingerprints", {}) if has_request_context() else {}
    if name not in checked:
        checked[name] = tuple(db.session.execute(query).one())
    return checked[name]


CALENDAR_FINGERPRINT = select(
    func.count(),
    func.min(CalendarDay.day),
    func.max(CalendarDay.day),
    func.sum(case((CalendarDay.kind == "holiday", 1), else_=0)),
)
REGIONS_FINGERPRINT = select(func.count(), func.max(Region.id), func.max(Region.updated_at))


def work_calendar() -> WorkCalendar:
    """The working calendar from calendar_days, rebuilt when the table changes."""
    cache = _cache("calendar")
    fp = _fingerprint("calendar", CALENDAR_FINGERPRINT)
    if cache.get("fp") != fp:
        rows = db.session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
        holidays = {d for d, kind in rows if kind == "holiday"}
        workdays = {d for d, kind in rows if kind == "workday"}
        with _lock:
            cache["value"] = WorkCalendar(holidays=holidays, makeup_workdays=workdays)
            cache["fp"] = fp
    return cache["value"]


@dataclass(frozen=True)
class RegionShape:
    """A region as routing needs it."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    department_id: int | None
    shape: Any


def region_shapes() -> list[RegionShape]:
    """Active regions with parsed polygons, re-read when the regions table changes."""
    cache = _cache("regions")
    fp = _fingerprint("regions", REGIONS_FINGERPRINT)
    if cache.get("fp") != fp:
        rows = db.session.scalars(select(Region).where(Region.is_active.is_(True))).all()
        value = [
            RegionShape(r.id, r.code, r.name, r.level, r.parent_id, r.department_id,
                        shapes.shape_from_geojson(r.geometry))
            for r in rows
        ]  # fmt: skip
        with _lock:
            cache["value"], cache["fp"] = value, fp
    return cache["value"]


def locate(lat: float, lng: float) -> RegionShape | None:
    """The smallest active region containing a GCJ-02 point."""
    regions = region_shapes()
    key = shapes.smallest_containing([(r, r.shape) for r in regions], lat, lng)
    return key


def district_of(region: RegionShape | None) -> RegionShape | None:
    """The district a region lies in (itself if it is one)."""
    by_id = {r.id: r for r in region_shapes()}
    node = region
    while node is not None and node.level not in ("district", "city"):
        node = by_id.get(node.parent_id)
    return node if node is not None and node.level == "district" else None


def responsible_department(region: RegionShape | None, department_type: str) -> Department | None:
    """The unit handling ``department_type`` for a region: the region's department or a unit
    below it, else the same search one region up (a city-wide utility for a district point)."""
    by_id = {r.id: r for r in region_shapes()}
    node = region
    while node is not None:
        if node.department_id is not None:
            found = _handling_unit(node.department_id, department_type)
            if found is not None:
                return found
        node = by_id.get(node.parent_id)
    return None


def _handling_unit(department_id: int, department_type: str) -> Department | None:
    """The department or its nearest active descendant that handles ``department_type``."""
    frontier = [db.session.get(Department, department_id)]
    while frontier:
        for dept in frontier:
            if dept is not None and dept.is_active and department_type in dept.handled_types:
                return dept
        ids = [d.id for d in frontier if d is not None]
        frontier = list(
            db.session.scalars(
                select(Department)
                .where(Department.parent_id.in_(ids), Department.is_active.is_(True))
                .order_by(Department.id)
            )
        )
    return None


def due_time(start: datetime, category: Category) -> datetime:
    """When a case dispatched at ``start`` is due, on the working calendar."""
    return work_calendar().due_at(start, category.time_limit, category.time_unit)
