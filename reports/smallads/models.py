"""牛皮癣 (illegal small ads): advertisers (one per phone number), the photos that name them, the
SMS notices and reminders sent to them with their delivery receipts, and what staff recorded.

An advertiser moves 待通知 (new) -> 已通知 (notified, a deadline in working days) -> 已销案
(closed: came in and the ads are cleaned), or -> 已移交立案 (escalated: ignored past the deadline,
an enforcement case opened) and then 已销案 too. 到案 and 已清理 are recorded as times.
One SMS row per message we mean to send, with a unique ``dedupe_key`` ("notice:<id>",
"reminder:<id>:<n>"): the database itself refuses a second notice.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser
from app.db import enum_column, utcnow
from app.extensions import db
from app.media.models import Media


class AdvertiserState(enum.StrEnum):
    NEW = "new"
    NOTIFIED = "notified"
    ESCALATED = "escalated"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    AdvertiserState.NEW: "待通知",
    AdvertiserState.NOTIFIED: "已通知待到案",
    AdvertiserState.ESCALATED: "已移交立案",
    AdvertiserState.CLOSED: "已销案",
}
KIND_LABELS = {"mobile": "手机", "landline": "固定电话"}


class SmsState(enum.StrEnum):
    QUEUED = "queued"  # in the outbox
    SENT = "sent"  # accepted by the gateway (BizId), no final receipt yet
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # the receipt says it did not arrive
    FAILED = "failed"  # the gateway refused it, or we gave up

    @property
    def label(self) -> str:
        return SMS_LABELS[self]


SMS_LABELS = {
    SmsState.QUEUED: "待发送",
    SmsState.SENT: "已提交",
    SmsState.DELIVERED: "已送达",
    SmsState.UNDELIVERED: "未送达",
    SmsState.FAILED: "发送失败",
}
SMS_KIND_LABELS = {"notice": "到案通知", "reminder": "催告提醒"}
EVENT_LABELS = {
    "record": "登记号码",
    "notice": "发送到案通知",
    "reminder": "发送催告提醒",
    "appear": "当事人到案",
    "clean": "广告已清理",
    "close": "销案",
    "escalate": "移交执法立案",
    "note": "备注",
}


class Advertiser(db.Model):
    """A phone number found on illegal ads, and the programme's state for it."""

    __tablename__ = "smallads_advertisers"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)  # 13912345678 / 024-12345678
    kind: Mapped[str] = mapped_column(String(10))  # mobile | landline
    state: Mapped[AdvertiserState] = mapped_column(enum_column(AdvertiserState, 16), index=True)
    deadline_at: Mapped[datetime | None]
    appeared_at: Mapped[datetime | None]
    cleaned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    case_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    evidence: Mapped[list[AdEvidence]] = relationship(
        back_populates="advertiser", order_by="AdEvidence.id"
    )


class Capture(db.Model):
    """One photo of ads an inspector took, where, and what OCR suggested on it."""

    __tablename__ = "smallads_captures"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    lat: Mapped[float | None] = mapped_column(Double)
    lng: Mapped[float | None] = mapped_column(Double)
    address: Mapped[str | None] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))  # a case it shows
    suggestions: Mapped[list[Any] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    media: Mapped[Media] = relationship()
    staff: Mapped[StaffUser] = relationship()


class AdEvidence(db.Model):
    """A number read on a capture: the advertiser's evidence."""

    __tablename__ = "smallads_evidence"
    __table_args__ = (UniqueConstraint("capture_id", "advertiser_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("smallads_captures.id"))
    advertiser_id: Mapped[int] = mapped_column(ForeignKey("smallads_advertisers.id"), index=True)
    from_ocr: Mapped[bool] = mapped_column(default=False)  # suggested by OCR, confirmed as read
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    capture: Mapped[Capture] = relationship()
    advertiser: Mapped[Advertiser] = relationship(back_populates="evidence")


class SmsTemplate(db.Model):
    """An SMS template as registered with the gateway (审核通过的模板), editable data."""

    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)  # smallads_notice ...
    name: Mapped[str] = mapped_column(String(64))
    template_code: Mapped[str] = mapped_column(String(32))  # SMS_123456789
    content: Mapped[str] = mapped_column(String(500))  # the text with ${name} variables
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SmsMessage(db.Model):
    """One SMS we send an advertiser (through the outbox), and what became of it."""

    __tablename__ = "smallads_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    advertiser_id: Mapped[int] = mapped_column(ForeignKey("smallads_advertisers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # notice | reminder
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    template_code: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[SmsState] = mapped_column(enum_column(SmsState, 16), index=True)
    biz_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(default=0)
    ambiguous: Mapped[bool] = mapped_column(default=False)  # an attempt's outcome is unknown
    outbox_id: Mapped[int | None]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    receipt_checked_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    receipt_code: Mapped[str | None] = mapped_column(String(64))


class Event(db.Model):
    """The advertiser's log: numbers recorded, messages queued, marks, escalation, closing."""

    __tablename__ = "smallads_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    advertiser_id: Mapped[int] = mapped_column(ForeignKey("smallads_advertisers.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    note: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    staff: Mapped[StaffUser | None] = relationship()
