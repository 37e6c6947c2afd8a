"""Admin operations on reference data: categories, departments, regions, the working calendar.

Every write is audited with its actor and flushed, never committed (the view commits once).
Region and calendar edits change the fingerprints reports.reference watches, so every worker
process routes and counts deadlines on the new data at its next request.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import extract, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, joinedload

from app import audit
from app.auth.models import Department, StaffUser
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.geo.importer import ImportOptions, ImportResult, import_regions, load_geojson, touch
from app.geo.models import Region
from reports import questions
from reports.models import CalendarDay, Category


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in changes.items()}


def _changed(obj: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` to ``obj``; return {field: [old, new]} for what really changed."""
    diff = {}
    for key, value in changes.items():
        old = getattr(obj, key)
        if old != value:
            diff[key] = [old, value]
            setattr(obj, key, value)
    return diff


def _insert(obj: Any, conflict_message: str) -> None:
    """Add and flush in a savepoint: a concurrent insert of the same code is a 409, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except IntegrityError:
        raise Conflict(conflict_message, code="duplicate_code") from None


# -- categories ----------------------------------------------------------------------------------


def list_categories(active: bool | None = None) -> list[Category]:
    """Categories by code, optionally only active or inactive ones."""
    query = select(Category).order_by(Category.code)
    if active is not None:
        query = query.where(Category.is_active.is_(active))
    return list(db.session.scalars(query))


def _get(model: Any, object_id: Any, message: str) -> Any:
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(message)
    return obj


def _check_department_type(department_type: str | None) -> None:
    """422 unless some active department handles the type (else such cases route nowhere)."""
    if department_type is None:
        return
    handles = db.session.scalars(select(Department.handles).where(Department.is_active.is_(True)))
    if not any(department_type in h.split(",") for h in handles):
        raise ValidationFailed(
            fields={"department_type": [f"没有在用的部门处理类型 {department_type}，请先配置部门"]}
        )


def create_category(data: dict[str, Any], actor: StaffUser) -> Category:
    """Add a category; 409 if the code exists."""
    if db.session.scalar(select(Category.id).where(Category.code == data["code"])):
        raise Conflict(f"分类编码 {data['code']} 已存在", code="duplicate_code")
    _check_department_type(data["department_type"])
    data = _checked_questions(data)
    category = Category(**data)
    _insert(category, f"分类编码 {data['code']} 已存在")
    audit.record("category.create", "category", category.id, actor=actor, **_jsonable(data))
    return category


def _checked_questions(data: dict[str, Any]) -> dict[str, Any]:
    """``questions`` normalised by reports.questions (None or [] clears them)."""
    if "questions" not in data:
        return data
    raw = data["questions"]
    return data | {"questions": questions.check_questions(raw) or None if raw else None}


def update_category(category_id: int, changes: dict[str, Any], actor: StaffUser) -> Category:
    """Change a category's time limit, department type, photo rule or active flag."""
    category = _get(Category, category_id, "分类不存在")
    _check_department_type(changes.get("department_type"))
    diff = _changed(category, _checked_questions(changes))
    db.session.flush()
    if diff:
        audit.record("category.update", "category", category.id, actor=actor, changes=diff)
    return category


# -- departments ---------------------------------------------------------------------------------


def department_view(dept: Department) -> dict[str, Any]:
    """A department as the admin API shows it."""
    return {
        "id": dept.id,
        "code": dept.code,
        "name": dept.name,
        "kind": dept.kind,
        "handles": sorted(dept.handled_types),
        "parent_id": dept.parent_id,
        "is_active": dept.is_active,
    }


def department_tree() -> list[dict[str, Any]]:
    """Every department as a tree (one query), roots and children ordered by code."""
    depts = list(db.session.scalars(select(Department).order_by(Department.code)))
    nodes = {d.id: department_view(d) | {"children": []} for d in depts}
    roots = []
    for d in depts:
        parent = nodes.get(d.parent_id) if d.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[d.id])
    return roots


def _check_parent(dept: Department | None, parent_id: int | None) -> None:
    """422 if the parent does not exist or would put the department below itself."""
    if parent_id is None:
        return
    parent = db.session.get(Department, parent_id)
    if parent is None:
        raise ValidationFailed(fields={"parent_id": ["上级部门不存在"]})
    if dept is not None and dept.id in parent.ancestor_ids():
        raise ValidationFailed(fields={"parent_id": ["上级部门不能是本部门或其下级部门"]})


