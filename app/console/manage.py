"""Console management pages: shops, facilities and the admin reference-data editors.

Each page is a shell: the filter options and the API URLs are rendered here, and the page's
script (app/static/console/manage_*.js) reads and writes through the staff/admin JSON APIs, which
check roles and department scopes again. A page's menu roles are the roles its API allows:

* shops: ``/api/v1/staff/shops`` needs the dispatcher role (admins hold every role);
  industries are added and renamed by admins only;
* facilities: every staff account may read ``/api/v1/staff/facilities``; dispatchers and admins
  write, so only they get the add/edit/remove controls;
* categories, departments, regions, calendar: ``/api/v1/admin/...`` is admin only.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from app.auth.models import Role, StaffUser
from app.console import bp, nav_item, staff_page
from app.console.editors import active_options, district_options, editor_page, holds, map_config

SHOP_ROLES = (Role.ADMIN, Role.DISPATCHER)
FACILITY_EDITORS = (Role.ADMIN, Role.DISPATCHER)
ADMIN = (Role.ADMIN,)
# reports.admin_schemas.DEPARTMENT_KINDS with what staff call them
DEPARTMENT_KINDS = (
    ("bureau", "城管局（市级）"), ("district", "区城管局"), ("street", "街道办事处"),
    ("unit", "处置单位"), ("utility", "公用事业单位"),
)  # fmt: skip
# app.geo.importer.LEVELS with their Chinese names
REGION_LEVELS = (("city", "市"), ("district", "区县"), ("street", "街道"), ("grid", "网格"))
# -- shops ---------------------------------------------------------------------------------------


def _shop_config(staff: StaffUser) -> dict[str, Any]:
    return {
        "shops": url_for("shops_staff.Shops"),
        "industries": url_for("shops_staff.Industries"),
        "shopPage": url_for("console_pages.shops") + "/",
        **map_config(),
    }


@nav_item("店铺管理", SHOP_ROLES, order=30)
@bp.get("/shops")
@staff_page(*SHOP_ROLES)
def shops(staff: StaffUser):
    """Search the shop registry, register a shop, and (admins) edit the industry list."""
    from shops.models import ShopStatus
    from shops.service import list_industries

    industries = list_industries()
    return editor_page(
        "console/shops.html", staff, _shop_config(staff),
        industries=industries, industry_options=active_options(industries),
        districts=district_options(),
        statuses=[(s.value, s.label) for s in ShopStatus],
        is_admin=Role.ADMIN in staff.roles,
    )  # fmt: skip


@bp.get("/shops/<int:shop_id>")
@staff_page(*SHOP_ROLES)
def shop(staff: StaffUser, shop_id: int):
    """One shop: edit it, change its status, see and reissue its plate QR code."""
    from reports.models import ReportState
    from shops.service import list_industries

    config = _shop_config(staff) | {
        "shop": url_for("shops_staff.ShopOne", shop_id=shop_id),
        "qrPng": url_for("shops_qr.ShopQrImage", shop_id=shop_id, ext="png"),
        "qrSvg": url_for("shops_qr.ShopQrImage", shop_id=shop_id, ext="svg"),
        "reissue": url_for("shops_qr.ShopCodeReissue", shop_id=shop_id),
        "stateLabels": {s.value: s.label for s in ReportState},
    }
    return editor_page("console/shop.html", staff, config, shop_id=shop_id,
                 industry_options=active_options(list_industries()))  # fmt: skip


# -- facilities ----------------------------------------------------------------------------------


@nav_item("便民设施", order=40)
@bp.get("/facilities")
@staff_page()
def facilities(staff: StaffUser):
    """Search public facilities; dispatchers and admins add, edit, remove and restore them."""
    from services_nearby.models import FacilityStatus
    from services_nearby.service import kinds

    can_edit = holds(staff, FACILITY_EDITORS)
    config = {"facilities": url_for("nearby_staff.Facilities"), "canEdit": can_edit,
              **map_config()}  # fmt: skip
    all_kinds = kinds(active_only=False)
    return editor_page(
        "console/facilities.html", staff, config,
        kinds=all_kinds, kind_options=active_options(all_kinds), districts=district_options(),
        statuses=[(s.value, s.label) for s in FacilityStatus], can_edit=can_edit,
    )  # fmt: skip


# -- admin editors -------------------------------------------------------------------------------


@nav_item("类别管理", ADMIN, order=80)
@bp.get("/admin/categories")
@staff_page(*ADMIN)
def categories(staff: StaffUser):
    """The 部件/事件 category tree: add categories, change limits, routing and flags."""
    config = {"categories": url_for("reference_admin.AdminCategories"),
              "departments": url_for("reference_admin.AdminDepartments")}  # fmt: skip
    return editor_page("console/categories.html", staff, config)


@nav_item("部门管理", ADMIN, order=81)
@bp.get("/admin/departments")
@staff_page(*ADMIN)
def departments(staff: StaffUser):
    """The department tree: add, rename, move, set handled types, deactivate."""
    config = {"departments": url_for("reference_admin.AdminDepartments"),
              "kinds": dict(DEPARTMENT_KINDS)}  # fmt: skip
    return editor_page("console/departments.html", staff, config, kinds=DEPARTMENT_KINDS)


@nav_item("区域管理", ADMIN, order=82)
@bp.get("/admin/regions")
@staff_page(*ADMIN)
def regions(staff: StaffUser):
    """Regions by level: responsible department, active flag, GeoJSON import."""
    config = {
        "regions": url_for("reference_admin.AdminRegions"),
        "importUrl": url_for("reference_admin.AdminRegionImport"),
        "departments": url_for("reference_admin.AdminDepartments"),
        "levels": dict(REGION_LEVELS),
        **map_config(),
    }
    return editor_page("console/regions.html", staff, config, levels=REGION_LEVELS)


@nav_item("工作日历", ADMIN, order=83)
@bp.get("/admin/calendar")
@staff_page(*ADMIN)
def calendar(staff: StaffUser):
    """A month view of public holidays and make-up working days."""
    config = {"calendar": url_for("reference_admin.AdminCalendar")}
    return editor_page("console/calendar.html", staff, config)
