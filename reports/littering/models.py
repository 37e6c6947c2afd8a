"""车窗抛物: littering reports, their evidence and review, reward rules, the ledger and payouts.

Money is integer fen. The ledger has one entry per rewarded report; an entry moves
waiting_budget -> accrued -> approved -> in_payout -> paid, or to cancelled, and a failed payout
puts it back to approved. A payout is one transfer attempt with its own ``out_bill_no``, stored
before WeChat Pay is called; ``live_entry_id`` is set while the attempt may still pay and is
unique, so the database itself refuses a second live payout of one reward.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser, User
from app.db import enum_column, utcnow
from app.extensions import db
from app.media.models import Media
from reports.models import DayCounter


class LitteringState(enum.StrEnum):
    """The review outcome of a report."""

    PENDING = "pending"  # 待审核
    VALID = "valid"  # 有效
    INVALID = "invalid"  # 无效
    DUPLICATE = "duplicate"  # 重复: valid, but another citizen reported the car first


STATE_LABELS = {
    LitteringState.PENDING: "待审核",
    LitteringState.VALID: "有效",
    LitteringState.INVALID: "无效",
    LitteringState.DUPLICATE: "重复",
}

INVALID_REASONS = {
    "plate_unreadable": "车牌无法辨认",
    "act_not_visible": "未拍到抛物行为",
    "duplicate": "重复举报",
    "outside_area": "不在奖励范围内",
    "too_late": "超过举报时限",
    "wrong_plate": "车牌号与证据不符",
    "fake_evidence": "证据不实",
    "banned": "举报人已被限制",
    "other": "其他原因",
}


class EntryState(enum.StrEnum):
    """Where one reward stands in the ledger."""

    WAITING_BUDGET = "waiting_budget"  # valid, the period's budget is spent: waits for the next
    ACCRUED = "accrued"  # owed: the reviewer's decision
    APPROVED = "approved"  # released by a second account: may be paid
    IN_PAYOUT = "in_payout"  # a live payout exists
    PAID = "paid"
    CANCELLED = "cancelled"


ENTRY_LABELS = {
    EntryState.WAITING_BUDGET: "等待预算",
    EntryState.ACCRUED: "待发放",
    EntryState.APPROVED: "已批准",
    EntryState.IN_PAYOUT: "发放中",
    EntryState.PAID: "已到账",
    EntryState.CANCELLED: "已取消",
}


class Channel(enum.StrEnum):
    """How a reward is paid."""

    WECHAT = "wechat"  # WeChat Pay 商家转账 to the citizen's wallet
    OFFLINE = "offline"  # bank transfer or cash, recorded with a reference


CHANNEL_LABELS = {Channel.WECHAT: "微信零钱", Channel.OFFLINE: "线下发放"}


class BatchState(enum.StrEnum):
    PREPARED = "prepared"  # 待放行
    RELEASED = "released"  # 已放行
    CANCELLED = "cancelled"


BATCH_LABELS = {
    BatchState.PREPARED: "待放行",
    BatchState.RELEASED: "已放行",
    BatchState.CANCELLED: "已撤销",
}


class PayoutState(enum.StrEnum):
    """One transfer attempt. ``pending``: our number is stored, WeChat's answer is not known."""

    PENDING = "pending"
    WAIT_CONFIRM = "wait_confirm"  # the citizen must confirm receipt
    TRANSFERING = "transfering"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    OFFLINE_PENDING = "offline_pending"  # to be paid by bank or cash


LIVE_PAYOUT_STATES = frozenset(
    {
        PayoutState.PENDING,
        PayoutState.WAIT_CONFIRM,
        PayoutState.TRANSFERING,
        PayoutState.OFFLINE_PENDING,
    }
)

PAYOUT_LABELS = {
    PayoutState.PENDING: "提交中",
    PayoutState.WAIT_CONFIRM: "待用户确认收款",
    PayoutState.TRANSFERING: "转账中",
    PayoutState.SUCCESS: "已到账",
    PayoutState.FAILED: "失败",
    PayoutState.CANCELLED: "已撤销",
    PayoutState.OFFLINE_PENDING: "待线下发放",
}


class LeadState(enum.StrEnum):
    """The enforcement unit's own status of a lead (违法线索)."""

    OPEN = "open"  # 待处理
    FILED = "filed"  # 立案
    PENALIZED = "penalized"  # 处罚
    CLOSED = "closed"  # 结案


