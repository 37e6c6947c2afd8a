"""Polygons from GeoJSON in canonical GCJ-02: point-in-polygon, area, smallest containing region.

A `Shape` is immutable and holds its vertices in GCJ-02 (converted on load), its bbox, its area and
an edge index: the edges are cut into latitude bands so that `contains` tests only the few edges
of one band, vectorised with numpy (even-odd ray casting towards the east, so holes and the parts
of a MultiPolygon need no special case).

Boundary rule: a point exactly on an edge belongs to the shape east of that edge, and on an
east-west edge to the shape north of it. Every edge is evaluated in one fixed orientation (from its
southern end), so a point on an edge shared by two adjacent districts is in exactly one of them;
a point on an outer boundary with nothing beyond may be in or out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from app.geo.coords import CANONICAL, EARTH_RADIUS_M, CoordSys, convert, validate

K = TypeVar("K")
Ring = NDArray[np.float64]  # (n, 2) array of [lng, lat], not closed, read-only
BOUNDARIES_DIR = Path(__file__).resolve().parent.parent / "data" / "boundaries"
_MAX_BANDS = 512


@dataclass(frozen=True, slots=True, eq=False)
class _EdgeIndex:
    """Non-horizontal edges, south end first, copied into each latitude band they touch."""

    lat0: float
    band_height: float
    starts: NDArray[np.int64]  # band b holds rows starts[b]:starts[b + 1]
    y1: NDArray[np.float64]
    y2: NDArray[np.float64]
    x1: NDArray[np.float64]
    slope: NDArray[np.float64]  # dlng / dlat along the edge


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """An immutable (multi)polygon in GCJ-02 with holes; compare shapes by identity."""

    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: exterior ring, then holes
    bbox: tuple[float, float, float, float]  # min_lat, min_lng, max_lat, max_lng
    area_m2: float
    _edges: _EdgeIndex


def _readonly(array: NDArray[Any]) -> NDArray[Any]:
    array.setflags(write=False)
    return array


def _parse_ring(positions: Any, coord_sys: CoordSys) -> Ring:
    """A GeoJSON linear ring as an (n, 2) [lng, lat] array in GCJ-02, without the closing point."""
    ring = np.asarray(positions, dtype=float)
    if ring.ndim != 2 or ring.shape[1] < 2 or len(ring) < 3:
        raise ValueError("a polygon ring needs at least three [lng, lat] positions")
    ring = ring[:, :2].copy()
    if np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]
    if len(ring) < 3:
        raise ValueError("a polygon ring needs at least three distinct positions")
    lats, lngs = ring[:, 1], ring[:, 0]
    if not (
        np.all(np.isfinite(ring)) and np.all(np.abs(lats) <= 90) and np.all(np.abs(lngs) <= 180)
    ):
        raise ValueError("ring positions must be finite [lng, lat] with lat in [-90, 90]")
    if coord_sys != CANONICAL:
        ring = np.array([convert(lat, lng, coord_sys, CANONICAL)[::-1] for lng, lat in ring])
    return _readonly(ring)


def _polygons_of(geometry: Mapping[str, Any]) -> list[Any]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry type {kind!r}: expected Polygon or MultiPolygon")


def _ring_area_m2(ring: Ring) -> float:
    """Unsigned area of a ring in Lambert's cylindrical equal-area projection."""
    x = np.radians(ring[:, 0]) * EARTH_RADIUS_M
    y = np.sin(np.radians(ring[:, 1])) * EARTH_RADIUS_M
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))) / 2.0


def _polygon_area_m2(rings: tuple[Ring, ...]) -> float:
    return _ring_area_m2(rings[0]) - sum(_ring_area_m2(hole) for hole in rings[1:])


