"""Reference data (regions, categories, working calendar) and cases with their timelines.

A citizen's report IS the case: one row follows it from 上报 to 归档 (GB/T 30428 / CJ/T 315).
Points are stored in GCJ-02, the canonical system (app.geo.coords).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import changes
from app.auth.models import Department, StaffUser, User
from app.db import enum_column, utcnow
from app.extensions import db
from app.geo.models import Region
from app.media.models import Media


class ReportState(enum.StrEnum):
    """Where a case stands. Labels are what people read."""

    REPORTED = "reported"  # 上报: waiting for registration (the triage queue)
    REGISTERED = "registered"  # 立案: waiting for dispatch
    DISPATCHED = "dispatched"  # 派遣: waiting for the department to take it
    IN_PROGRESS = "in_progress"  # 处置中
    HANDLED = "handled"  # 处置完成: waiting for verification (核查)
    CLOSED = "closed"  # 结案
    ARCHIVED = "archived"  # 归档
    REJECTED = "rejected"  # 不予立案
    SUSPENDED = "suspended"  # 挂账
    VOIDED = "voided"  # 作废
    MERGED = "merged"  # merged into another case (the citizen follows that one)

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ReportState.REPORTED: "已上报",
    ReportState.REGISTERED: "已立案",
    ReportState.DISPATCHED: "已派遣",
    ReportState.IN_PROGRESS: "处置中",
    ReportState.HANDLED: "处置完成",
    ReportState.CLOSED: "已结案",
    ReportState.ARCHIVED: "已归档",
    ReportState.REJECTED: "不予立案",
    ReportState.SUSPENDED: "挂账",
    ReportState.VOIDED: "已作废",
    ReportState.MERGED: "已合并",
}

OPEN_STATES = frozenset(
    {
        ReportState.REPORTED,
        ReportState.REGISTERED,
        ReportState.DISPATCHED,
        ReportState.IN_PROGRESS,
        ReportState.HANDLED,
        ReportState.SUSPENDED,
    }
)


class Channel(enum.StrEnum):
    """How a report came in (信息收集 sources)."""

    MINIPROGRAM = "miniprogram"
    MP_H5 = "mp_h5"
    INSPECTOR = "inspector"
    HOTLINE = "hotline"
    MACHINE = "machine"
    MP_CHAT = "mp_chat"  # the public account's conversation (text, photos, location)
    OPINION = "opinion"  # public-opinion watch: a post on an online complaint board
    OPEN311 = "open311"  # a third-party app through the Open311 GeoReport v2 interface

    @property
    def label(self) -> str:
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.MINIPROGRAM: "小程序",
    Channel.MP_H5: "公众号",
    Channel.INSPECTOR: "监督员巡查",
    Channel.HOTLINE: "热线",
    Channel.MACHINE: "智能识别",
    Channel.MP_CHAT: "公众号对话",
    Channel.OPINION: "网络舆情",
    Channel.OPEN311: "Open311",
}


class Attention(enum.StrEnum):
    """Why an open case waits at the top of a queue until someone acts on it."""

    RETURNED = "returned"  # a department returned it (回退): the dispatcher must re-dispatch
    REOPENED = "reopened"  # a dissatisfied citizen asked for it to be handled again
    REDISPATCHED = "redispatched"  # sent on from another department (改派): the new one signs

    @property
    def label(self) -> str:
        return ATTENTION_LABELS[self]


ATTENTION_LABELS = {
    Attention.RETURNED: "被退回",
    Attention.REOPENED: "市民要求重新办理",
    Attention.REDISPATCHED: "改派",
}


class PhotoStage(enum.StrEnum):
    """Which photos: the report's, the handler's after photos, or machine evidence."""

    REPORT = "report"
    AFTER = "after"
    VERIFY = "verify"


class Category(db.Model):
    """A subcategory of the 部件/事件 scheme with its time limit and responsible department type."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # 部件 | 事件
    major_code: Mapped[str] = mapped_column(String(4))
    major_name: Mapped[str] = mapped_column(String(32))
    minor_code: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(64))
    time_limit: Mapped[int] = mapped_column(Integer)
    time_unit: Mapped[str] = mapped_column(String(8))  # hours | days (working)
    department_type: Mapped[str] = mapped_column(String(32))
    photo_required: Mapped[bool] = mapped_column(default=True)
    shop_related: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    # The GB/T 30428.2 class (major + minor, e.g. "0101"); None for a city's own subcategory.
    gb_code: Mapped[str | None] = mapped_column(String(8))
    # What belongs here and what does not, in plain Chinese (the citizen picker's help text).
    definition: Mapped[str | None] = mapped_column(Text)
    # Follow-up questions asked once a citizen picks this category (reports.questions).
    questions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    @property
    def full_name(self) -> str:
        return f"{self.kind}/{self.major_name}/{self.name}"

    @property
    def time_limit_label(self) -> str:
        unit = "个工作时" if self.time_unit == "hours" else "个工作日"
        return f"{self.time_limit}{unit}"


