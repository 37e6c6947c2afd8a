"""一店一码 pages: the public shop page a plate's QR opens (``/s/{code}``), and the staff
console's shop registry, one shop (edit, status, plate QR) and the shop heat map.

The public page is served from the same cached lookup as the mini-program's JSON
(shops.lookup) and spends the same per-address budget. The console pages are shells: the shop
filters and the API URLs are rendered here, and the page scripts (``static/shops/``) read and
write through the staff JSON APIs (shops.staff_api, shops.qr_api), which check roles and
department scopes again. The registry needs the dispatcher role, as its API does (admins hold
every role); industries are added and renamed by admins only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, url_for
from sqlalchemy import select

from app.auth.models import Role, StaffUser
from app.console import nav_item, render, staff_page
from app.console.editors import active_options, district_options, editor_page, map_config
from app.extensions import db
from app.geo import api as geo_api
from reports.models import ReportState
from shops import heatmap
from shops.errors import ShopCodeReplaced, ShopCodeUnknown
from shops.lookup import LOOKUP_LIMIT, lookup
from shops.models import Industry, ShopStatus
from shops.service import list_industries

bp = Blueprint("shop_pages", __name__, template_folder="templates",
               static_folder="static/shops", static_url_path="/static/shops")  # fmt: skip

SHOP_ROLES = (Role.ADMIN, Role.DISPATCHER)


# ---------------------------------------------------------------- the public shop page


@bp.get("/s/<code>")
@bp.get("/S/<code>")
@LOOKUP_LIMIT
def shop_page(code: str):
    """The page a plate's QR opens outside the mini-program."""
    found, _ = lookup(code)
    if found.error in (ShopCodeUnknown, ShopCodeReplaced):
        error = found.error
        return render_template("shops/code_error.html", error=error), error.status
    if found.error is not None:
        page = render_template("shops/shop_inactive.html", shop=found.view(), error=found.error)
        return page, found.error.status
    return render_template("shops/shop.html", shop=found.view())


# ---------------------------------------------------------------- console: the registry


def _shop_config() -> dict[str, Any]:
    return {
        "shops": url_for("shops_staff.Shops"),
        "industries": url_for("shops_staff.Industries"),
        "shopPage": url_for("shop_pages.shops") + "/",
        **map_config(),
    }


@nav_item("店铺管理", SHOP_ROLES, order=30, endpoint="shop_pages.shops")
@bp.get("/console/shops")
@staff_page(*SHOP_ROLES)
def shops(staff: StaffUser):
    """Search the shop registry, register a shop, and (admins) edit the industry list."""
    industries = list_industries()
    return editor_page(
        "shops/console/shops.html", staff, _shop_config(),
        industries=industries, industry_options=active_options(industries),
        districts=district_options(),
        statuses=[(s.value, s.label) for s in ShopStatus],
        is_admin=Role.ADMIN in staff.roles,
    )  # fmt: skip


@bp.get("/console/shops/<int:shop_id>")
@staff_page(*SHOP_ROLES)
def shop(staff: StaffUser, shop_id: int):
    """One shop: edit it, change its status, see and reissue its plate QR code."""
    config = _shop_config() | {
        "shop": url_for("shops_staff.ShopOne", shop_id=shop_id),
        "qrPng": url_for("shops_qr.ShopQrImage", shop_id=shop_id, ext="png"),
        "qrSvg": url_for("shops_qr.ShopQrImage", shop_id=shop_id, ext="svg"),
        "reissue": url_for("shops_qr.ShopCodeReissue", shop_id=shop_id),
        "stateLabels": {s.value: s.label for s in ReportState},
    }
    return editor_page("shops/console/shop.html", staff, config, shop_id=shop_id,
                       industry_options=active_options(list_industries()))  # fmt: skip


# ---------------------------------------------------------------- console: the heat map


@nav_item("店铺热力图", order=61, endpoint="shop_pages.heatmap_page")
@bp.get("/console/shops/heatmap")
@staff_page()
def heatmap_page(staff: StaffUser):
    """The staff heat map: shop counts per cell over the district boundaries, in the console
    layout (menu, account, configured tiles)."""
    return render(
        "shops/heatmap.html", staff,
        industries=db.session.execute(
            select(Industry.code, Industry.name).where(Industry.is_active.is_(True))
            .order_by(Industry.code)).all(),
        districts=heatmap.districts(geo_api.boundary_file()),
    )  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
