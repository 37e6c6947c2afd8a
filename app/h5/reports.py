"""The citizen's report pages: report a problem, my reports, one report with its timeline.

The list and the detail are rendered from the same query and presenter functions as
``GET /api/v1/reports`` and ``GET /api/v1/reports/<number>``, so the page shows exactly what the
API returns to this citizen (public timeline, no staff names) and someone else's report is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from sqlalchemy import select

from app.auth.models import User
from app.errors import NotFound
from app.extensions import db
from app.h5 import bp, citizen_page
from reports import present, queries
from reports.models import Category

PER_PAGE = 10
# How a state's tag is coloured: finished well, finished without handling, else still open.
STATE_TONES = {"closed": "ok", "archived": "ok", "rejected": "muted", "voided": "muted",
               "merged": "muted"}  # fmt: skip


def map_config() -> dict[str, str]:
    """What the Leaflet maps need: the configured tiles (if any) and the district boundaries."""
    return {
        "tileUrl": current_app.config.get("MAP_TILE_URL") or "",
        "attribution": current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        "boundaries": url_for("geo.Boundaries"),
    }


@bp.get("/report")
@citizen_page
def report_form(citizen: User):
    """Report a problem: photos, location, description, optional category and shop."""
    shop = shop_binding(request.args.get("shop", "").strip())
    return render_template(
        "h5/report.html",
        shop=shop,
        shop_categories=shop_categories() if shop and shop.get("id") else [],
        map_config=map_config(),
    )


def shop_binding(code: str) -> dict[str, Any] | None:
    """The shop a report opened from a plate's page is about, or why it cannot be bound."""
    if not code:
        return None
    from shops import codes
    from shops.models import CodeStatus, ShopStatus

    found = codes.resolve(code)
    if found is None or found[0].status != CodeStatus.ACTIVE:
        return {"error": "未找到该店铺，或店铺二维码已更换。您仍可上报问题，但不会关联店铺。"}
    plate, shop = found
    if shop.status != ShopStatus.ACTIVE:
        return {"name": shop.name,
                "error": f"该店铺{shop.status.label}，暂不受理针对该店铺的反映。"}  # fmt: skip
    return {"id": shop.id, "name": shop.name, "address": shop.address, "code": plate.code}


def shop_categories() -> list[dict[str, str]]:
    """Categories a citizen may pick for a shop (设施损坏, 卫生脏乱, 店外经营 ...)."""
    rows = db.session.execute(
        select(Category.code, Category.name)
        .where(Category.shop_related.is_(True), Category.is_active.is_(True))
        .order_by(Category.code)
    ).all()
    return [{"code": code, "name": name} for code, name in rows]


@bp.get("/reports")
@citizen_page
def my_reports(citizen: User):
    """My reports, newest first; the script loads further pages from the API."""
    items, total = queries.citizen_reports(citizen, 1, PER_PAGE)
    return render_template(
        "h5/reports.html",
        items=[present.list_item(r) for r in items],
        total=total,
        per_page=PER_PAGE,
        tones=STATE_TONES,
    )


@bp.get("/reports/<number>")
@citizen_page
def report_detail(number: str, citizen: User):
    """One report: state, where, the public timeline, before and after photos, the rating."""
    try:
        report, own = queries.citizen_report(citizen, number)
    except NotFound:
        return render_template(
            "h5/message.html",
            title="未找到该问题",
            text="该问题不存在，或不是您上报的问题。",
        ), 404
    view = present.citizen_view(report, "gcj02", own=own)
    return render_template(
        "h5/report_detail.html",
        r=view,
        own=own,
        shop_name=shop_name(report.shop_id) if own else None,
        comment=report.rating_comment if own else None,
        before=[p for p in view["photos"] if p["stage"] == "report"],
        after=[p for p in view["photos"] if p["stage"] == "after"],
        timeline=list(reversed(view["timeline"])),
        tones=STATE_TONES,
        map_config=map_config(),
        submitted=request.args.get("submitted") == "1",
    )


def shop_name(shop_id: int | None) -> str | None:
    """The name of the shop a report is about (public on the shop's plate page anyway)."""
    if shop_id is None:
        return None
    from shops.service import get_shop_by_id

    shop = get_shop_by_id(shop_id)
    return shop.name if shop else None
