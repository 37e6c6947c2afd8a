"""Reference data as the workflow needs it: categories, the working calendar, region routing.

The calendar is read into a per-process cache and re-read when the table changes (``app.changes``
topic ``calendar``), so an admin's edit reaches every gunicorn worker without a restart. Points
are placed in regions by the shell's one locator, ``app.geo.regions``.
"""

from __future__ import annotations

import threading
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app import changes
from app.auth.models import Department
from app.extensions import db
from app.geo import regions
from app.geo.regions import RegionShape
from reports.calendar import WorkCalendar
from reports.models import CALENDAR_TOPIC, CalendarDay, Category

_lock = threading.Lock()


def category_by_code(code: str) -> Category | None:
    """An active category by its code."""
    return db.session.scalar(
        select(Category).where(Category.code == code, Category.is_active.is_(True))
    )


def work_calendar() -> WorkCalendar:
    """The working calendar from calendar_days, rebuilt when the table changes."""
    state = current_app.extensions.setdefault(
        "reports_calendar", {"watch": changes.Watch(CALENDAR_TOPIC), "generation": None}
    )
    generation = state["watch"].current()
    if state["generation"] != generation:
        rows = db.session.execute(select(CalendarDay.day, CalendarDay.kind)).all()
        holidays = {d for d, kind in rows if kind == "holiday"}
        workdays = {d for d, kind in rows if kind == "workday"}
        with _lock:
            state["value"] = WorkCalendar(holidays=holidays, makeup_workdays=workdays)
            state["generation"] = generation
    return state["value"]


def responsible_department(region: RegionShape | None, department_type: str) -> Department | None:
    """The unit handling ``department_type`` for a region: the region's department or a unit
    below it, else the same search one region up (a city-wide utility for a district point)."""
    node = region
    while node is not None:
        if node.department_id is not None:
            found = _handling_unit(node.department_id, department_type)
            if found is not None:
                return found
        node = regions.region_by_id(node.parent_id)
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
