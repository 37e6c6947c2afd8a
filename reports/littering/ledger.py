"""The reward ledger in integer fen, and the check that proves it balances.

Entry states: waiting_budget -> accrued -> approved -> in_payout -> paid, or cancelled; a payout
that fails or is cancelled puts its entry back to approved. ``check()`` proves the invariants
finance and auditors rely on (``flask rewards check-ledger`` runs it):

1. every fen accrued is paid, pending or cancelled: the sum of non-cancelled entries equals the
   sum of successful payouts plus the entries still owed;
2. no reward is in two live payouts, and none was paid twice;
3. an entry's state agrees with its payouts (paid: exactly one success of the same amount;
   in payout: exactly one live payout; otherwise none live and none successful);
4. every payout pays its entry's amount, and every batch's total is the sum of its entries;
5. only valid reports carry rewards.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from app import audit
from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import Conflict
from app.extensions import db
from reports.littering import notices, rules
from reports.littering.models import (
    LIVE_PAYOUT_STATES,
    EntryState,
    LitteringReport,
    LitteringState,
    Payout,
    PayoutBatch,
    PayoutState,
    RewardEntry,
)

log = logging.getLogger(__name__)


def accrue(report: LitteringReport, rule) -> RewardEntry | None:
    """The reward of a valid first report: accrued, or waiting for budget, or none over a cap
    (the report says which). Call under the rule lock (rules.current_rule(lock=True))."""
    amount = rule.reward_fen
    hit = rules.cap_hit(rule, report.reporter_id, amount)
    if hit is not None:
        report.reward_note = f"有效，{hit.message}，本次不发放奖励"
        return None
    entry = RewardEntry(
        report=report,
        user_id=report.reporter_id,
        amount_fen=amount,
        rule_version=rule.version,
        state=EntryState.WAITING_BUDGET,
    )
    db.session.add(entry)
    _try_accrue(entry, rule)
    report.reward_note = (
        f"奖励{rules.yuan(amount)}元"
        if entry.state == EntryState.ACCRUED
        else f"奖励{rules.yuan(amount)}元，本期奖励预算已用完，将在下期预算中发放"
    )
    db.session.flush()
    return entry


def _try_accrue(entry: RewardEntry, rule) -> bool:
    period = rules.period_key(utcnow(), rule.budget_period)
    left = rules.budget_left(rule, period)
    if left is not None and entry.amount_fen > left:
        return False
    entry.state, entry.budget_period, entry.accrued_at = EntryState.ACCRUED, period, utcnow()
    db.session.flush()
    return True


def accrue_waiting(limit: int = 1000) -> int:
    """Accrue rewards that waited for budget, oldest first, while this period's budget lasts."""
    rule = rules.current_rule(lock=True)
    waiting = db.session.scalars(
        select(RewardEntry)
        .where(RewardEntry.state == EntryState.WAITING_BUDGET)
        .order_by(RewardEntry.id)
        .limit(limit)
    ).all()
    done = 0
    for entry in waiting:
        if not _try_accrue(entry, rule):
            break
        entry.report.reward_note = f"奖励{rules.yuan(entry.amount_fen)}元"
        notices.reward_accrued(entry)
        done += 1
    return done


def live_payout(entry: RewardEntry) -> Payout | None:
    """The payout of this reward that may still pay, if any."""
    return next((p for p in entry.payouts if p.state in LIVE_PAYOUT_STATES), None)


def cancel(entry: RewardEntry, staff: StaffUser, reason: str) -> RewardEntry:
    """Cancel a reward not yet in payout (fraud found later, say); audited."""
    if entry.state not in (EntryState.WAITING_BUDGET, EntryState.ACCRUED, EntryState.APPROVED):
        raise Conflict(f"奖励当前为“{entry.state_label}”，不能取消", code="invalid_transition")
    if entry.batch_id is not None and entry.state == EntryState.ACCRUED:
        raise Conflict("奖励已在待放行批次中，请先撤销该批次", code="in_batch")
    entry.state, entry.cancelled_at, entry.cancel_reason = EntryState.CANCELLED, utcnow(), reason
    db.session.flush()
    audit.record(
        "rewards.cancel",
        "reward_entry",
        entry.id,
        actor=staff,
        reason=reason,
        amount_fen=entry.amount_fen,
    )
    return entry