LEAD_LABELS = {
    LeadState.OPEN: "待处理",
    LeadState.FILED: "已立案",
    LeadState.PENALIZED: "已处罚",
    LeadState.CLOSED: "已结案",
}


class RewardRule(db.Model):
    """One version of the programme's rules. Rows are never edited: an edit adds a version."""

    __tablename__ = "littering_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    reward_fen: Mapped[int]
    cap_day_count: Mapped[int | None]
    cap_day_fen: Mapped[int | None]
    cap_month_count: Mapped[int | None]
    cap_month_fen: Mapped[int | None]
    cap_year_count: Mapped[int | None]
    cap_year_fen: Mapped[int | None]
    budget_period: Mapped[str] = mapped_column(String(8), default="month")  # month|quarter|year
    budget_fen: Mapped[int | None]  # None: no budget limit
    dup_window_minutes: Mapped[int] = mapped_column(default=30)
    dup_radius_m: Mapped[int] = mapped_column(default=500)
    deadline_hours: Mapped[int] = mapped_column(default=72)
    # Region codes where the programme applies (districts or streets); empty: the whole city.
    region_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class Ban(db.Model):
    """A ban-list entry: a citizen, a device or an address whose reports are flagged."""

    __tablename__ = "littering_bans"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # user | device | ip
    value: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class LitteringNumberSequence(DayCounter, db.Model):
    """Per-day counter behind littering report numbers (CC20261201-000123)."""

    __tablename__ = "littering_number_sequences"


class BatchNumberSequence(DayCounter, db.Model):
    """Per-day counter behind payout batch numbers (PB20261201-000001)."""

    __tablename__ = "payout_batch_sequences"