class CalendarDay(db.Model):
    """A public holiday or a make-up working day (调休); other days follow the weekday rule."""

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # holiday | workday
    name: Mapped[str] = mapped_column(String(32), default="")


class DayCounter:
    """Columns of a per-day counter behind human-readable numbers (reports.numbers)."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ReportNumberSequence(DayCounter, db.Model):
    """Per-day counter behind human-readable report numbers (20261121-000123)."""

    __tablename__ = "report_number_sequences"


class Report(db.Model):
    """A citizen's (or inspector's, hotline's, camera's) report and the case it becomes."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_state_department", "state", "department_id"),
        # The console's case lists (reports.queries; docs/benchmarks.md, "Console case lists at
        # 1.34 million cases"): per filter, its cases newest first (id) with the account's scope
        # (department, region) and the other filters, so a page, its count and any filters
        # together are read from one index; the scope by creation time; the flagged to-dos.
        Index("ix_reports_state_list", "state", "id", "department_id", "region_id",
              "district_code", "category_id", "channel"),
        Index("ix_reports_category_list", "category_id", "id", "department_id", "region_id",
              "state", "district_code", "channel"),
        Index("ix_reports_district_list", "district_code", "id", "department_id", "region_id",
              "state", "category_id", "channel"),
        Index("ix_reports_channel_list", "channel", "id", "department_id", "region_id", "state",
              "district_code", "category_id"),
        Index("ix_reports_scope", "department_id", "created_at", "region_id"),
        Index("ix_reports_attention_scope", "attention", "department_id", "region_id"),
        Index("ix_reports_state_due", "state", "due_at"),
        Index("ix_reports_lat_lng", "lat", "lng"),
        # Covering indexes for the statistics (docs/benchmarks.md): a year city-wide goes from
        # 35.7 s to 0.23 s at 1.34 million cases, because the table itself is never read.
        Index("ix_reports_stats_registered", "registered_at", "state", "dispatched_at", "due_at",
              "closed_at", "handled_at", "rework_count", "extension_count", "department_id",
              "category_id"),
        # lat, lng: the case heat map counts points per cell from this index alone.
        Index("ix_reports_stats_created", "created_at", "state", "department_id", "category_id",
              "lat", "lng"),
        # The retention purge (reports.privacy): finished cases, untouched since, not purged yet.
        Index("ix_reports_purge", "purged_at", "state", "updated_at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, 16), index=True)
    state: Mapped[ReportState] = mapped_column(enum_column(ReportState, 16))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    contact_phone: Mapped[str | None] = mapped_column(String(20))  # hotline callers; never public

    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Double)  # GCJ-02; None for address-only reports
    lng: Mapped[float | None] = mapped_column(Double)
    coord_sys_in: Mapped[str] = mapped_column(String(8), default="gcj02")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)

    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    citizen_category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    suggested_category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    suggested_confidence: Mapped[float | None] = mapped_column(Double)
    triage_reason: Mapped[str | None] = mapped_column(String(32))
    machine_confidence: Mapped[float | None] = mapped_column(Double)
    # The citizen's answers to the category's follow-up questions, each with the question as
    # asked (reports.questions.answer); urgent when an answer says so (紧急: first in the queues).
    answers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    urgent: Mapped[bool] = mapped_column(default=False, server_default="0")
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)

    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    registered_at: Mapped[datetime | None] = mapped_column(index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(index=True)
    due_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    archived_at: Mapped[datetime | None]
    # When the retention purge removed the case's photos and the reporter's contact details.
    purged_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    rework_count: Mapped[int] = mapped_column(default=0)
    return_count: Mapped[int] = mapped_column(default=0)
    extension_count: Mapped[int] = mapped_column(default=0)
    reopen_count: Mapped[int] = mapped_column(default=0, server_default="0")  # citizen reopens
    # Set by a return, a reopen or a re-dispatch; cleared by the next staff action on the case.
    attention: Mapped[Attention | None] = mapped_column(enum_column(Attention, 16))
    attention_note: Mapped[str | None] = mapped_column(String(500))  # the reason given
    pending_extension: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    suspended_from: Mapped[str | None] = mapped_column(String(16))
    close_reason: Mapped[str | None] = mapped_column(String(32))  # rejection/void reason code

    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    created_by_staff: Mapped[StaffUser | None] = relationship(foreign_keys=[created_by_staff_id])
    category: Mapped[Category | None] = relationship(foreign_keys=[category_id])
    suggested_category: Mapped[Category | None] = relationship(foreign_keys=[suggested_category_id])
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    region: Mapped[Region | None] = relationship()
    merged_into: Mapped[Report | None] = relationship(
        foreign_keys=[merged_into_id], remote_side=[id]
    )
    possible_duplicate: Mapped[Report | None] = relationship(
        foreign_keys=[possible_duplicate_of_id], remote_side=[id]
    )
    photos: Mapped[list[ReportPhoto]] = relationship(
        back_populates="report", order_by="ReportPhoto.position", cascade="all, delete-orphan"
    )
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="report", order_by="TimelineEntry.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now: datetime | None = None) -> bool:
        """Past its due time and not yet handled."""
        if self.due_at is None or self.state not in OPEN_STATES:
            return False
        return (now or utcnow()) > self.due_at and self.state != ReportState.HANDLED


class ReportPhoto(db.Model):
    """A photo attached to a report or to a step of its handling."""

    __tablename__ = "report_photos"
    __table_args__ = (UniqueConstraint("report_id", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"))
    stage: Mapped[PhotoStage] = mapped_column(enum_column(PhotoStage, 8))
    position: Mapped[int] = mapped_column(default=0)
    timeline_entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entries.id"))

    report: Mapped[Report] = relationship(back_populates="photos")
    media: Mapped[Media] = relationship()
    timeline_entry: Mapped[TimelineEntry | None] = relationship(overlaps="photos")


class TimelineEntry(db.Model):
    """One step of a case: who (staff, citizen, system), when, what, note, photos."""

    __tablename__ = "timeline_entries"
    # Counting steps of one kind over a period (reopens, re-dispatches) reads this index alone.
    __table_args__ = (Index("ix_timeline_entries_action_created", "action", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_kind: Mapped[str] = mapped_column(String(8))  # citizen | staff | system
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str | None] = mapped_column(Text)  # staff-only detail
    public_note: Mapped[str | None] = mapped_column(String(500))  # what the citizen reads
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)

    report: Mapped[Report] = relationship(back_populates="timeline")
    actor_staff: Mapped[StaffUser | None] = relationship()
    department: Mapped[Department | None] = relationship()
    # Loaded with the entries, in one query for all of them (a timeline is shown whole).
    photos: Mapped[list[ReportPhoto]] = relationship(
        primaryjoin="ReportPhoto.timeline_entry_id == TimelineEntry.id",
        viewonly=True,
        order_by="ReportPhoto.position",
        lazy="selectin",
    )


class OutboxStatus(enum.StrEnum):
    """Delivery state of an outbox message."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up (quota, permanent error or too many attempts)
    SKIPPED = "skipped"  # not sent: the citizen has not allowed it (no subscribe consent left)


class OutboxMessage(db.Model):
    """Work that must survive a crash, written in the transaction of the change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # wechat_subscribe
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus, 8))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    errcode: Mapped[int | None]
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The channel a wechat_notice went by: subscribe | template | custom (issue 15, reports/notify)
    via: Mapped[str | None] = mapped_column(String(16))


class IngestDevice(db.Model):
    """A camera or patrol vehicle allowed to post detections; only its key's SHA-256 is kept."""

    __tablename__ = "ingest_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]


CALENDAR_TOPIC = "calendar"
changes.watch(CALENDAR_TOPIC, CalendarDay)
