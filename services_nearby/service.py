"""Facilities and their kinds: reading, writing, and the change sequence the nearest-search index
follows.

Every transaction that writes facilities takes one number from the ``facility_sync`` row (an
UPDATE, so the row lock orders writers and numbers grow in commit order) and stamps it on every
facility it writes, through a ``before_flush`` hook for ORM writes and :func:`next_seq` for bulk
Core writes. Taking a number also marks the transaction as writing the ``facilities`` topic of
``app.changes``: its counter is bumped at the commit and the commit is announced to every process
on the host, so every process's index (services_nearby.nearest) reads the change on its next
query.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app import audit, changes
from app.auth.models import StaffUser
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.geo import coords
from services_nearby.models import FACILITIES_TOPIC, Facility, FacilityKind, FacilitySync

log = logging.getLogger(__name__)
KINDS_CSV = Path(__file__).parent / "data" / "kinds.csv"
SEQ_KEY = "facility_seq"


# ---------------------------------------------------------------- the change sequence


def next_seq(session: Session | None = None) -> int:
    """This transaction's change number (taken once per transaction; the first call locks the
    counter row until the transaction ends). The transaction writes the facilities topic."""
    session = session or db.session()
    changes.touch(FACILITIES_TOPIC, session)
    seq = session.info.get(SEQ_KEY)
    if seq is None:
        conn = session.connection()
        bumped = conn.execute(
            update(FacilitySync).where(FacilitySync.id == 1).values(seq=FacilitySync.seq + 1)
        )
        if bumped.rowcount == 0:
            conn.execute(FacilitySync.__table__.insert().values(id=1, seq=1))
        seq = conn.execute(select(FacilitySync.seq).where(FacilitySync.id == 1)).scalar_one()
        session.info[SEQ_KEY] = seq
    return seq


@event.listens_for(Session, "before_flush")
def _stamp_facilities(session: Session, _context: Any, _instances: Any) -> None:
    written = [o for o in (*session.new, *session.dirty) if isinstance(o, Facility)]
    written = [o for o in written if o in session.new or session.is_modified(o)]
    if written:
        seq = next_seq(session)
        for facility in written:
            facility.seq = seq


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(SEQ_KEY, None)


def current_seq(session: Any = None) -> int:
    """The newest committed change number (facility writes and kind edits alike), read through
    ``session`` (``db.session`` by default)."""
    session = session if session is not None else db.session
    counter = session.scalar(select(FacilitySync.seq).where(FacilitySync.id == 1)) or 0
    return max(counter, session.scalar(select(func.max(Facility.seq))) or 0)


# ---------------------------------------------------------------- kinds


def seed_kinds(path: Path = KINDS_CSV) -> int:
    """Create the standard kinds that are missing (code, name, title, OSM tags); how many."""
    existing = set(db.session.scalars(select(FacilityKind.code)))
    added = 0
    with path.open(encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if row["code"] in existing:
                continue
            tags = [t.strip() for t in row["osm_tags"].split(";") if t.strip()]
            db.session.add(FacilityKind(code=row["code"], name=row["name"], title=row["title"],
                                        osm_tags=tags, sort_order=i))  # fmt: skip
            added += 1
    db.session.flush()
    return added


def kinds(active_only: bool = True) -> list[FacilityKind]:
    """Kinds in their display order."""
    query = select(FacilityKind).order_by(FacilityKind.sort_order, FacilityKind.id)
    if active_only:
        query = query.where(FacilityKind.is_active.is_(True))
    return list(db.session.scalars(query))


def create_kind(data: dict[str, Any], staff: StaffUser) -> FacilityKind:
    """Add a kind; 409 kind_exists if the code is taken."""
    if db.session.scalar(select(FacilityKind.id).where(FacilityKind.code == data["code"])):
        raise Conflict("设施类型编码已存在", code="kind_exists")
    last = db.session.scalar(select(func.max(FacilityKind.sort_order)))
    kind = FacilityKind(
        code=data["code"], name=data["name"], title=data.get("title") or data["name"],
        osm_tags=data["osm_tags"], is_active=data.get("is_active", True),
        sort_order=data.get("sort_order", (last or 0) + 1),
    )  # fmt: skip
    db.session.add(kind)
    next_seq()  # the index of every process reloads its kinds
    db.session.flush()
    audit.record("facility_kind.create", "facility_kind", kind.id, actor=staff,
                 code=kind.code, name=kind.name, title=kind.title)  # fmt: skip
    log.info("facility kind %s created by %s", kind.code, staff.username)
    return kind


def update_kind(kind_id: int, data: dict[str, Any], staff: StaffUser) -> FacilityKind:
    """Rename, retag, reorder or (de)activate a kind (kinds are never deleted); 404
    unknown_kind."""
    kind = db.session.get(FacilityKind, kind_id)
    if kind is None:
        raise NotFound("没有这种设施类型", code="unknown_kind")
    changed = {k: v for k, v in data.items() if getattr(kind, k) != v}
    if changed:
        before = {k: getattr(kind, k) for k in changed}
        for key, value in changed.items():
            setattr(kind, key, value)
        next_seq()
        db.session.flush()
        audit.record("facility_kind.update", "facility_kind", kind.id, actor=staff,
                     code=kind.code, before=before, after=changed)  # fmt: skip
        log.info("facility kind %s updated by %s: %s", kind.code, staff.username, sorted(changed))
    return kind


# ---------------------------------------------------------------- placing points


@dataclass(frozen=True)
class Point:
    """One position in both stored systems."""

    lat: float  # GCJ-02
    lng: float
    wgs_lat: float
    wgs_lng: float


def point(lat: Any, lng: Any, coord_sys: str = "gcj02") -> Point:
    """Validate a position given in any supported system; 422 with field errors if it is bad."""
    try:
        system = coords.CoordSys(str(coord_sys).lower())
    except ValueError:
        raise ValidationFailed(
            "坐标系无效", fields={"coord_sys": ["只支持 wgs84、gcj02、bd09"]}
        ) from None
    try:
        lat_f, lng_f = coords.validate(float(lat), float(lng))
    except (TypeError, ValueError):
        raise ValidationFailed(
            "经纬度无效",
            fields={
                "lat": ["纬度应在 -90 到 90 之间"],
                "lng": ["经度应在 -180 到 180 之间"],
            },  # fmt: skip
        ) from None
    g_lat, g_lng = coords.to_canonical(lat_f, lng_f, system)
    w_lat, w_lng = coords.convert(g_lat, g_lng, coords.CANONICAL, coords.CoordSys.WGS84)
    if system == coords.CoordSys.WGS84:
        w_lat, w_lng = lat_f, lng_f  # keep what was measured, not a round trip of it
    return Point(g_lat, g_lng, w_lat, w_lng)


def place(facility: Facility, p: Point, coord_sys: str, district_code: str | None) -> None:
    """Put a facility at a point (and the district found for it)."""
    facility.lat, facility.lng = p.lat, p.lng
    facility.wgs_lat, facility.wgs_lng = p.wgs_lat, p.wgs_lng
    facility.coord_sys_in = str(coord_sys).lower()
    facility.district_code = district_code


def get_facility(facility_id: int) -> Facility:
    """A facility by id; 404 facility_not_found."""
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound("未找到该设施", code="facility_not_found")
    return facility
