"""Human-readable report numbers: the local date and a per-day counter, e.g. 20261121-000123."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import utcnow
from app.extensions import db
from reports.models import ReportNumberSequence

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def next_report_number(
    now: datetime | None = None, *, sequence: type = ReportNumberSequence, prefix: str = ""
) -> str:
    """Take the next number of the local day. The counter row stays locked until commit, so
    concurrent submissions get distinct, gap-free numbers on MariaDB (and SQLite serialises).
    ``sequence`` is a model with ``day`` and ``last`` (one series of numbers per model).

    One upsert takes the number: an UPDATE of a day with no row yet would lock the index gap
    on MariaDB (REPEATABLE READ), and the first reports of a day, inserting into that gap
    together, deadlocked (the whole transaction lost, and with it the savepoint)."""
    day = (now or utcnow()).astimezone(LOCAL_TZ).date()
    if db.session.get_bind().dialect.name == "sqlite":
        stmt = sqlite_insert(sequence).values(day=day, last=1)
        stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={"last": sequence.last + 1})
    else:
        stmt = mysql_insert(sequence).values(day=day, last=1)
        stmt = stmt.on_duplicate_key_update(last=stmt.table.c.last + 1)
    db.session.execute(stmt)
    last = db.session.scalar(select(sequence.last).where(sequence.day == day))
    return f"{prefix}{day:%Y%m%d}-{last:06d}"
