"""Reads shared by the APIs and the pages: lookups that answer 404, the lists with their filters,
paging, and locking reads for rows about to change (so a page shows what the API answers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from app.auth import scope
from app.auth.models import StaffUser
from app.errors import NotFound
from app.extensions import db
from reports.littering import rules
from reports.littering.models import (
    EntryState,
    Lead,
    LeadState,
    LitteringReport,
    LitteringState,
    Payout,
    PayoutBatch,
    PayoutState,
    RewardEntry,
)
from reports.littering.plates import normalize_plate


def page(query: Select, args: dict[str, Any]) -> tuple[list, int]:
    """(rows, total) of one page of a select (``page``, ``per_page`` in ``args``)."""
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.offset((args["page"] - 1) * args["per_page"]).limit(args["per_page"])
    ).all()
    return list(rows), total


def _one(query: Select, message: str, code: str, *, lock: bool = False):
    """The row or 404; ``lock``: read as committed now and locked for the change to come."""
    if lock:
        query = rules.latest(query, for_update=True).execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(message, code=code)
    return row


def report_by_number(number: str) -> LitteringReport:
    """A littering report by number; 404 if there is none."""
    query = select(LitteringReport).where(LitteringReport.number == number)
    return _one(query, "未找到该举报", "report_not_found")


def batch_by_number(number: str) -> PayoutBatch:
    """A batch by number; 404 if there is none."""
    query = select(PayoutBatch).where(PayoutBatch.number == number)
    return _one(query, "发放批次不存在", "batch_not_found")


def entry_by_id(entry_id: int, *, lock: bool = False) -> RewardEntry:
    """A reward entry; 404 if there is none."""
    query = select(RewardEntry).where(RewardEntry.id == entry_id)
    return _one(query, "奖励记录不存在", "reward_not_found", lock=lock)


def payout_by_number(number: str, *, lock: bool = False) -> Payout:
    """A payout by its out_bill_no; 404 if there is none."""
    query = select(Payout).where(Payout.out_bill_no == number)
    return _one(query, "发放记录不存在", "payout_not_found", lock=lock)


def review_queue(state: str | None, plate: str | None) -> Select:
    """Reports by state and plate: the pending queue oldest first, the others newest first."""
    query = select(LitteringReport)
    if state:
        query = query.where(LitteringReport.state == LitteringState(state))
    if plate:
        query = query.where(LitteringReport.plate == normalize_plate(plate))
    oldest_first = state == LitteringState.PENDING.value
    return query.order_by(LitteringReport.id if oldest_first else LitteringReport.id.desc())


def rewards(state: str | None) -> Select:
    """Rewards in a state (all if None), oldest first."""
    query = select(RewardEntry).order_by(RewardEntry.id)
    return query.where(RewardEntry.state == EntryState(state)) if state else query


def payouts(state: str | None) -> Select:
    """Payouts in a state (all if None), newest first."""
    query = select(Payout).order_by(Payout.id.desc())
    return query.where(Payout.state == PayoutState(state)) if state else query


def leads_in_scope(staff: StaffUser, state: str | None = None) -> Select:
    """Leads this account may see: its departments' regions (city-wide accounts see all)."""
    query = select(Lead).join(LitteringReport, LitteringReport.id == Lead.report_id)
    if state:
        query = query.where(Lead.state == LeadState(state))
    query = scope.restrict(query, staff, region=LitteringReport.region_id)
    return query.order_by(Lead.id.desc())