# ---------------------------------------------------------------- the invariants


@dataclass
class LedgerCheck:
    """What ``check()`` found: totals in fen and every broken invariant in words."""

    accrued_fen: int = 0
    paid_fen: int = 0
    pending_fen: int = 0
    cancelled_fen: int = 0
    entries: int = 0
    payouts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check() -> LedgerCheck:
    """Prove the ledger's invariants (read-only; see the module docstring)."""
    out = LedgerCheck()
    entries = {
        e.id: e
        for e in db.session.execute(
            select(
                RewardEntry.id,
                RewardEntry.state,
                RewardEntry.amount_fen,
                RewardEntry.batch_id,
                RewardEntry.report_id,
            )
        ).all()
    }
    by_entry: dict[int, list] = defaultdict(list)
    payouts = db.session.execute(
        select(
            Payout.id,
            Payout.entry_id,
            Payout.state,
            Payout.amount_fen,
            Payout.live_entry_id,
            Payout.out_bill_no,
        )
    ).all()
    for p in payouts:
        by_entry[p.entry_id].append(p)
        if p.entry_id not in entries:
            out.problems.append(f"payout {p.out_bill_no} pays unknown entry {p.entry_id}")
    out.entries, out.payouts = len(entries), len(payouts)
    for e in entries.values():
        _check_entry(e, by_entry.get(e.id, []), out)
    _check_batches(entries, out)
    _check_reports(out)
    success = sum(p.amount_fen for p in payouts if p.state == PayoutState.SUCCESS)
    if out.accrued_fen != success + out.pending_fen:
        out.problems.append(
            f"accrued {out.accrued_fen} fen != paid {success} + pending {out.pending_fen}"
        )
    return out


def _check_entry(e, payouts: list, out: LedgerCheck) -> None:
    state = EntryState(e.state)
    live = [p for p in payouts if PayoutState(p.state) in LIVE_PAYOUT_STATES]
    paid = [p for p in payouts if p.state == PayoutState.SUCCESS]
    if state == EntryState.CANCELLED:
        out.cancelled_fen += e.amount_fen
    else:
        out.accrued_fen += e.amount_fen
        if state == EntryState.PAID:
            out.paid_fen += e.amount_fen
        else:
            out.pending_fen += e.amount_fen
    if len(live) > 1:
        out.problems.append(f"entry {e.id} is in {len(live)} live payouts")
    if len(paid) > 1:
        out.problems.append(f"entry {e.id} was paid {len(paid)} times")
    for p in payouts:
        if p.amount_fen != e.amount_fen:
            out.problems.append(
                f"payout {p.out_bill_no} pays {p.amount_fen}, entry owes {e.amount_fen}"
            )
        is_live = PayoutState(p.state) in LIVE_PAYOUT_STATES
        if (p.live_entry_id == e.id) != is_live:
            out.problems.append(f"payout {p.out_bill_no} live marker disagrees with its state")
    expected = {
        EntryState.PAID: (0, 1),
        EntryState.IN_PAYOUT: (1, 0),
    }.get(state, (0, 0))
    if (len(live), len(paid)) != expected:
        out.problems.append(
            f"entry {e.id} is {state.value} with {len(live)} live and "
            f"{len(paid)} successful payouts"
        )


def _check_batches(entries: dict, out: LedgerCheck) -> None:
    totals: dict[int, int] = defaultdict(int)
    for e in entries.values():
        if e.batch_id is not None:
            totals[e.batch_id] += e.amount_fen
    for batch_id, total in db.session.execute(select(PayoutBatch.id, PayoutBatch.total_fen)):
        if totals.get(batch_id, 0) != total:
            out.problems.append(
                f"batch {batch_id} total {total} != its entries {totals.get(batch_id, 0)}"
            )


def _check_reports(out: LedgerCheck) -> None:
    bad = db.session.scalar(
        select(func.count(RewardEntry.id))
        .join(LitteringReport, LitteringReport.id == RewardEntry.report_id)
        .where(LitteringReport.state != LitteringState.VALID)
    )
    if bad:
        out.problems.append(f"{bad} rewards belong to reports that are not valid")
