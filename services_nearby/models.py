"""Nearby public services: facility kinds (data, editable by admins) and the facilities.

Every write to a facility takes the next number of one counter row (``facility_sync``) in the same
transaction and stores it in the facility's ``seq``. The row lock orders writers, so ``seq`` grows
in commit order and a process that has applied every change up to N finds all later ones with
``seq > N`` (nothing commits "behind" it). Removing a facility is a write too (status ``removed``).
Such a transaction writes the ``facilities`` topic of ``app.changes`` (shared with every process on
the host), which is how the nearest-search indexes learn that they have changes to read.

Parking systems push free spaces through a feed (:class:`FacilityFeed`, a bearer key of which only
the SHA-256 is kept); a facility names the one feed allowed to update it (``feed_id``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Double, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import changes
from app.db import enum_column, utcnow
from app.extensions import db

FACILITIES_TOPIC = "facilities"  # facility writes and kind edits (services_nearby.service.next_seq)


class FacilityStatus(enum.StrEnum):
    """Whether a facility is listed."""

    ACTIVE = "active"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return {"active": "正常", "removed": "已撤销"}[self.value]


class FacilityKind(db.Model):
    """A kind of facility (公厕, 公园, 停车场 ...): data, extensible by admins."""

    __tablename__ = "facility_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    # What citizens open it as, e.g. 找公厕 / 好游园 / 好停车.
    title: Mapped[str] = mapped_column(String(32), default="")
    # OpenStreetMap tags that import as this kind, e.g. ["amenity=toilets"].
    osm_tags: Mapped[list[str]] = mapped_column(db.JSON, default=list)
    sort_order: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class FacilityFeed(db.Model):
    """A machine source of live free spaces (a parking system); only its key's SHA-256 is kept."""

    __tablename__ = "facility_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)


class Facility(db.Model):
    """A public facility. ``lat``/``lng`` are GCJ-02 (the project's canonical system);
    ``wgs_lat``/``wgs_lng`` the same point in WGS-84, on which distances are measured."""

    __tablename__ = "facilities"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_facilities_source_external"),
        Index("ix_facilities_kind_status", "kind_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("facility_kinds.id"))
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float] = mapped_column(Double)  # GCJ-02
    lng: Mapped[float] = mapped_column(Double)
    wgs_lat: Mapped[float] = mapped_column(Double)  # WGS-84
    wgs_lng: Mapped[float] = mapped_column(Double)
    coord_sys_in: Mapped[str] = mapped_column(String(8), default="gcj02")
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    # Opening hours in OpenStreetMap's syntax (subset: 24/7, day ranges, overnight and seasonal
    # month ranges, off); "" when unknown.
    opening_hours: Mapped[str] = mapped_column(String(255), default="")
    fee: Mapped[str] = mapped_column(String(64), default="")  # 免费 / 2元/小时 ...
    accessible: Mapped[bool | None] = mapped_column(default=None)  # wheelchair access
    capacity: Mapped[int | None] = mapped_column(default=None)  # spaces, seats, stalls
    free_spaces: Mapped[int | None] = mapped_column(default=None)  # parking, from the feed
    free_spaces_at: Mapped[datetime | None] = mapped_column(default=None)
    # The only feed allowed to update free_spaces (None: staff only).
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("facility_feeds.id"), index=True)
    status: Mapped[FacilityStatus] = mapped_column(
        enum_column(FacilityStatus, 16), default=FacilityStatus.ACTIVE
    )
    source: Mapped[str] = mapped_column(String(32), default="staff")  # osm|csv|geojson|staff|...
    external_id: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    kind: Mapped[FacilityKind] = relationship()
    feed: Mapped[FacilityFeed | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class FacilitySync(db.Model):
    """One row: the last ``seq`` handed out to a facility write (locked by each writer)."""

    __tablename__ = "facility_sync"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


changes.share(FACILITIES_TOPIC)  # the index answers from memory: every process looks per query
