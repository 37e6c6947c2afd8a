"""The staff side of 12345: the orders list by reply deadline (console page) and the 12345工单
block of the case page (a template global the case page includes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint, Flask, current_app, request, url_for

from app.auth.models import Role, StaffUser
from app.console import add_todos, nav_item, render, staff_page
from reports.hotline import service
from reports.hotline.schemas import HotlineListArgs

bp = Blueprint("hotline_pages", __name__, template_folder="templates")

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ROLES = (Role.DISPATCHER, Role.HANDLER, Role.INSPECTOR)
DUE_TABS = (("open", "未答复"), ("near", "即将到期"), ("overdue", "已超期"), ("all", "全部"))
TONES = {"overdue": "danger", "answered_late": "danger", "near": "warn", "answered": "ok"}


def local_time(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


@nav_item("12345工单", (*ROLES, Role.ADMIN), order=17, endpoint="hotline_pages.orders")
@bp.get("/console/hotline")
@staff_page(*ROLES)
def orders(staff: StaffUser):
    """12345 orders in this account's scope by reply deadline (the staff API's list)."""
    try:
        args = HotlineListArgs().load({k: v for k, v in request.args.items()
                                     if k in ("due", "page")})  # fmt: skip
    except ma.ValidationError:
        args = HotlineListArgs().load({})
    items, total = service.staff_orders(staff, args["due"], args["page"], args["per_page"])
    pages = max((total + args["per_page"] - 1) // args["per_page"], 1)
    return render("hotline/orders.html", staff, rows=[service.order_view(o) for o in items],
                  total=total, due=args["due"], tabs=DUE_TABS, page=args["page"], pages=pages,
                  tones=TONES, local_time=local_time,
                  near_hours=current_app.config["HOTLINE_NEAR_HOURS"])  # fmt: skip


def hotline_block(number: str) -> dict[str, Any] | None:
    """What the case page's 12345工单 block shows, or None for a case not from 12345."""
    order = service.order_for_case(number)
    if order is None:
        return None
    view = service.order_view(order)
    view["tone"] = TONES.get(view["deadline_status"], "")
    view["reply_deadline_local"] = local_time(order.reply_deadline)
    view["answered_at_local"] = local_time(order.answered_at)
    view["last_sent_local"] = local_time(view["push"]["last_sent_at"])
    return view


def todo_counts(staff: StaffUser) -> list[dict[str, Any]]:
    """On the console home: 12345 orders of this account's cases due soon or overdue."""
    if not staff.has_role(*ROLES):
        return []
    todos = []
    for due, label, urgent in (("overdue", "12345工单已超期", True),
                               ("near", "12345工单即将到期", False)):  # fmt: skip
        _, count = service.staff_orders(staff, due, 1, 1)
        if count:
            todos.append({"label": label, "count": count, "urgent": urgent,
                          "url": url_for("hotline_pages.orders", due=due)})  # fmt: skip
    return todos


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(hotline_block, "hotline_block")
    add_todos(app, todo_counts)