def create_department(data: dict[str, Any], actor: StaffUser) -> Department:
    """Add a department; 409 if the code exists."""
    if db.session.scalar(select(Department.id).where(Department.code == data["code"])):
        raise Conflict(f"部门编码 {data['code']} 已存在", code="duplicate_code")
    _check_parent(None, data.get("parent_id"))
    values = dict(data, handles=",".join(dict.fromkeys(data.get("handles") or [])))
    dept = Department(**values)
    _insert(dept, f"部门编码 {data['code']} 已存在")
    audit.record("department.create", "department", dept.id, actor=actor, **values)
    return dept


def update_department(dept_id: int, changes: dict[str, Any], actor: StaffUser) -> Department:
    """Rename, move, change what it handles, or (de)activate a department."""
    dept = _get(Department, dept_id, "部门不存在")
    if "parent_id" in changes:
        _check_parent(dept, changes["parent_id"])
    if "handles" in changes:
        changes = dict(changes, handles=",".join(dict.fromkeys(changes["handles"])))
    diff = _changed(dept, changes)
    db.session.flush()
    db.session.expire(dept, ["parent"])
    if diff:
        audit.record("department.update", "department", dept.id, actor=actor, changes=diff)
    return dept


# -- regions -------------------------------------------------------------------------------------


def list_regions(
    level: str | None = None, parent_id: int | None = None, active: bool | None = None
) -> list[Region]:
    """Regions by level and code (polygons not loaded), departments in the same query."""
    query = (
        select(Region)
        .options(defer(Region.geometry), joinedload(Region.department))
        .order_by(Region.level, Region.code)
    )
    if level is not None:
        query = query.where(Region.level == level)
    if parent_id is not None:
        query = query.where(Region.parent_id == parent_id)
    if active is not None:
        query = query.where(Region.is_active.is_(active))
    return list(db.session.scalars(query))


def get_region(region_id: int) -> Region:
    """One region, 404 if unknown."""
    return _get(Region, region_id, "区域不存在")


def update_region(region_id: int, changes: dict[str, Any], actor: StaffUser) -> Region:
    """Change a region's name, responsible department or active flag."""
    region = get_region(region_id)
    if "name" in changes:
        changes = changes | {"name": changes["name"].strip()}
        if not changes["name"]:
            raise ValidationFailed(fields={"name": ["请填写区域名称"]})
    dept_id = changes.get("department_id")
    if dept_id is not None and db.session.get(Department, dept_id) is None:
        raise ValidationFailed(fields={"department_id": ["部门不存在"]})
    diff = _changed(region, changes)
    if diff:
        touch(region)
        audit.record("region.update", "region", region.id, actor=actor, changes=diff)
    db.session.flush()
    db.session.expire(region, ["department"])
    return region


def import_region_file(data: bytes, options: ImportOptions, actor: StaffUser) -> ImportResult:
    """Import an uploaded GeoJSON file (all or nothing) and audit it."""
    result = import_regions(load_geojson(data), options)
    audit.record(
        "region.import", "region", options.level, actor=actor,
        created=result.created, updated=result.updated, source=options.source,
    )  # fmt: skip
    return result


# -- calendar ------------------------------------------------------------------------------------


def calendar_year(year: int) -> list[CalendarDay]:
    """The holidays and make-up working days of one year, by date."""
    query = select(CalendarDay).where(extract("year", CalendarDay.day) == year)
    return list(db.session.scalars(query.order_by(CalendarDay.day)))


def put_calendar_day(day: date, kind: str, name: str, actor: StaffUser) -> CalendarDay:
    """Declare a day a public holiday or a make-up working day (a weekend day only)."""
    if kind == "workday" and day.weekday() < 5:
        raise ValidationFailed(fields={"kind": ["调休上班日必须是周六或周日"]})
    row = db.session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, kind=kind, name=name)
        db.session.add(row)
        diff: dict[str, Any] = {"kind": [None, kind], "name": [None, name]}
    else:
        diff = _changed(row, {"kind": kind, "name": name})
    db.session.flush()
    if diff:
        audit.record("calendar.put", "calendar_day", day.isoformat(), actor=actor, changes=diff)
    return row


def delete_calendar_day(day: date, actor: StaffUser) -> None:
    """Remove a calendar entry: the day follows the weekday rule again."""
    row = _get(CalendarDay, day, "该日期没有节假日或调休设置")
    db.session.delete(row)
    db.session.flush()
    audit.record(
        "calendar.delete",
        "calendar_day",
        day.isoformat(),
        actor=actor,
        kind=row.kind,
        name=row.name,
    )
