"""Demo seed of Open311: one client of the demo city, so the console lists one. Its key is not
printed (issue a new one in the console, 发放新密钥, to try the interface)."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db
from reports.open311 import service
from reports.open311.models import Open311Client

DEMO_CLIENT = {"name": "演示市民应用", "contact": "演示数据（无真实联系人）", "rate_count": 60,
               "rate_period": "minute"}  # fmt: skip


def seed_demo() -> None:
    """Once: the demo client, issued by the demo admin (nothing secret is shown)."""
    if db.session.scalar(select(Open311Client.id).limit(1)) is not None:
        return
    admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    if admin is None:
        return
    service.create_client(DEMO_CLIENT, admin)
