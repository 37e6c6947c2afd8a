"""Where a point lies: the ONE point-to-region locator every feature uses.

The active regions are parsed once per process into shapes and re-read when the regions table
changes (``app.changes`` topic ``regions``), so an admin's edit reaches every gunicorn worker
without a restart and no request parses polygons.

- ``locate(lat, lng)``: the smallest region containing a GCJ-02 point (a grid, else a street ...).
- ``district_of(region)`` / ``up(region, level)``: walk up the region tree.
- ``place(lat, lng, coord_sys)``: convert to GCJ-02 and name the district and street, or raise
  ``OutsideCity`` (a shop or a facility must lie in the city when the city has regions).
- ``where(lat, lng, coord_sys)``: the same rule, with the regions themselves (names for people:
  "铁西区 · 兴华街道"), for the locate API and the report form.
- ``city_centre()``: where maps open and a search from outside the city starts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flask import current_app
from sqlalchemy import select

from app import changes
from app.extensions import db
from app.geo import coords, shapes
from app.geo.models import REGIONS_TOPIC, Region

_lock = threading.Lock()


@dataclass(frozen=True)
class RegionShape:
    """A region as placing and routing need it."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    department_id: int | None
    shape: Any


@dataclass(frozen=True)
class Place:
    """A GCJ-02 point and the district and street it lies in."""

    lat: float
    lng: float
    district_code: str | None
    street_region_id: int | None


@dataclass(frozen=True)
class Where:
    """A GCJ-02 point inside the city: the smallest region containing it, its district and
    street (None where the city has no such level there, or no regions at all)."""

    lat: float
    lng: float
    region: RegionShape | None
    district: RegionShape | None
    street: RegionShape | None

    @property
    def label(self) -> str:
        """What people call the place: "铁西区 · 兴华街道", "铁西区", or the smallest region."""
        names = [r.name for r in (self.district, self.street) if r is not None]
        if not names and self.region is not None:
            names = [self.region.name]
        return " · ".join(names)


class OutsideCity(ValueError):
    """A point outside every region of the city."""


class Snapshot:
    """The parsed regions at one moment: use one for a bulk job (an import of 50,000 shops)
    so the job neither re-checks the counter per row nor sees the regions change midway."""

    def __init__(self, found: list[RegionShape]) -> None:
        self.shapes = found
        self.by_id = {r.id: r for r in found}
        self.pairs = [(r, r.shape) for r in found]

    def locate(self, lat: float, lng: float) -> RegionShape | None:
        """The smallest active region containing a GCJ-02 point."""
        return shapes.smallest_containing(self.pairs, lat, lng)

    def up(self, region: RegionShape | None, level: str) -> RegionShape | None:
        """The region itself or its nearest ancestor at ``level``, or None."""
        while region is not None and region.level != level:
            region = self.by_id.get(region.parent_id)
        return region

    def district_of(self, region: RegionShape | None) -> RegionShape | None:
        """The district a region lies in (itself if it is one); None above districts."""
        node = region
        while node is not None and node.level not in ("district", "city"):
            node = self.by_id.get(node.parent_id)
        return node if node is not None and node.level == "district" else None

    def district_code(self, lat: float, lng: float) -> str | None:
        """The district (region code) a GCJ-02 point lies in, or None outside every district."""
        district = self.district_of(self.locate(lat, lng))
        return district.code if district is not None else None

    def where(self, lat: float, lng: float, coord_sys: str = "gcj02") -> Where:
        """Convert a point to GCJ-02 and find its regions; OutsideCity if the city has regions
        and none contains it (THE rule of "inside the city")."""
        lat, lng = coords.to_canonical(lat, lng, coord_sys)
        region = self.locate(lat, lng)
        if region is None and self.shapes:
            raise OutsideCity("位置不在本市任何区域内，请检查经纬度和坐标系")
        return Where(lat, lng, region, self.up(region, "district"), self.up(region, "street"))

    def place(self, lat: float, lng: float, coord_sys: str = "gcj02") -> Place:
        """Convert a point to GCJ-02 and find its district and street; OutsideCity if the
        city has regions and none contains it."""
        found = self.where(lat, lng, coord_sys)
        district, street = found.district, found.street
        return Place(found.lat, found.lng, district and district.code, street and street.id)

    @cached_property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """The box around every region (min_lat, min_lng, max_lat, max_lng), None without
        regions: a point outside it is outside the city without a polygon test."""
        if not self.shapes:
            return None
        boxes = [r.shape.bbox for r in self.shapes]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes),
                max(b[2] for b in boxes), max(b[3] for b in boxes))  # fmt: skip

    @cached_property
    def centre(self) -> tuple[float, float] | None:
        """The city centre (GCJ-02): the mean of the districts' box centres weighted by the
        inverse of their area, so the small, dense urban districts pull it to the old town
        (沈阳: 41.818, 123.425, by 市府广场) rather than to the middle of the counties. Without
        districts, the middle of all regions' boxes; None without regions."""
        found = [r for r in self.shapes if r.level == "district"] or self.shapes
        if not found:
            return None
        weighted = [(1.0 / max(r.shape.area_m2, 1.0), r.shape.bbox) for r in found]
        total = 2 * sum(w for w, _ in weighted)
        lat = sum(w * (box[0] + box[2]) for w, box in weighted) / total
        lng = sum(w * (box[1] + box[3]) for w, box in weighted) / total
        return round(lat, 6), round(lng, 6)


