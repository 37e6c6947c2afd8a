"""Reconciliation of the ledger with WeChat Pay's bills, and the monthly report.

``reconcile(day)`` queries every WeChat payout sent or finished on a local day (and every one
still open from before) by its ``out_bill_no`` and lists each difference: a state or amount that
disagrees, a bill WeChat does not know, a query that failed. It changes nothing (the worker's
poller settles bills; finance acts on what is listed) and stores the run for the console.

The monthly report groups in Python: the programme's whole history is a few thousand reports a
year (Xiangtan: 5,630 in five years), read with a date-bounded query.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from app.extensions import db
from reports.littering.models import (
    Channel,
    EntryState,
    LitteringReport,
    LitteringState,
    Payout,
    PayoutState,
    ReconciliationRun,
    RewardEntry,
)
from reports.littering.payouts import FINAL, WECHAT_STATES
from wechat.pay import BillNotFound, PayError, TransferClient

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A local day as UTC instants [start, end)."""
    start = datetime.combine(day, time(0), LOCAL_TZ)
    return start, start + timedelta(days=1)


def reconcile(day: date, pay: TransferClient, actor: str = "system") -> ReconciliationRun:
    """Compare the ledger's WeChat payouts of ``day`` with WeChat's bills; store the run."""
    start, end = day_bounds(day)
    candidates = db.session.scalars(
        select(Payout)
        .where(
            Payout.channel == Channel.WECHAT,
            Payout.sent_at.is_not(None),
            Payout.sent_at < end,
            or_(
                Payout.sent_at >= start,
                and_(Payout.finished_at >= start, Payout.finished_at < end),
                Payout.state.not_in(list(FINAL)),
            ),
        )
        .order_by(Payout.id)
    ).all()
    differences = [d for p in candidates if (d := _compare(p, pay)) is not None]
    run = ReconciliationRun(
        day=day, checked=len(candidates), differences=differences, created_by=actor
    )
    db.session.add(run)
    db.session.flush()
    return run


def _compare(payout: Payout, pay: TransferClient) -> dict[str, Any] | None:
    base = {
        "out_bill_no": payout.out_bill_no,
        "ours": payout.state.value,
        "amount_fen": payout.amount_fen,
    }
    try:
        bill = pay.query_bill(payout.out_bill_no)
    except BillNotFound:
        if payout.state == PayoutState.FAILED and not payout.transfer_bill_no:
            return None  # refused before WeChat made a bill: nothing to compare
        return base | {"kind": "missing_at_wechat", "label": "微信支付无此转账单"}
    except PayError as exc:
        return base | {"kind": "query_failed", "label": f"查询失败：{exc.code}"}
    theirs = WECHAT_STATES.get(bill.state)
    if bill.amount_fen is not None and bill.amount_fen != payout.amount_fen:
        return base | {
            "kind": "amount_differs",
            "label": "金额不一致",
            "wechat": bill.state,
            "wechat_amount_fen": bill.amount_fen,
        }
    if theirs != payout.state:
        return base | {"kind": "state_differs", "label": "状态不一致", "wechat": bill.state}
    return None


def run_view(run: ReconciliationRun) -> dict[str, Any]:
    """A stored run for the console."""
    return {
        "id": run.id,
        "day": run.day.isoformat(),
        "checked": run.checked,
        "differences": run.differences,
        "created_at": run.created_at.isoformat(),
        "created_by": run.created_by,
    }


def _month(at: datetime | None) -> str | None:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m") if at else None


def monthly(year: int | None = None) -> list[dict[str, Any]]:
    """Received, valid (of which duplicates), rewarded (count, fen) and paid (count, fen) by
    local month, newest first; one year or all of them."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reports = select(LitteringReport.created_at, LitteringReport.state)
    entries = select(RewardEntry.created_at, RewardEntry.amount_fen).where(
        RewardEntry.state != EntryState.CANCELLED
    )
    paid = select(Payout.finished_at, Payout.amount_fen).where(Payout.state == PayoutState.SUCCESS)
    if year is not None:
        start = datetime(year, 1, 1, tzinfo=LOCAL_TZ)
        end = datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)
        reports = reports.where(
            LitteringReport.created_at >= start, LitteringReport.created_at < end
        )
        entries = entries.where(RewardEntry.created_at >= start, RewardEntry.created_at < end)
        paid = paid.where(Payout.finished_at >= start, Payout.finished_at < end)
    for created, state in db.session.execute(reports):
        row = rows[_month(created)]
        row["received"] += 1
        if state in (LitteringState.VALID, LitteringState.DUPLICATE):
            row["valid"] += 1
        if state == LitteringState.DUPLICATE:
            row["duplicate"] += 1
    for created, amount in db.session.execute(entries):
        row = rows[_month(created)]
        row["rewarded"] += 1
        row["rewarded_fen"] += amount
    for finished, amount in db.session.execute(paid):
        row = rows[_month(finished)]
        row["paid_count"] += 1
        row["paid_fen"] += amount
    keys = ("received", "valid", "duplicate", "rewarded", "rewarded_fen", "paid_count", "paid_fen")
    return [
        {"month": month} | {k: rows[month].get(k, 0) for k in keys}
        for month in sorted(rows, reverse=True)
    ]
