"""A 12345 work order as it came in, linked to the case it became."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import utcnow
from app.extensions import db
from reports.models import Report

# The outbox kind of a status push to the platform (reports.models.OutboxMessage).
PUSH_KIND = "hotline_push"


class HotlineOrder(db.Model):
    """One order of the city's 12345 platform (工单): its id there, what it said, the reply
    deadline (答复时限) and the case it became. The pair (platform, order_id) is unique: the
    same order sent again answers the same case."""

    __tablename__ = "hotline_orders"
    __table_args__ = (
        UniqueConstraint("platform", "order_id"),
        # The near-deadline and overdue lists: unanswered orders by deadline.
        Index("ix_hotline_orders_answered_deadline", "answered_at", "reply_deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(64))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), unique=True)
    # SHA-256 of the order's canonical JSON: the same id with another body is refused (409).
    body_sha256: Mapped[str] = mapped_column(String(64))
    category_code: Mapped[str | None] = mapped_column(String(32))  # the platform's
    category_name: Mapped[str | None] = mapped_column(String(64))
    mapped_code: Mapped[str | None] = mapped_column(String(16))  # ours, None: the classifier
    coord_sys: Mapped[str | None] = mapped_column(String(8))  # as the order stated it
    received_at: Mapped[datetime | None]  # when the platform took the call
    reply_deadline: Mapped[datetime]  # 答复时限
    answered_at: Mapped[datetime | None]  # first reply of a result (handled, closed, rejected...)
    push_seq: Mapped[int] = mapped_column(default=0)  # pushes queued so far (their sequence)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the order as received
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship()
