"""Staff shop registry API: search, view, register, edit, suspend/resume/close, industries.

Admins and dispatchers use it; an account tied to a department sees and edits only the shops in
the regions its department is responsible for. Every write is audited (app.audit).
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
from shops import service
from shops.models import Shop
from shops.schemas import (
    IndustryCreateIn,
    IndustryListArgs,
    IndustryOut,
    IndustryUpdateIn,
    ShopCreateIn,
    ShopDetailOut,
    ShopListOut,
    ShopOut,
    ShopSearchArgs,
    ShopUpdateIn,
    StatusChangeIn,
)

blp = Blueprint(
    "shops_staff",
    __name__,
    url_prefix="/api/v1/staff/shops",
    description="一店一码：商户登记册（工作人员）",
)

registry_staff = staff_required(Role.DISPATCHER)  # admins hold every role
admin_only = staff_required(Role.ADMIN)


def shop_view(shop: Shop, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A shop as staff see it (owner data unmasked)."""
    names = regions.district_names() if names is None else names
    view = {c: getattr(shop, c) for c in (
        "id", "name", "industry", "credit_code", "address", "lat", "lng", "coord_sys_in",
        "district_code", "street_region_id", "owner_name", "owner_phone", "business_hours",
        "duties", "source", "version", "created_at", "updated_at",
    )}  # fmt: skip
    view["district_name"] = names.get(shop.district_code or "")
    view["status"], view["status_label"] = shop.status.value, shop.status.label
    return view


def detail_view(shop: Shop) -> dict[str, Any]:
    """A shop with its plate codes and recent reports."""
    return shop_view(shop) | {
        "codes": list(shop.codes),
        "recent_reports": service.recent_reports(shop.id),
    }


@blp.route("")
class Shops(MethodView):
    decorators = [registry_staff]

    @blp.arguments(ShopSearchArgs, location="query")
    @blp.response(200, ShopListOut)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Search shops by name, credit code (prefix), industry, district and status."""
        page, per_page = args.pop("page"), args.pop("per_page")
        items, total = service.search(args, staff, page, per_page)
        names = regions.district_names()
        items = [shop_view(s, names) for s in items]
        return {"items": items, "total": total, "page": page, "per_page": per_page}

    @blp.arguments(ShopCreateIn)
    @blp.response(201, ShopDetailOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Register a shop; district and street come from its location; it gets a plate code."""
        shop = service.create_shop(body, staff)
        commit()
        return detail_view(shop)


@blp.route("/<int:shop_id>")
class ShopOne(MethodView):
    decorators = [registry_staff]

    @blp.response(200, ShopDetailOut)
    @document_errors(blp, 401, 403, 404)
    def get(self, shop_id, staff):
        """One shop with its plate code history and its 10 most recent reports."""
        return detail_view(service.shop_for_staff(shop_id, staff))

    @blp.arguments(ShopUpdateIn)
    @blp.response(200, ShopOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, shop_id, staff):
        """Edit a shop; send the ``version`` you read to get 409 instead of overwriting."""
        shop = service.update_shop(service.shop_for_staff(shop_id, staff), body, staff)
        commit()
        return shop_view(shop)


def _status_route(action: str, summary: str) -> None:
    """POST /<id>/<action> with a reason: suspend, resume or close."""

    @blp.arguments(StatusChangeIn)
    @blp.response(200, ShopOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, shop_id, staff):
        shop = service.shop_for_staff(shop_id, staff)
        service.change_status(shop, action, body["reason"], staff)
        commit()
        return shop_view(shop)

    post.__doc__ = summary
    view = type(f"Shop{action.title()}", (MethodView,), {"post": post})
    view.decorators = [registry_staff]
    blp.route(f"/<int:shop_id>/{action}")(view)


_status_route("suspend", "Suspend a trading shop (暂停营业) with a reason; 409 if not active.")
_status_route("resume", "Resume a suspended shop; 409 if it is not suspended.")
_status_route("close", "Close a shop for good (已关闭) with a reason; 409 if already closed.")


@blp.route("/industries")
class Industries(MethodView):
    @registry_staff
    @blp.arguments(IndustryListArgs, location="query")
    @blp.response(200, IndustryOut(many=True))
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """The industry list (admins also see deactivated ones with active=false)."""
        return service.list_industries(args.get("active"))

    @admin_only
    @blp.arguments(IndustryCreateIn)
    @blp.response(201, IndustryOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add an industry (admin); 409 if the code exists."""
        industry = service.create_industry(body["code"], body["name"], staff)
        commit()
        return industry


@blp.route("/industries/<int:industry_id>")
class IndustryOne(MethodView):
    decorators = [admin_only]

    @blp.arguments(IndustryUpdateIn)
    @blp.response(200, IndustryOut)
    @document_errors(blp, 401, 403, 404, 422)
    def patch(self, body, industry_id, staff):
        """Rename or (de)activate an industry (admin); industries are never deleted."""
        industry = service.update_industry(industry_id, body, staff)
        commit()
        return industry