class LitteringReport(db.Model):
    """A citizen's report of rubbish thrown from a vehicle, with its evidence and review."""

    __tablename__ = "littering_reports"
    __table_args__ = (
        Index("ix_littering_reports_plate_time", "plate", "occurred_at"),
        Index("ix_littering_reports_state_created", "state", "created_at"),
        Index("ix_littering_reports_reporter_created", "reporter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_ip: Mapped[str | None] = mapped_column(String(45), index=True)
    plate: Mapped[str] = mapped_column(String(10))
    plate_colour: Mapped[str] = mapped_column(String(16))
    vehicle_type: Mapped[str | None] = mapped_column(String(16))
    vehicle_colour: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(Double)
    lng: Mapped[float | None] = mapped_column(Double)
    coord_sys_in: Mapped[str] = mapped_column(String(8), default="gcj02")
    address: Mapped[str | None] = mapped_column(String(200))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    # The citizen's real name, asked only where WeChat Pay requires it (2,000 yuan and more).
    payee_name: Mapped[str | None] = mapped_column(String(32))
    ocr_suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    state: Mapped[LitteringState] = mapped_column(
        enum_column(LitteringState, 12), default=LitteringState.PENDING
    )
    invalid_reason: Mapped[str | None] = mapped_column(String(32))
    review_note: Mapped[str | None] = mapped_column(String(500))
    reward_note: Mapped[str | None] = mapped_column(String(200))
    rule_version: Mapped[int | None]
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("littering_reports.id", ondelete="SET NULL"), index=True
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the retention purge removed its evidence photos and the reporter's device details.
    purged_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    reporter: Mapped[User] = relationship()
    reviewed_by: Mapped[StaffUser | None] = relationship()
    evidence: Mapped[list[Evidence]] = relationship(
        order_by="Evidence.position", cascade="all, delete-orphan", lazy="selectin"
    )
    entry: Mapped[RewardEntry | None] = relationship(back_populates="report", uselist=False)
    lead: Mapped[Lead | None] = relationship(back_populates="report", uselist=False)

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


class Evidence(db.Model):
    """A photo or the video of a report, in the citizen's order."""

    __tablename__ = "littering_evidence"
    __table_args__ = (UniqueConstraint("report_id", "media_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("littering_reports.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(default=0)

    media: Mapped[Media] = relationship(lazy="joined")


class RewardEntry(db.Model):
    """One reward owed to a citizen for one valid report (fen)."""

    __tablename__ = "reward_entries"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="positive_amount"),
        Index("ix_reward_entries_state_id", "state", "id"),
        Index("ix_reward_entries_user_accrued", "user_id", "accrued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("littering_reports.id", ondelete="RESTRICT"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount_fen: Mapped[int]
    rule_version: Mapped[int]
    state: Mapped[EntryState] = mapped_column(enum_column(EntryState, 16))
    # The budget period it counts against ("2026-12", "2026-Q4", "2026"), once accrued.
    budget_period: Mapped[str | None] = mapped_column(String(8), index=True)
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("payout_batches.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accrued_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    report: Mapped[LitteringReport] = relationship(back_populates="entry")
    user: Mapped[User] = relationship()
    batch: Mapped[PayoutBatch | None] = relationship(back_populates="entries")
    payouts: Mapped[list[Payout]] = relationship(back_populates="entry", order_by="Payout.id")

    @property
    def state_label(self) -> str:
        return ENTRY_LABELS[self.state]


class PayoutBatch(db.Model):
    """Rewards a finance account prepared; another account releases them (four eyes)."""

    __tablename__ = "payout_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, 8))
    state: Mapped[BatchState] = mapped_column(enum_column(BatchState, 12))
    total_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    count: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(String(200))
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="RESTRICT"))
    prepared_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="RESTRICT")
    )
    released_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    prepared_by: Mapped[StaffUser] = relationship(foreign_keys=[prepared_by_id])
    released_by: Mapped[StaffUser | None] = relationship(foreign_keys=[released_by_id])
    entries: Mapped[list[RewardEntry]] = relationship(back_populates="batch")


class Payout(db.Model):
    """One attempt to pay one reward: a WeChat Pay transfer bill or an offline payment."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_state_next", "state", "next_attempt_at"),
        CheckConstraint("amount_fen > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("reward_entries.id", ondelete="RESTRICT"), index=True
    )
    # Equal to entry_id while this attempt may still pay; unique: one live payout per reward.
    live_entry_id: Mapped[int | None] = mapped_column(unique=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("payout_batches.id", ondelete="RESTRICT"), index=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, 8))
    out_bill_no: Mapped[str] = mapped_column(String(32), unique=True)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id", ondelete="RESTRICT"))
    amount_fen: Mapped[int]
    openid: Mapped[str | None] = mapped_column(String(64))
    appid: Mapped[str | None] = mapped_column(String(32))  # the app the openid belongs to
    user_name: Mapped[str | None] = mapped_column(String(32))  # only for 2,000 yuan and more
    state: Mapped[PayoutState] = mapped_column(enum_column(PayoutState, 16))
    # True once a create call was sent whose outcome we did not learn: query before anything.
    needs_query: Mapped[bool] = mapped_column(default=False)
    calls: Mapped[int] = mapped_column(default=0)
    transfer_bill_no: Mapped[str | None] = mapped_column(String(64))
    package_info: Mapped[str | None] = mapped_column(Text)
    wechat_state: Mapped[str | None] = mapped_column(String(20))
    fail_reason: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    # Offline payments: the bank or receipt reference and a scan of the voucher.
    offline_reference: Mapped[str | None] = mapped_column(String(64))
    offline_attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("media.id", ondelete="RESTRICT")
    )
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    entry: Mapped[RewardEntry] = relationship(back_populates="payouts")
    batch: Mapped[PayoutBatch] = relationship()
    offline_attachment: Mapped[Media | None] = relationship()

    @property
    def state_label(self) -> str:
        return PAYOUT_LABELS[self.state]


class PayoutFlag(db.Model):
    """Something WeChat Pay said that does not match the ledger: for finance, never applied."""

    __tablename__ = "payout_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int | None] = mapped_column(
        ForeignKey("payouts.id", ondelete="SET NULL"), index=True
    )
    out_bill_no: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # amount_mismatch | openid_mismatch | unknown
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )


class Lead(db.Model):
    """A violation lead for the enforcement unit (违法线索), from a valid report."""

    __tablename__ = "littering_leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("littering_reports.id", ondelete="RESTRICT"), unique=True
    )
    plate: Mapped[str] = mapped_column(String(10), index=True)
    occurred_at: Mapped[datetime]
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    state: Mapped[LeadState] = mapped_column(enum_column(LeadState, 12), default=LeadState.OPEN)
    case_number: Mapped[str | None] = mapped_column(String(40))  # 立案编号
    penalty_fen: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    report: Mapped[LitteringReport] = relationship(back_populates="lead")

    @property
    def state_label(self) -> str:
        return LEAD_LABELS[self.state]


class ReconciliationRun(db.Model):
    """The ledger compared with WeChat Pay's bills for one local day, and every difference."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    checked: Mapped[int] = mapped_column(default=0)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="system")
