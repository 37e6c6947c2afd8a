"""The payout worker: sends due transfer bills, queries the ones whose outcome is unknown, and
polls bills waiting for the citizen (the fallback for a callback that never comes).

One payout at a time: take its lease and commit; if it is to be sent, mark ``needs_query`` and
commit BEFORE calling WeChat Pay; call with no transaction open; then lock the row, apply the
answer forward-only (a callback may have moved it meanwhile), drop the lease and commit.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from datetime import timedelta

from flask import current_app

from app.db import commit, utcnow
from app.dbsetup import writer
from app.extensions import db
from reports.littering import payouts
from reports.littering.models import Payout, PayoutState
from wechat.pay import (
    Bill,
    BillNotFound,
    PayError,
    PayRejected,
    PayUnknown,
    TransferClient,
    transfer_client,
)

log = logging.getLogger(__name__)

RETRY_LATER_SECONDS = {"FREQUENCY_LIMITED": 30, "NOT_ENOUGH": 600}


def run_once(limit: int = 50, pay: TransferClient | None = None) -> Counter:
    """Work through the payouts due now; returns counts by outcome."""
    pay = pay or transfer_client()
    counts: Counter = Counter()
    with writer():  # on SQLite, each short transaction takes the write lock as it begins
        ids = payouts.due_ids(limit)
        random.shuffle(ids)  # workers that read the same due list start on different payouts
        commit()  # end the read: no transaction is held while calling WeChat
        for payout_id in ids:
            counts[work(payout_id, pay)] += 1
    return counts


def work(payout_id: int, pay: TransferClient) -> str:
    """One payout: claim, call, apply. Returns the outcome's name."""
    if not payouts.claim(payout_id):
        commit()  # nothing was written; end the transaction
        return "busy"
    commit()
    payout = db.session.get(Payout, payout_id)
    if payout.state == PayoutState.PENDING and not payout.needs_query:
        return _create(payout, pay)
    return _query(payout, pay)


def _create(payout: Payout, pay: TransferClient) -> str:
    payout.needs_query, payout.calls = True, payout.calls + 1
    payout.sent_at = payout.sent_at or utcnow()
    args = dict(
        out_bill_no=payout.out_bill_no,
        openid=payout.openid,
        amount_fen=payout.amount_fen,
        remark=current_app.config["LITTERING_TRANSFER_REMARK"],
        user_name=payout.user_name,
        appid=payout.appid,
        scene_report_infos=SCENE_REPORT,
    )
    payout_id = payout.id
    commit()  # the number is durable, and marked unknown, before WeChat hears of it
    try:
        bill = pay.create_bill(**args)
    except PayError as exc:
        return _after_error(payout_id, exc, creating=True)
    return _after_bill(payout_id, bill, source="create")


def _query(payout: Payout, pay: TransferClient) -> str:
    number, payout_id = payout.out_bill_no, payout.id
    commit()
    try:
        bill = pay.query_bill(number)
    except BillNotFound:
        return _not_found(payout_id, pay)
    except PayError as exc:
        return _after_error(payout_id, exc, creating=False)
    return _after_bill(payout_id, bill, source="query")


def _not_found(payout_id: int, pay: TransferClient) -> str:
    """WeChat does not know the number: it was never created, so it is safe to send it (the
    same number) now, or to fail it for good after a definite rejection."""
    payout = _locked(payout_id)
    if payout.state != PayoutState.PENDING:
        return _release(payout, "moved")
    if payout.last_error and payout.last_error.startswith("rejected:"):
        payouts._finish(payout, PayoutState.FAILED, payout.last_error.split(":", 1)[1][:64])
        return _release(payout, "failed")
    payout.needs_query = False
    return _create(payout, pay)


def _after_bill(payout_id: int, bill: Bill, source: str) -> str:
    payout = _locked(payout_id)
    changed = payouts.apply_bill(
        payout,
        bill.state,
        amount=bill.amount_fen,
        openid=bill.openid,
        transfer_bill_no=bill.transfer_bill_no,
        package_info=bill.package_info,
        fail_reason=bill.fail_reason,
        source=source,
    )
    if payout.state in payouts.FINAL:
        return _release(payout, payout.state.value)
    payout.needs_query = False
    payout.next_attempt_at = payouts._next_poll(payout)
    return _release(payout, "moved" if changed else "unchanged")


def _after_error(payout_id: int, exc: PayError, *, creating: bool) -> str:
    payout = _locked(payout_id)
    payout.last_error = f"{exc.code}: {exc.message}"[:300]
    if isinstance(exc, PayRejected) and creating:
        if exc.retry_later:
            payout.needs_query = False  # definitely not created: send the same number later
            delay = RETRY_LATER_SECONDS.get(exc.code, 60)
        else:
            # Definite, but make sure WeChat holds no bill of this number before failing it.
            payout.last_error = f"rejected:{exc.code}"
            delay = 0
        payout.next_attempt_at = utcnow() + _scaled(delay)
        return _release(payout, exc.code.lower())
    assert isinstance(exc, PayUnknown | PayRejected)
    payout.next_attempt_at = utcnow() + _scaled(min(300, 2 ** min(payout.calls, 8)))
    return _release(payout, "unknown" if isinstance(exc, PayUnknown) else exc.code.lower())


def _scaled(seconds: float) -> timedelta:
    """Retry delays, scaled down for load runs (LITTERING_RETRY_SCALE)."""
    return timedelta(seconds=seconds * current_app.config["LITTERING_RETRY_SCALE"])


def _locked(payout_id: int) -> Payout:
    commit()  # nothing pending (the call happened outside a transaction): a fresh read
    query = db.select(Payout).where(Payout.id == payout_id)
    if db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    return db.session.scalar(query)


def _release(payout: Payout, outcome: str) -> str:
    payout.lease_until = None
    commit()
    log.debug("payout %s: %s", payout.out_bill_no, outcome)
    return outcome


SCENE_REPORT = [
    {"info_type": "活动名称", "info_content": "车窗抛物举报奖励"},
    {"info_type": "奖励说明", "info_content": "有效举报现金奖励"},
]
