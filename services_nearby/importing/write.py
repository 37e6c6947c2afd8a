"""Writing an import's checked values: one batch at a time with Core executemany, upserting by
(source, external_id). Columns a file leaves out keep their stored values; a status set by staff
(removed) is never changed by an import; unchanged rows are not rewritten.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from app.db import utcnow
from app.extensions import db
from services_nearby import service
from services_nearby.importing.records import OPTIONAL, PLACE
from services_nearby.models import Facility, FacilityStatus

COMPARED = ("kind_id", "name", *PLACE, *OPTIONAL)


def write_batch(good: list[dict[str, Any]], source: str) -> tuple[int, int, int]:
    """Insert new and update changed facilities of one batch (one seq); (created, updated,
    unchanged). Existing rows are looked up with one query."""
    if not good:
        return 0, 0, 0
    # The seq first: its row lock makes concurrent importers take turns, so the lookup below
    # sees what the other one committed and both never insert the same external id.
    seq, now = service.next_seq(), utcnow()
    columns = [Facility.id, Facility.external_id, *(getattr(Facility, c) for c in COMPARED)]
    ids = [v["external_id"] for v in good]
    found = db.session.execute(
        select(*columns).where(Facility.source == source, Facility.external_id.in_(ids))
    )
    existing = {r.external_id: r._asdict() for r in found}
    inserts, updates, unchanged = [], defaultdict(list), 0
    new = {"source": source, "seq": seq, "version": 1, "status": FacilityStatus.ACTIVE,
           "created_at": now, "updated_at": now}  # fmt: skip
    for values in good:
        old = existing.get(values["external_id"])
        if old is None:
            inserts.append(OPTIONAL | values | new)
            continue
        given = tuple(sorted(k for k in values if k != "external_id"))
        if all(old[k] == values[k] for k in given):
            unchanged += 1
        else:
            updates[given].append({f"v_{k}": values[k] for k in given} | {"b_id": old["id"]})
    table = Facility.__table__
    if inserts:
        db.session.execute(insert(table), inserts)
    for given, rows in updates.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"v_{k}") for k in given})
            .values(seq=seq, updated_at=now, version=table.c.version + 1)
        )
        db.session.execute(statement, rows)
    return len(inserts), sum(len(rows) for rows in updates.values()), unchanged
