"""What `flask worker` does for rewards each round: accrue rewards that waited for budget, pay
due payouts, and once a day reconcile yesterday with WeChat Pay."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from app.db import commit, utcnow
from app.extensions import db
from reports.littering import ledger, reconcile, rules, worker
from reports.littering.models import EntryState, ReconciliationRun, RewardEntry

log = logging.getLogger(__name__)


def payout_round() -> int:
    """One round; returns how many things were done (0: idle)."""
    done = 0
    if db.session.scalar(
        select(RewardEntry.id).where(RewardEntry.state == EntryState.WAITING_BUDGET).limit(1)
    ):
        done += ledger.accrue_waiting()
        commit()
    counts = worker.run_once()
    done += sum(n for outcome, n in counts.items() if outcome != "busy")
    done += _daily_reconciliation()
    return done


def _daily_reconciliation() -> int:
    """Reconcile yesterday (local) once, after 02:00."""
    now = rules.local(utcnow())
    if now.hour < 2:
        return 0
    day = (now - timedelta(days=1)).date()
    if db.session.scalar(select(ReconciliationRun.id).where(ReconciliationRun.day == day).limit(1)):
        return 0
    run = reconcile.reconcile(day, worker.transfer_client())
    commit()
    log.info("reconciled %s: %s bills, %s differences", day, run.checked, len(run.differences))
    return 1