def _build_edges(rings: Sequence[Ring], min_lat: float, max_lat: float) -> _EdgeIndex:
    a = np.concatenate(rings)
    b = np.concatenate([np.roll(ring, -1, axis=0) for ring in rings])
    keep = a[:, 1] != b[:, 1]
    a, b = a[keep], b[keep]
    south_first = a[:, 1] < b[:, 1]
    lo = np.where(south_first[:, None], a, b)
    hi = np.where(south_first[:, None], b, a)
    bands = int(min(_MAX_BANDS, max(1, len(lo) // 16)))
    height = max((max_lat - min_lat) / bands, 1e-12)
    first = np.clip(((lo[:, 1] - min_lat) / height).astype(np.int64), 0, bands - 1)
    last = np.clip(((hi[:, 1] - min_lat) / height).astype(np.int64), 0, bands - 1)
    counts = last - first + 1
    rows = np.repeat(np.arange(len(lo)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    band_of = np.repeat(first, counts) + offsets
    order = np.argsort(band_of, kind="stable")
    rows = rows[order]
    starts = np.searchsorted(band_of[order], np.arange(bands + 1))
    slope = (hi[:, 0] - lo[:, 0]) / (hi[:, 1] - lo[:, 1])
    arrays = (lo[rows, 1], hi[rows, 1], lo[rows, 0], slope[rows])
    return _EdgeIndex(min_lat, height, _readonly(starts), *(_readonly(x.copy()) for x in arrays))


def shape_from_geojson(geometry: Mapping[str, Any], coord_sys: CoordSys | str = CANONICAL) -> Shape:
    """Build a Shape from a GeoJSON Polygon or MultiPolygon given in coord_sys."""
    coord_sys = CoordSys(coord_sys)
    polygons = tuple(
        tuple(_parse_ring(ring, coord_sys) for ring in polygon)
        for polygon in _polygons_of(geometry)
    )
    if not polygons or any(not rings for rings in polygons):
        raise ValueError("a polygon needs at least an exterior ring")
    all_rings = [ring for rings in polygons for ring in rings]
    points = np.concatenate(all_rings)
    min_lng, min_lat = points.min(axis=0)
    max_lng, max_lat = points.max(axis=0)
    bbox = (float(min_lat), float(min_lng), float(max_lat), float(max_lng))
    area = sum(_polygon_area_m2(rings) for rings in polygons)
    return Shape(polygons, bbox, area, _build_edges(all_rings, bbox[0], bbox[2]))


def _contains(shape: Shape, lat: float, lng: float) -> bool:
    min_lat, min_lng, max_lat, max_lng = shape.bbox
    if not (min_lat <= lat <= max_lat and min_lng <= lng <= max_lng):
        return False
    e = shape._edges
    band = min(max(int((lat - e.lat0) / e.band_height), 0), len(e.starts) - 2)
    s = slice(e.starts[band], e.starts[band + 1])
    y1 = e.y1[s]
    crossing = (y1 <= lat) & (lat < e.y2[s]) & (lng < e.x1[s] + (lat - y1) * e.slope[s])
    return bool(np.count_nonzero(crossing) & 1)


def contains(shape: Shape, lat: float, lng: float) -> bool:
    """True if the GCJ-02 point is in the shape, not in a hole (boundary rule: module doc)."""
    lat, lng = validate(lat, lng)
    return _contains(shape, lat, lng)


def area_m2(shape: Shape) -> float:
    """Area in square metres (spherical, equal-area projection; holes subtracted)."""
    return shape.area_m2


def smallest_containing(shapes: Sequence[tuple[K, Shape]], lat: float, lng: float) -> K | None:
    """Key of the smallest shape containing the GCJ-02 point (first on a tie), or None."""
    lat, lng = validate(lat, lng)
    best_key, best_area = None, math.inf
    for key, shape in shapes:
        if shape.area_m2 < best_area and _contains(shape, lat, lng):
            best_key, best_area = key, shape.area_m2
    return best_key


def representative_point(shape: Shape) -> tuple[float, float]:
    """A (lat, lng) inside the shape: middle of the widest span across its largest part."""
    rings = max(shape.polygons, key=_polygon_area_m2)
    lats = rings[0][:, 1]
    lat = float(lats.min() + (lats.max() - lats.min()) * 0.5000123)  # avoid hitting a vertex
    xs = []
    for ring in rings:
        a, b = ring, np.roll(ring, -1, axis=0)
        hit = (a[:, 1] > lat) != (b[:, 1] > lat)
        a, b = a[hit], b[hit]
        xs.append(a[:, 0] + (lat - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1]))
    spans = np.sort(np.concatenate(xs)).reshape(-1, 2)
    widest = spans[np.argmax(spans[:, 1] - spans[:, 0])]
    return lat, float(widest.mean())


def declared_sys(collection: Mapping[str, Any]) -> CoordSys | None:
    """The system a FeatureCollection's "coordinate_system" member names (None if absent);
    ValueError if it names none of wgs84, gcj02, bd09."""
    declared = collection.get("coordinate_system")
    if declared is None:
        return None
    return CoordSys(str(declared).lower().replace("-", "").replace("_", ""))


def load_feature_collection(
    source: str | Path | Mapping[str, Any], coord_sys: CoordSys | str | None = None
) -> list[tuple[dict[str, Any], Shape]]:
    """Load a GeoJSON FeatureCollection (path or dict) as (properties, Shape) pairs in GCJ-02.

    coord_sys is the system of the file; None takes the file's "coordinate_system" member.
    """
    if isinstance(source, Mapping):
        collection = source
    else:
        collection = json.loads(Path(source).read_text(encoding="utf-8"))
    if collection.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection")
    declared = declared_sys(collection)
    chosen = CoordSys(coord_sys) if coord_sys is not None else declared
    if chosen is None:
        raise ValueError("say which coordinate system the features use (coord_sys)")
    if declared is not None and declared != chosen:
        raise ValueError(f"file declares {declared.value}, caller says {chosen.value}")
    return [
        (dict(feature.get("properties") or {}), shape_from_geojson(feature["geometry"], chosen))
        for feature in collection["features"]
    ]


def boundary_path(name: str) -> Path:
    """Path of a bundled boundary file, e.g. boundary_path("shenyang")."""
    return BOUNDARIES_DIR / f"{name}.geojson"
