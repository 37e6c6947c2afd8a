"""The city's regions: district, street and grid polygons and the department responsible for each.

Regions are the shell's geography: every feature places points in them (``app.geo.regions``) and
scopes staff by them (``app.auth.scope``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import changes
from app.auth.models import Department
from app.db import utcnow
from app.extensions import db


class Region(db.Model):
    """A district, street or grid polygon, and the department responsible for it."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # city | district | street | grid
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)  # GeoJSON, GCJ-02
    source_coord_sys: Mapped[str] = mapped_column(String(8), default="gcj02")
    min_lat: Mapped[float] = mapped_column(Double)
    min_lng: Mapped[float] = mapped_column(Double)
    max_lat: Mapped[float] = mapped_column(Double)
    max_lng: Mapped[float] = mapped_column(Double)
    area_m2: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    department: Mapped[Department | None] = relationship()
    parent: Mapped[Region | None] = relationship(remote_side=[id])


REGIONS_TOPIC = "regions"
changes.watch(REGIONS_TOPIC, Region)
