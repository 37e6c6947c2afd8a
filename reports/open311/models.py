"""Open311 clients (the apps that post through the GeoReport v2 interface, each with its own API
key and rate limit) and the requests they posted, linked to the cases they became."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser
from app.db import utcnow
from app.extensions import db
from reports.models import Report


class Open311Client(db.Model):
    """An app allowed to post service requests. Only the SHA-256 of its API key is kept (the key
    is shown once, when issued); ``key_hint`` (the key's first characters) tells keys apart in
    the console. ``rate_limit`` is a Flask-Limiter string ("60/minute") counted per client."""

    __tablename__ = "open311_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    contact: Mapped[str | None] = mapped_column(String(200))  # staff-only: who runs the app
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(16))
    rate_limit: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )

    created_by: Mapped[StaffUser | None] = relationship()


class Open311Request(db.Model):
    """A service request as posted: which client, the case it became, the token that resolves to
    it (GET /tokens/{token}), and the ``media_url`` the client sent, kept as a link and never
    fetched by the server."""

    __tablename__ = "open311_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_clients.id"), index=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), unique=True
    )
    token: Mapped[str] = mapped_column(String(32), unique=True)
    media_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    client: Mapped[Open311Client] = relationship()
    report: Mapped[Report] = relationship()
