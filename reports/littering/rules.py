"""The programme's rules as data: versions admins add, caps per citizen and the budget per period.

A rule is never edited in place: saving adds a version, and every review decision and reward
records the version it applied. Accruals take the current rule row's lock (``SELECT ... FOR
UPDATE`` on MariaDB; SQLite serialises writers), so two reviewers deciding at once cannot both
spend the last of a budget or of a citizen's monthly cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app import audit
from app.auth.models import StaffUser
from app.db import utcnow
from app.extensions import db
from reports.littering.models import EntryState, RewardEntry, RewardRule

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Defaults of the first version (Xiangtan paid about 59 yuan a valid report; Shenzhen caps a
# citizen at 200 yuan a month).
DEFAULT_RULE: dict[str, Any] = {
    "reward_fen": 5000,
    "cap_day_count": 3,
    "cap_day_fen": None,
    "cap_month_count": None,
    "cap_month_fen": 20000,
    "cap_year_count": None,
    "cap_year_fen": None,
    "budget_period": "month",
    "budget_fen": 5_000_000,
    "dup_window_minutes": 30,
    "dup_radius_m": 500,
    "deadline_hours": 72,
    "region_codes": [],
    "note": "初始规则",
}
RULE_FIELDS = tuple(DEFAULT_RULE)
PERIODS = ("month", "quarter", "year")


def current_rule(*, lock: bool = False) -> RewardRule:
    """The newest rule version (created with the defaults if there is none yet)."""
    query = select(RewardRule).order_by(RewardRule.version.desc()).limit(1)
    if lock and db.session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    rule = db.session.scalar(query)
    if rule is None:
        rule = RewardRule(version=1, **DEFAULT_RULE)
        db.session.add(rule)
        db.session.flush()
    return rule


def latest(query, *, for_update: bool = False):
    """A read that sees every committed row (a locking read on MariaDB), for decisions: a
    repeatable-read snapshot taken earlier in the transaction could miss a reward another
    reviewer committed while this one waited for a lock. ``for_update``: rows about to be
    changed are locked exclusively (two shared locks upgrading would deadlock)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return query  # SQLite's writers are serialised (BEGIN IMMEDIATE): nothing is missed
    return query.with_for_update(read=not for_update)


def rule_by_version(version: int) -> RewardRule | None:
    """One version of the rules."""
    return db.session.scalar(select(RewardRule).where(RewardRule.version == version))


def save_rule(values: dict[str, Any], staff: StaffUser | None) -> RewardRule:
    """Add a version: the current one with ``values`` changed (flushed, audited)."""
    base = current_rule(lock=True)
    data = {name: getattr(base, name) for name in RULE_FIELDS} | {
        k: v for k, v in values.items() if k in RULE_FIELDS
    }
    rule = RewardRule(version=base.version + 1, created_by_id=getattr(staff, "id", None), **data)
    db.session.add(rule)
    db.session.flush()
    audit.record(
        "littering.rule.save",
        "littering_rule",
        rule.version,
        actor=staff,
        changes={k: v for k, v in values.items() if k in RULE_FIELDS},
    )
    return rule


def local(at: datetime) -> datetime:
    """A UTC time in Asia/Shanghai."""
    return at.astimezone(LOCAL_TZ)


def period_key(at: datetime, period: str) -> str:
    """The budget period a time falls in: "2026-12", "2026-Q4" or "2026"."""
    t = local(at)
    if period == "year":
        return f"{t.year}"
    if period == "quarter":
        return f"{t.year}-Q{(t.month - 1) // 3 + 1}"
    return f"{t.year}-{t.month:02d}"


def _period_start(at: datetime, unit: str) -> datetime:
    t = local(at)
    start = {
        "day": t.replace(hour=0, minute=0, second=0, microsecond=0),
        "month": t.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
        "year": t.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
    }[unit]
    return start


@dataclass(frozen=True)
class CapHit:
    """The cap a reward would exceed, as the citizen reads it."""

    unit: str
    message: str


CAP_NAMES = {"day": "当日", "month": "本月", "year": "本年"}


def cap_hit(
    rule: RewardRule, user_id: int, amount: int, now: datetime | None = None
) -> CapHit | None:
    """The first per-citizen cap (count or amount, per day/month/year) this reward would pass."""
    now = now or utcnow()
    live = RewardEntry.state != EntryState.CANCELLED
    for unit in ("day", "month", "year"):
        max_count = getattr(rule, f"cap_{unit}_count")
        max_fen = getattr(rule, f"cap_{unit}_fen")
        if max_count is None and max_fen is None:
            continue
        since = _period_start(now, unit)
        count, total = db.session.execute(
            select(
                func.count(RewardEntry.id), func.coalesce(func.sum(RewardEntry.amount_fen), 0)
            ).where(RewardEntry.user_id == user_id, RewardEntry.created_at >= since, live)
        ).one()
        name = CAP_NAMES[unit]
        if max_count is not None and count + 1 > max_count:
            return CapHit(unit, f"已达{name}奖励次数上限（{max_count}次）")
        if max_fen is not None and total + amount > max_fen:
            return CapHit(unit, f"已达{name}奖励金额上限（{yuan(max_fen)}元）")
    return None


def budget_left(rule: RewardRule, period: str) -> int | None:
    """Fen still to be accrued in ``period`` (None: no budget limit)."""
    if rule.budget_fen is None:
        return None
    spent = db.session.scalar(
        latest(
            select(func.coalesce(func.sum(RewardEntry.amount_fen), 0)).where(
                RewardEntry.budget_period == period, RewardEntry.state != EntryState.CANCELLED
            )
        )
    )
    return rule.budget_fen - int(spent)


def yuan(fen: int | None) -> str:
    """Fen as yuan for people: 5000 -> "50", 5950 -> "59.50"."""
    if fen is None:
        return "-"
    whole, cents = divmod(int(fen), 100)
    return f"{whole}" if cents == 0 else f"{whole}.{cents:02d}"
