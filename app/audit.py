"""Audit log of staff actions: who did what to which object, from where, in which request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


class AuditLog(db.Model):
    """One staff action. Rows are only ever inserted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    actor_label: Mapped[str] = mapped_column(String(64))  # username, or "cli" / "system"
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))


def record(
    action: str,
    object_type: str,
    object_id: Any,
    *,
    actor: Any = None,
    actor_label: str | None = None,
    **detail: Any,
) -> AuditLog:
    """Add an audit row to the current transaction (the caller's commit makes it durable)."""
    entry = AuditLog(
        actor_staff_id=getattr(actor, "id", None),
        actor_label=actor_label or getattr(actor, "username", None) or "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        ip=request.remote_addr if has_request_context() else None,
        request_id=getattr(g, "request_id", None) if has_request_context() else None,
    )
    db.session.add(entry)
    return entry