class _Regions:
    """A process's current snapshot, rebuilt on a new generation of the ``regions`` topic."""

    def __init__(self) -> None:
        self.watch = changes.Watch(REGIONS_TOPIC)
        self.generation = -1
        self.snapshot = Snapshot([])

    def current(self) -> Snapshot:
        generation = self.watch.current()
        if generation != self.generation:
            rows = db.session.scalars(select(Region).where(Region.is_active.is_(True))).all()
            found = [
                RegionShape(r.id, r.code, r.name, r.level, r.parent_id, r.department_id,
                            shapes.shape_from_geojson(r.geometry))
                for r in rows
            ]  # fmt: skip
            with _lock:
                self.snapshot, self.generation = Snapshot(found), generation
        return self.snapshot


def snapshot() -> Snapshot:
    """The current regions, fixed for a bulk job."""
    state = current_app.extensions.get("geo_regions")
    if state is None:
        state = current_app.extensions.setdefault("geo_regions", _Regions())
    return state.current()


def region_shapes() -> list[RegionShape]:
    """Active regions with parsed polygons."""
    return snapshot().shapes


def region_by_id(region_id: int | None) -> RegionShape | None:
    """An active region by id, or None."""
    return snapshot().by_id.get(region_id) if region_id is not None else None


def locate(lat: float, lng: float) -> RegionShape | None:
    """The smallest active region containing a GCJ-02 point."""
    return snapshot().locate(lat, lng)


def district_of(region: RegionShape | None) -> RegionShape | None:
    """The district a region lies in (itself if it is one); None above or outside districts."""
    return snapshot().district_of(region)


def place(lat: float, lng: float, coord_sys: str = "gcj02") -> Place:
    """Convert a point to GCJ-02 and find its district and street (see ``Snapshot.place``)."""
    return snapshot().place(lat, lng, coord_sys)


def where(lat: float, lng: float, coord_sys: str = "gcj02") -> Where:
    """The regions a point lies in, for people (see ``Snapshot.where``); OutsideCity outside."""
    return snapshot().where(lat, lng, coord_sys)


def city_centre() -> tuple[float, float] | None:
    """The city centre in GCJ-02 (see ``Snapshot.centre``), None while the city has no regions."""
    return snapshot().centre


def region_and_district(lat: float, lng: float) -> tuple[int | None, str | None]:
    """(id of the smallest region, code of its district) for a GCJ-02 point; Nones outside."""
    found = snapshot()
    region = found.locate(lat, lng)
    district = found.district_of(region)
    return (region.id if region else None), (district.code if district else None)


def lineage(region_id: int | None) -> list[RegionShape]:
    """The region and its ancestors, nearest first (empty for an unknown or inactive id)."""
    found = snapshot()
    node, out = found.by_id.get(region_id) if region_id is not None else None, []
    while node is not None:
        out.append(node)
        node = found.by_id.get(node.parent_id)
    return out


def district_code_at(lat: float, lng: float) -> str | None:
    """The district (region code) a GCJ-02 point lies in, or None outside every district."""
    return snapshot().district_code(lat, lng)


def district_names() -> dict[str, str]:
    """District region code -> name ("210106" -> "铁西区"), active or not (old rows name them)."""
    rows = db.session.execute(select(Region.code, Region.name).where(Region.level == "district"))
    return {code: name for code, name in rows}
