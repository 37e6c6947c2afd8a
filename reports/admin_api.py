"""Reference data as admins edit it (categories, departments, regions, working calendar) and the
public category list citizens pick from.

Admin routes live under /api/v1/admin and need the admin role; each write is audited.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import DATE_PATTERN, MAX_DATE, MIN_DATE, document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import ValidationFailed
from app.extensions import limiter
from app.geo.importer import ImportOptions
from app.geo.models import Region
from app.ratelimits import public_limit
from reports import admin_service as service
from reports.admin_schemas import (
    CalendarDayIn,
    CalendarDayOut,
    CalendarYearArgs,
    CalendarYearOut,
    CategoryCreateIn,
    CategoryListArgs,
    CategoryOut,
    CategoryUpdateIn,
    DepartmentAdminOut,
    DepartmentCreateIn,
    DepartmentNodeOut,
    DepartmentUpdateIn,
    PublicCategoryOut,
    RegionDetailOut,
    RegionFileIn,
    RegionImportForm,
    RegionImportIn,
    RegionImportOut,
    RegionListArgs,
    RegionOut,
    RegionUpdateIn,
)

blp = Blueprint(
    "reference_admin",
    __name__,
    url_prefix="/api/v1",
    description="基础数据：问题分类、部门、区域、工作日历（管理员维护）",
)

admin_only = staff_required(Role.ADMIN)
MAX_GEOJSON_BYTES = 20 * 1024 * 1024


def region_view(region: Region, with_geometry: bool = False) -> dict[str, Any]:
    """A region as the admin API shows it."""
    view = {
        "id": region.id,
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "parent_id": region.parent_id,
        "department": region.department,
        "bbox": [region.min_lat, region.min_lng, region.max_lat, region.max_lng],
        "area_m2": region.area_m2,
        "source": region.source,
        "source_coord_sys": region.source_coord_sys,
        "is_active": region.is_active,
        "updated_at": region.updated_at,
    }
    if with_geometry:
        view["geometry"] = region.geometry
    return view


# The ``{day}`` of a calendar URL as the spec declares it (the route's converter is a string).
DAY_PARAM = {"in": "path", "name": "day", "description": "YYYY-MM-DD, from 1900 to 2999",
             "schema": {"type": "string", "format": "date", "pattern": DATE_PATTERN}}  # fmt: skip
DAY_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # date.fromisoformat takes 20240101 too


def parse_day(value: str) -> date:
    """A YYYY-MM-DD path segment from 1900 to 2999 (422 otherwise)."""
    try:
        day = date.fromisoformat(value) if DAY_SHAPE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationFailed(fields={"day": ["日期格式应为 YYYY-MM-DD"]})
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationFailed(fields={"day": [f"日期应在 {MIN_DATE} 到 {MAX_DATE} 之间"]})
    return day


# -- public --------------------------------------------------------------------------------------


@blp.route("/categories")
class PublicCategories(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, PublicCategoryOut(many=True))
    @document_errors(blp, 429)
    def get(self):
        """Active problem categories, for citizens choosing what to report (no sign-in)."""
        return service.list_categories(active=True)


# -- categories ----------------------------------------------------------------------------------


@blp.route("/admin/categories")
class AdminCategories(MethodView):
    decorators = [admin_only]

    @blp.arguments(CategoryListArgs, location="query")
    @blp.response(200, CategoryOut(many=True))
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Every category, inactive ones included."""
        return service.list_categories(args.get("active"))

    @blp.arguments(CategoryCreateIn)
    @blp.response(201, CategoryOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a category; 409 if the code exists, 422 if no department handles its type."""
        category = service.create_category(body, staff)
        commit()
        return category


@blp.route("/admin/categories/<int:category_id>")
class AdminCategory(MethodView):
    decorators = [admin_only]

    @blp.arguments(CategoryUpdateIn)
    @blp.response(200, CategoryOut)
    @document_errors(blp, 401, 403, 404, 422)
    def patch(self, body, category_id, staff):
        """Change the time limit, unit, department type, photo rule, active flag, GB/T 30428.2
        code (null for the city's own subcategory) or definition (the citizens' help text).

        Categories are never deleted (reports keep pointing at them): set is_active false.
        """
        category = service.update_category(category_id, body, staff)
        commit()
        return category


# -- departments ---------------------------------------------------------------------------------


@blp.route("/admin/departments")
class AdminDepartments(MethodView):
    decorators = [admin_only]

    @blp.response(200, DepartmentNodeOut(many=True))
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """Every department as a tree (city bureau -> district 城管局 -> units, 街道)."""
        return service.department_tree()

    @blp.arguments(DepartmentCreateIn)
    @blp.response(201, DepartmentAdminOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a department; 409 if the code exists."""
        dept = service.create_department(body, staff)
        commit()
        return service.department_view(dept)


@blp.route("/admin/departments/<int:department_id>")
class AdminDepartment(MethodView):
    decorators = [admin_only]

    @blp.arguments(DepartmentUpdateIn)
    @blp.response(200, DepartmentAdminOut)
    @document_errors(blp, 401, 403, 404, 422)
    def patch(self, body, department_id, staff):
        """Rename, move, change what it handles, or (de)activate a department.

        Departments are never deleted (cases and staff keep pointing at them).
        """
        dept = service.update_department(department_id, body, staff)
        commit()
        return service.department_view(dept)


# -- regions -------------------------------------------------------------------------------------


@blp.route("/admin/regions")
class AdminRegions(MethodView):
    decorators = [admin_only]

    @blp.arguments(RegionListArgs, location="query")
    @blp.response(200, RegionOut(many=True))
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Regions without their polygons (GET one region for its GeoJSON)."""
        return [region_view(r) for r in service.list_regions(**args)]


@blp.route("/admin/regions/import")
class AdminRegionImport(MethodView):
    decorators = [admin_only]

    @blp.doc(requestBody={"content": {"multipart/form-data": {"schema": RegionImportForm}}})
    @blp.arguments(RegionFileIn, location="files")
    @blp.arguments(RegionImportIn, location="form", content_type="multipart/form-data")
    @blp.response(200, RegionImportOut)
    @document_errors(blp, 401, 403, 413, 422)
    def post(self, files, form, staff):
        """Import a GeoJSON FeatureCollection of polygons (multipart: file, level, coord_sys).

        Polygons are converted to GCJ-02 and upserted by code. The whole file is checked first:
        if any feature is bad nothing is written, and the 422 lists each bad feature by its index
        in ``error.fields.features``.
        """
        data = files["file"].read(MAX_GEOJSON_BYTES + 1)
        if len(data) > MAX_GEOJSON_BYTES:
            raise ValidationFailed(fields={"file": ["文件不能超过 20 MB"]})
        result = service.import_region_file(data, ImportOptions(**form), staff)
        commit()
        return {"created": result.created, "updated": result.updated}


@blp.route("/admin/regions/<int:region_id>")
class AdminRegion(MethodView):
    decorators = [admin_only]

    @blp.response(200, RegionDetailOut)
    @document_errors(blp, 401, 403, 404)
    def get(self, region_id, staff):
        """One region with its polygon (GeoJSON MultiPolygon, GCJ-02)."""
        return region_view(service.get_region(region_id), with_geometry=True)

    @blp.arguments(RegionUpdateIn)
    @blp.response(200, RegionOut)
    @document_errors(blp, 401, 403, 404, 422)
    def patch(self, body, region_id, staff):
        """Change the responsible department or (de)activate a region; routing follows at once."""
        region = service.update_region(region_id, body, staff)
        commit()
        return region_view(region)


# -- calendar ------------------------------------------------------------------------------------


@blp.route("/admin/calendar")
class AdminCalendar(MethodView):
    decorators = [admin_only]

    @blp.arguments(CalendarYearArgs, location="query")
    @blp.response(200, CalendarYearOut)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Public holidays and make-up working days of a year (other days: Mon-Fri work)."""
        return {"year": args["year"], "days": service.calendar_year(args["year"])}


@blp.route("/admin/calendar/<string:day>", parameters=[DAY_PARAM])
class AdminCalendarDay(MethodView):
    decorators = [admin_only]

    @blp.arguments(CalendarDayIn)
    @blp.response(200, CalendarDayOut)
    @document_errors(blp, 401, 403, 422)
    def put(self, body, day, staff):
        """Declare a day (YYYY-MM-DD) a public holiday or a weekend make-up working day."""
        row = service.put_calendar_day(parse_day(day), body["kind"], body["name"], staff)
        commit()
        return row

    @blp.response(204)
    @document_errors(blp, 401, 403, 404, 422)
    def delete(self, day, staff):
        """Remove a day's entry; it follows the weekday rule again."""
        service.delete_calendar_day(parse_day(day), staff)
        commit()
