"""Payout batches with four eyes, and payouts through WeChat Pay 商家转账 or offline.

The rules that keep money right:

- A finance account prepares a batch of accrued rewards; a DIFFERENT account (finance or admin)
  releases it. Releasing approves the rewards and creates one payout each. Batch and payout
  moves are compare-and-set updates, so a double click or a retry has one effect.
- A payout's ``out_bill_no`` is stored, and committed with ``needs_query`` set, BEFORE WeChat Pay
  is called. After a timeout, a 5xx, SYSTEM_ERROR or any answer we cannot trust, the same number
  is queried first; it is sent again (WeChat treats the same number as the same bill) only when
  WeChat says it does not know it. A new number, linked to the old payout, is made only after a
  confirmed FAIL or CANCELLED.
- ``live_entry_id`` is unique: the database refuses a second live payout of one reward.
- Bill states only move forward (callbacks may come twice or out of order); an amount or openid
  that does not match the ledger is flagged for finance and never applied.
- Workers claim payouts with a lease (a compare-and-set on ``lease_until``), never holding a row
  lock across a WeChat call, so any number of `flask worker` processes may run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from app import audit
from app.auth.models import StaffUser, WechatIdentity
from app.db import utcnow
from app.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from reports.littering import notices, rules
from reports.littering.models import (
    LIVE_PAYOUT_STATES,
    BatchNumberSequence,
    BatchState,
    Channel,
    EntryState,
    Payout,
    PayoutBatch,
    PayoutFlag,
    PayoutState,
    RewardEntry,
)
from reports.numbers import next_report_number

log = logging.getLogger(__name__)

REAL_NAME_FEN = 200_000  # WeChat Pay needs the payee's name from 2,000 yuan
LEASE = timedelta(seconds=60)
CONFIRM_WINDOW = timedelta(hours=24)
POLL_EVERY = timedelta(minutes=30)
RANK = {
    PayoutState.PENDING: 0,
    PayoutState.WAIT_CONFIRM: 1,
    PayoutState.TRANSFERING: 2,
    PayoutState.SUCCESS: 3,
    PayoutState.FAILED: 3,
    PayoutState.CANCELLED: 3,
}
FINAL = (PayoutState.SUCCESS, PayoutState.FAILED, PayoutState.CANCELLED)
WECHAT_STATES = {
    "ACCEPTED": PayoutState.WAIT_CONFIRM,
    "PROCESSING": PayoutState.WAIT_CONFIRM,
    "WAIT_USER_CONFIRM": PayoutState.WAIT_CONFIRM,
    "TRANSFERING": PayoutState.TRANSFERING,
    "CANCELING": PayoutState.TRANSFERING,
    "SUCCESS": PayoutState.SUCCESS,
    "FAIL": PayoutState.FAILED,
    "CANCELLED": PayoutState.CANCELLED,
}


# ---------------------------------------------------------------- batches (four eyes)


def batch_by_key(key: str | None) -> PayoutBatch | None:
    """The batch a retried prepare already made."""
    if not key:
        return None
    return db.session.scalar(select(PayoutBatch).where(PayoutBatch.idempotency_key == key))


def prepare_batch(
    staff: StaffUser,
    channel: Channel,
    entry_ids: list[int] | None = None,
    *,
    limit: int = 500,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> PayoutBatch:
    """Put accrued rewards (the ids given, or the oldest ``limit``) in a new batch to release."""
    key = f"staff:{staff.id}:{idempotency_key}" if idempotency_key else None
    existing = batch_by_key(key)
    if existing is not None:
        return existing
    if entry_ids is None:
        entry_ids = list(
            db.session.scalars(
                select(RewardEntry.id)
                .where(RewardEntry.state == EntryState.ACCRUED, RewardEntry.batch_id.is_(None))
                .order_by(RewardEntry.id)
                .limit(limit)
            )
        )
    entry_ids = sorted(set(entry_ids))
    if not entry_ids:
        raise Conflict("没有可发放的奖励", code="nothing_to_pay")
    batch = PayoutBatch(
        number=_batch_number(),
        idempotency_key=key,
        channel=channel,
        state=BatchState.PREPARED,
        prepared_by=staff,
        note=note,
    )
    db.session.add(batch)
    db.session.flush()
    taken = db.session.execute(
        update(RewardEntry)
        .where(
            RewardEntry.id.in_(entry_ids),
            RewardEntry.state == EntryState.ACCRUED,
            RewardEntry.batch_id.is_(None),
        )
        .values(batch_id=batch.id, version=RewardEntry.version + 1)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if taken != len(entry_ids):
        raise Conflict(
            "部分奖励已不在待发放状态或已在其他批次中，请刷新后重试", code="entries_taken"
        )
    _refresh_totals(batch)
    audit.record(
        "rewards.batch.prepare",
        "payout_batch",
        batch.number,
        actor=staff,
        channel=channel.value,
        count=batch.count,
        total_fen=batch.total_fen,
    )
    return batch


def _batch_number() -> str:
    return next_report_number(sequence=BatchNumberSequence, prefix="PB")


def _refresh_totals(batch: PayoutBatch) -> None:
    rows = (
        db.session.execute(select(RewardEntry.amount_fen).where(RewardEntry.batch_id == batch.id))
        .scalars()
        .all()
    )
    batch.count, batch.total_fen = len(rows), sum(rows)
    db.session.flush()


def release_batch(batch: PayoutBatch, staff: StaffUser) -> PayoutBatch:
    """The second pair of eyes: approve the batch's rewards and create their payouts.
    A repeated release (double click) returns the released batch unchanged."""
    if staff.id == batch.prepared_by_id:
        raise Forbidden("不能放行本人准备的批次（需另一名财务人员或管理员放行）", code="four_eyes")
    now = utcnow()
    won = _move_prepared(batch, state=BatchState.RELEASED, released_by_id=staff.id, released_at=now)
    if not won:
        if batch.state == BatchState.RELEASED:
            return batch
        raise Conflict("该批次已撤销", code="batch_cancelled")
    skipped = 0
    for entry in db.session.scalars(
        select(RewardEntry)
        .where(RewardEntry.batch_id == batch.id, RewardEntry.state == EntryState.ACCRUED)
        .order_by(RewardEntry.id)
    ):
        entry.state, entry.approved_at = EntryState.APPROVED, now
        if _new_payout(entry, batch) is None:
            skipped += 1
    db.session.flush()
    audit.record(
        "rewards.batch.release",
        "payout_batch",
        batch.number,
        actor=staff,
        count=batch.count,
        total_fen=batch.total_fen,
        not_payable=skipped,
    )
    return batch


def cancel_batch(batch: PayoutBatch, staff: StaffUser) -> PayoutBatch:
    """Withdraw a prepared batch: its rewards go back to be batched again."""
    won = _move_prepared(batch, state=BatchState.CANCELLED)
    if not won:
        if batch.state == BatchState.CANCELLED:
            return batch
        raise Conflict("批次已放行，不能撤销", code="batch_released")
    db.session.execute(
        update(RewardEntry)
        .where(RewardEntry.batch_id == batch.id)
        .values(batch_id=None, version=RewardEntry.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    _refresh_totals(batch)
    audit.record("rewards.batch.cancel", "payout_batch", batch.number, actor=staff)
    return batch


def _move_prepared(batch: PayoutBatch, **values: Any) -> bool:
    """Compare-and-set a prepared batch (one of N parallel requests wins); the batch is then
    read again as committed now. True if this request moved it."""
    won = db.session.execute(
        update(PayoutBatch)
        .where(PayoutBatch.id == batch.id, PayoutBatch.state == BatchState.PREPARED)
        .values(version=PayoutBatch.version + 1, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    _reload(batch)
    return bool(won)


def _reload(row) -> None:
    """Read a row again as committed now (a repeatable-read snapshot could be older)."""
    db.session.execute(
        rules.latest(
            select(type(row)).where(type(row).id == row.id), for_update=True
        ).execution_options(populate_existing=True)
    ).scalar_one()


def payable_identity(user_id: int) -> tuple[str, str] | None:
    """(appid, openid) WeChat Pay can transfer to: the citizen's mini-program openid under the
    paying app, else their public-account openid when that app is bound to the merchant too
    (WECHATPAY_H5_APPID; the H5 page confirms through the JSSDK)."""
    cfg = current_app.config
    apps = [a for a in (cfg["WECHATPAY_APPID"], cfg.get("WECHATPAY_H5_APPID")) if a]
    rows = dict(
        db.session.execute(
            select(WechatIdentity.app_id, WechatIdentity.openid).where(
                WechatIdentity.user_id == user_id, WechatIdentity.app_id.in_(apps)
            )
        ).all()
    )
    return next(((app, rows[app]) for app in apps if app in rows), None)


def _new_payout(
    entry: RewardEntry,
    batch: PayoutBatch,
    previous: Payout | None = None,
    channel: Channel | None = None,
) -> Payout | None:
    """One payout of an approved reward, by the batch's channel unless ``channel`` says; None
    (and the reward stays approved, with the reason on it) when WeChat cannot pay it: no openid
    under an app bound to the merchant, or no real name."""
    attempt = len(entry.payouts) + 1
    channel = channel or batch.channel
    if channel == Channel.WECHAT:
        identity = payable_identity(entry.user_id)
        name = entry.report.payee_name
        if identity is None or (entry.amount_fen >= REAL_NAME_FEN and not name):
            entry.cancel_reason = (
                "未绑定可收款的微信账号，请线下发放"
                if identity is None
                else "金额达2000元，需收款人实名"
            )
            return None
        (appid, openid), state, prefix = identity, PayoutState.PENDING, "LT"
    else:
        appid, openid, name = None, None, None
        state, prefix = PayoutState.OFFLINE_PENDING, "LO"
    payout = Payout(
        entry=entry,
        live_entry_id=entry.id,
        batch_id=batch.id,
        channel=channel,
        out_bill_no=f"{prefix}{entry.id:010d}N{attempt:03d}",
        amount_fen=entry.amount_fen,
        openid=openid,
        appid=appid,
        user_name=name if entry.amount_fen >= REAL_NAME_FEN else None,
        state=state,
        previous_id=previous.id if previous else None,
    )
    entry.state, entry.cancel_reason = EntryState.IN_PAYOUT, None
    db.session.add(payout)
    db.session.flush()
    return payout


def retry(entry: RewardEntry, staff: StaffUser, channel: Channel | None = None) -> Payout:
    """Pay an approved reward again after its last payout FAILED or was CANCELLED (confirmed),
    with a new number linked to the old one; or for the first time once it can be paid. It was
    released already (four eyes); ``channel`` offline hands it to bank or cash instead."""
    if entry.state != EntryState.APPROVED:
        raise Conflict(f"奖励当前为“{entry.state_label}”，不能重新发放", code="invalid_transition")
    last = entry.payouts[-1] if entry.payouts else None
    if last is not None and last.state not in (PayoutState.FAILED, PayoutState.CANCELLED):
        raise Conflict("上一笔转账尚未确认失败，不能重新发放", code="payout_live")
    batch = db.session.get(PayoutBatch, entry.batch_id)
    payout = _new_payout(entry, batch, previous=last, channel=channel)
    if payout is None:
        raise Conflict(entry.cancel_reason or "该奖励无法通过微信发放", code="not_payable")
    audit.record(
        "rewards.payout.retry",
        "payout",
        payout.out_bill_no,
        actor=staff,
        previous=last.out_bill_no if last else None,
        channel=payout.channel.value,
    )
    return payout


def record_offline(
    payout: Payout, staff: StaffUser, reference: str, attachment_id: int | None
) -> Payout:
    """Record a bank transfer or cash payment with its reference and voucher scan."""
    if payout.channel != Channel.OFFLINE:
        raise Conflict("仅线下发放可登记", code="not_offline")
    if payout.state == PayoutState.SUCCESS:
        return payout  # a retry of the same record
    if payout.state != PayoutState.OFFLINE_PENDING:
        raise Conflict("该笔发放不在待线下发放状态", code="invalid_transition")
    if not reference.strip():
        raise ValidationFailed(fields={"reference": ["请填写银行流水号或收据编号"]})
    payout.offline_reference, payout.offline_attachment_id = reference.strip(), attachment_id
    payout.recorded_by_id = staff.id
    _finish(payout, PayoutState.SUCCESS, None)
    audit.record(
        "rewards.payout.offline",
        "payout",
        payout.out_bill_no,
        actor=staff,
        reference=payout.offline_reference,
        amount_fen=payout.amount_fen,
    )
    return payout


# ---------------------------------------------------------------- applying WeChat's word


def apply_bill(
    payout: Payout,
    wechat_state: str,
    *,
    amount: int | None = None,
    openid: str | None = None,
    transfer_bill_no: str | None = None,
    package_info: str | None = None,
    fail_reason: str | None = None,
    source: str = "query",
) -> bool:
    """Move a payout to what WeChat says, forward only; a mismatch is flagged, never applied.
    True if the payout changed."""
    if amount is not None and amount != payout.amount_fen:
        return _flag(payout, "amount_mismatch", source, wechat_amount=amount)
    if openid is not None and payout.openid and openid != payout.openid:
        return _flag(payout, "openid_mismatch", source)
    target = WECHAT_STATES.get(wechat_state)
    if target is None:
        log.warning("payout %s: unknown WeChat state %s", payout.out_bill_no, wechat_state)
        return False
    if transfer_bill_no and not payout.transfer_bill_no:
        payout.transfer_bill_no = transfer_bill_no
    if package_info and not payout.package_info:
        payout.package_info = package_info
    current = payout.state
    if current in FINAL:
        if target != current:
            _flag(payout, "final_state_conflict", source, ours=current.value, wechat=wechat_state)
        return False
    if RANK[target] <= RANK[current]:
        return False
    payout.wechat_state, payout.needs_query = wechat_state, False
    if target in FINAL:
        _finish(payout, target, fail_reason)
    else:
        payout.state = target
        payout.next_attempt_at = _next_poll(payout)
        if target == PayoutState.WAIT_CONFIRM:
            notices.to_confirm(payout)
    db.session.flush()
    return True


def _next_poll(payout: Payout) -> datetime:
    """Poll a waiting bill every half hour, and just after its 24 h confirmation window."""
    now = utcnow()
    expiry = (payout.sent_at or now) + CONFIRM_WINDOW + timedelta(minutes=5)
    return min(now + POLL_EVERY, expiry) if now < expiry else now + POLL_EVERY


def _finish(payout: Payout, state: PayoutState, fail_reason: str | None) -> None:
    entry = payout.entry
    payout.state, payout.fail_reason, payout.finished_at = state, fail_reason, utcnow()
    payout.live_entry_id, payout.lease_until = None, None
    if state == PayoutState.SUCCESS:
        entry.state, entry.paid_at = EntryState.PAID, utcnow()
        notices.paid(payout)
    else:
        entry.state = EntryState.APPROVED  # back to "to pay"
        if payout.wechat_state == "FAIL" and _expired(fail_reason):
            notices.expired(payout)
    db.session.flush()


def _expired(fail_reason: str | None) -> bool:
    # OVERDUE_CLOSE: the citizen did not confirm within 24 hours.
    return bool(fail_reason) and any(w in fail_reason.upper() for w in ("OVERDUE", "EXPIRE"))


def _flag(payout: Payout | None, kind: str, source: str, **detail: Any) -> bool:
    db.session.add(
        PayoutFlag(
            payout_id=payout.id if payout else None,
            out_bill_no=payout.out_bill_no if payout else detail.get("out_bill_no"),
            kind=kind,
            detail={"source": source, **detail},
        )
    )
    log.warning("payout %s flagged: %s (%s)", payout.out_bill_no if payout else "-", kind, source)
    db.session.flush()
    return False


def apply_notification(resource: dict[str, Any]) -> None:
    """A verified, decrypted MCHTRANSFER.BILL.FINISHED callback (idempotent; flushes)."""
    number = str(resource.get("out_bill_no") or "")
    query = select(Payout).where(Payout.out_bill_no == number)
    if db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    payout = db.session.scalar(query)
    if payout is None:
        _flag(None, "unknown_bill", "callback", out_bill_no=number[:32])
        return
    apply_bill(
        payout,
        str(resource.get("state") or ""),
        amount=_int(resource.get("transfer_amount")),
        openid=resource.get("openid"),
        transfer_bill_no=resource.get("transfer_bill_no"),
        fail_reason=resource.get("fail_reason"),
        source="callback",
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return -1  # not a number: certainly not our amount


def due_ids(limit: int, now: datetime | None = None) -> list[int]:
    """Payouts a worker should call WeChat about now."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Payout.id)
            .where(
                Payout.state.in_(
                    [PayoutState.PENDING, PayoutState.WAIT_CONFIRM, PayoutState.TRANSFERING]
                ),
                Payout.next_attempt_at <= now,
                or_(Payout.lease_until.is_(None), Payout.lease_until < now),
            )
            .order_by(Payout.next_attempt_at, Payout.id)
            .limit(limit)
        )
    )


def claim(payout_id: int, now: datetime | None = None) -> bool:
    """Take a payout's lease (compare-and-set); the caller commits at once."""
    now = now or utcnow()
    return bool(
        db.session.execute(
            update(Payout)
            .where(
                Payout.id == payout_id,
                Payout.state.in_(list(LIVE_PAYOUT_STATES)),
                or_(Payout.lease_until.is_(None), Payout.lease_until < now),
            )
            .values(lease_until=now + LEASE, version=Payout.version + 1)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def yuan(fen: int) -> str:
    """Fen as yuan."""
    return rules.yuan(fen)
