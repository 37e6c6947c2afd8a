"""Human-readable report numbers: the local date and a per-day counter, e.g. 20261121-000123."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.extensions import db
from reports.models import ReportNumberSequence

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def next_report_number(
    now: datetime | None = None, *, sequence: type = ReportNumberSequence, prefix: str = ""
) -> str:
    """Take the next number of the local day. The counter row stays locked until commit, so
    concurrent submissions get distinct, gap-free numbers on MariaDB (and SQLite serialises).
    ``sequence`` is a model with ``day`` and ``last`` (one series of numbers per model)."""
    day = (now or utcnow()).astimezone(LOCAL_TZ).date()
    for _attempt in range(3):
        bumped = db.session.execute(
            update(sequence).where(sequence.day == day).values(last=sequence.last + 1)
        ).rowcount
        if not bumped:
            try:
                with db.session.begin_nested():
                    db.session.add(sequence(day=day, last=1))
            except IntegrityError:
                continue  # another request created today's row first: bump it instead
        last = db.session.scalar(select(sequence.last).where(sequence.day == day))
        return f"{prefix}{day:%Y%m%d}-{last:06d}"
    raise RuntimeError("could not allocate a report number")
