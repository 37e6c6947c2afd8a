"""车窗抛物 under PIPL (app/privacy.py): what the programme holds about a citizen, erasing it with
the account, and the retention purge of settled reports.

Money records stay for audit (会计档案: accounting records are kept for years by law): rewards
and payouts keep their amounts, states, times, bill numbers and the report they pay for. What
identifies the person goes: the payee's real name and openid on finished payouts, the device id,
address (IP) and real name on the reports. The reports themselves stay as the evidence behind
violation leads (违法线索), which belong to the enforcement unit's own case files.

- Erase: refused (409 ``rewards_unsettled``) while a reward is owed or being paid, since the
  money could no longer reach the citizen; otherwise the fields above are cleared.
- Purge: reviewed reports whose money is settled (no reward, or paid or cancelled) and whose lead
  is closed (or that have none), reviewed more than RETENTION_DAYS ago, lose their evidence
  photos (rows and stored files), OCR readings and the fields above; ``purged_at`` marks them.
  Batches by id (the programme's table is thousands of rows, not millions), each committed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, or_, select, update

from app.auth.models import User
from app.db import utcnow
from app.errors import Conflict
from app.extensions import db
from app.media import privacy as media_privacy
from reports.littering.models import (
    EntryState,
    Evidence,
    Lead,
    LeadState,
    LitteringReport,
    LitteringState,
    Payout,
    PayoutState,
    RewardEntry,
)

log = logging.getLogger(__name__)

SETTLED = (EntryState.PAID, EntryState.CANCELLED)
FINISHED_PAYOUTS = (PayoutState.SUCCESS, PayoutState.FAILED, PayoutState.CANCELLED)
REPORT_FIELDS = {"device_id": None, "client_ip": None, "payee_name": None}


def export(user: User) -> dict[str, Any]:
    """The citizen's 车窗抛物 reports and their rewards."""
    reports = db.session.scalars(
        select(LitteringReport).where(LitteringReport.reporter_id == user.id)
        .order_by(LitteringReport.id)
    )  # fmt: skip
    return {"reports": [_report(r) for r in reports]}


def _report(r: LitteringReport) -> dict[str, Any]:
    entry = r.entry
    return {
        "number": r.number, "plate": r.plate, "occurred_at": r.occurred_at,
        "address": r.address, "lat": r.lat, "lng": r.lng, "description": r.description,
        "state": r.state_label, "payee_name": r.payee_name, "device_id": r.device_id,
        "client_ip": r.client_ip, "created_at": r.created_at,
        "evidence": [e.media.public_id for e in r.evidence],
        "reward": {"amount_fen": entry.amount_fen, "state": entry.state_label,
                   "paid_at": entry.paid_at} if entry else None,
    }  # fmt: skip


def erase(user: User) -> int:
    """Clear what identifies the citizen on their reports and finished payouts; 409 while a
    reward is owed to them or being paid."""
    owed = db.session.scalar(select(exists().where(
        RewardEntry.user_id == user.id, RewardEntry.state.not_in(SETTLED))))  # fmt: skip
    if owed:
        raise Conflict(
            "您还有未到账的车窗抛物举报奖励，请待奖励到账后再注销账号",
            code="rewards_unsettled",
        )
    touched = db.session.execute(
        update(LitteringReport).where(LitteringReport.reporter_id == user.id)
        .values(**REPORT_FIELDS).execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    entries = select(RewardEntry.id).where(RewardEntry.user_id == user.id)
    touched += _clear_payees(entries)
    return touched


def _clear_payees(entry_ids: Any) -> int:
    """Finished payouts of these rewards keep their money and bill numbers, not the payee."""
    return db.session.execute(
        update(Payout)
        .where(Payout.entry_id.in_(entry_ids), Payout.state.in_(FINISHED_PAYOUTS))
        .values(openid=None, user_name=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip


def purge(cutoff: datetime, dry_run: bool) -> int:
    """Purge settled reports reviewed before ``cutoff``, a batch per transaction (the dry run
    counts them). Returns the number of reports."""
    batch, last, total = int(current_app.config["RETENTION_BATCH"]), 0, 0
    while True:
        ids = list(db.session.scalars(
            select(LitteringReport.id)
            .outerjoin(RewardEntry, RewardEntry.report_id == LitteringReport.id)
            .outerjoin(Lead, Lead.report_id == LitteringReport.id)
            .where(LitteringReport.id > last, LitteringReport.purged_at.is_(None),
                   LitteringReport.state != LitteringState.PENDING,
                   LitteringReport.reviewed_at < cutoff,
                   or_(RewardEntry.id.is_(None), RewardEntry.state.in_(SETTLED)),
                   or_(Lead.id.is_(None), Lead.state == LeadState.CLOSED))
            .order_by(LitteringReport.id).limit(batch)
        ))  # fmt: skip
        if not ids:
            return total
        last, total = ids[-1], total + len(ids)
        if not dry_run:
            _purge_batch(ids)


def _purge_batch(ids: list[int]) -> None:
    photos = set(db.session.scalars(select(Evidence.media_id).where(Evidence.report_id.in_(ids))))
    db.session.execute(delete(Evidence).where(Evidence.report_id.in_(ids))
                       .execution_options(synchronize_session=False))  # fmt: skip
    db.session.execute(
        update(LitteringReport).where(LitteringReport.id.in_(ids))
        .values(**REPORT_FIELDS, ocr_suggestions=[], purged_at=utcnow())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    _clear_payees(select(RewardEntry.id).where(RewardEntry.report_id.in_(ids)))
    removed = media_privacy.delete_unreferenced(photos)
    db.session.commit()
    db.session.expire_all()
    log.info("retention: %s littering reports purged (%s photos removed)", len(ids), removed)
