"""Conversions among WGS-84, GCJ-02 and BD-09, the China offset region, and distances.

- WGS-84: GPS, `wx.getLocation` by default, OSM, Open311.
- GCJ-02: the canonical system of this project. Amap, Tencent maps, WeChat map components and the
  district boundaries in `app/data/boundaries` use it, so points are stored and compared in GCJ-02.
- BD-09: Baidu maps, an extra offset on top of GCJ-02.

The GCJ-02 offset applies only inside the offset region (`in_china`): mainland China and its
coastal waters. Hong Kong, Macau and Taiwan (with Penghu, Kinmen and Matsu) are outside it: there
Amap and Tencent show plain WGS-84, and we treat BD-09 the same way, so all three systems coincide
outside the region. Whether a point is inside is decided on the point as given (before conversion),
so within a few hundred metres of the region's edge a round trip can differ from the start point.
The region is a coarse hand-drawn polygon, good to about 20-50 km along land borders: towns that
face each other across a border river (Heihe/Blagoveshchensk, Dandong/Sinuiju, Ruili/Muse) may fall
on the wrong side.

The inverse transforms iterate the forward transform until it reproduces the input within 1e-9
degrees (about 0.1 mm), which takes three to five rounds.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray


class CoordSys(StrEnum):
    """A geographic coordinate system as used by Chinese and international maps."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


CANONICAL = CoordSys.GCJ02
EARTH_RADIUS_M = 6371008.8  # mean Earth radius (IUGG)

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as used by GCJ-02
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30

# Offset region, (lng, lat): mainland China with its coastal waters, drawn generously at sea and
# following land borders coarsely; Hong Kong, Macau and Taiwan are cut out below.
_MAINLAND = (
    (73.45, 39.45), (73.95, 39.75), (75.4, 40.55), (76.7, 40.85), (78.3, 41.35), (80.2, 42.05),
    (80.45, 42.9), (80.25, 44.2), (80.8, 45.15), (82.55, 45.2), (82.3, 45.55), (82.95, 46.7),
    (83.1, 47.25), (85.55, 47.05), (86.0, 47.5), (86.75, 48.95), (87.8, 49.2), (88.9, 48.1),
    (90.0, 47.85), (91.0, 46.0), (90.9, 45.3), (93.5, 44.95), (95.4, 44.25), (96.4, 42.75),
    (100.8, 42.65), (105.0, 41.6), (107.5, 42.45), (110.4, 42.75), (111.95, 43.7), (113.6, 44.75),
    (114.5, 45.4), (116.0, 45.7), (117.4, 46.55), (119.9, 46.65), (119.7, 47.2), (118.55, 47.95),
    (117.8, 47.75), (115.55, 47.9), (116.7, 49.85), (117.38, 49.63), (117.85, 49.52),
    (119.3, 50.3), (119.9, 51.3), (120.7, 52.5), (121.3, 53.3), (122.3, 53.5), (123.6, 53.55),
    (124.8, 53.15), (125.6, 53.05), (126.4, 52.2), (126.9, 51.3), (127.3, 50.75), (127.5, 50.26),
    (128.5, 49.55), (129.5, 49.35), (130.65, 48.85), (130.95, 47.7), (132.6, 47.7),
    (134.0, 48.45), (134.75, 48.42), (134.0, 46.8), (133.7, 45.98), (132.5, 45.0), (131.3, 44.9),
    (131.25, 44.4), (131.2, 43.5), (131.25, 43.0), (130.95, 42.85), (130.65, 42.42),
    (130.28, 42.7), (129.95, 42.98), (129.7, 42.45), (129.2, 42.2), (128.1, 42.0),
    (128.2, 41.42), (127.5, 41.5), (126.9, 41.8), (126.2, 41.13), (125.5, 40.75), (124.9, 40.45),
    (124.4, 40.12), (124.2, 39.85), (123.7, 38.8), (123.6, 37.3), (124.0, 35.5), (124.0, 33.0),
    (123.5, 31.0), (123.2, 29.5), (122.8, 27.2), (122.45, 25.7), (122.3, 24.0), (121.85, 21.6),
    (120.7, 21.4), (117.5, 22.0), (116.0, 21.8), (114.5, 21.7), (113.0, 21.2), (111.8, 20.4),
    (112.2, 18.5), (113.0, 17.2), (112.9, 15.9), (111.0, 15.7), (110.0, 17.2), (109.3, 17.8),
    (108.4, 18.2), (108.2, 19.5), (108.05, 21.45), (108.0, 21.53), (107.35, 21.6),
    (106.75, 22.02), (106.55, 22.4), (106.8, 22.8), (106.0, 22.95), (105.35, 23.35),
    (104.85, 23.1), (104.3, 22.75), (103.96, 22.495), (103.3, 22.8), (102.9, 22.45),
    (102.45, 22.75), (102.15, 22.45), (101.75, 22.5), (101.55, 22.2), (101.7, 21.2),
    (101.1, 21.6), (100.5, 21.45), (100.05, 21.7), (99.95, 22.1), (99.2, 22.1), (99.5, 22.95),
    (99.25, 23.15), (98.85, 23.75), (98.6, 24.1), (98.07, 24.08), (97.85, 23.995), (97.55, 23.9),
    (97.55, 24.75), (97.75, 25.3), (98.2, 25.6), (98.6, 26.1), (98.75, 27.4), (98.4, 27.7),
    (98.3, 28.35), (97.35, 28.2), (96.4, 29.2), (95.4, 29.05), (94.2, 29.2), (93.0, 28.05),
    (91.65, 27.85), (90.5, 28.05), (89.6, 28.2), (89.1, 27.35), (88.9, 27.3), (88.75, 27.85),
    (88.8, 28.1), (88.1, 27.88), (87.0, 28.1), (85.97, 27.96), (85.1, 28.5), (84.2, 28.9),
    (83.3, 29.5), (82.1, 30.2), (81.1, 30.1), (80.2, 30.7), (79.2, 31.35), (78.7, 31.95),
    (78.75, 32.6), (79.4, 33.0), (78.9, 34.1), (78.0, 35.3), (77.8, 35.5), (76.8, 35.7),
    (75.9, 36.0), (75.4, 36.85), (74.9, 37.15), (74.9, 37.3), (74.85, 38.5), (74.0, 38.6),
    (73.7, 39.0),
)  # fmt: skip
_HONG_KONG = (
    (113.83, 22.14), (114.44, 22.14), (114.44, 22.53), (114.22, 22.555), (114.15, 22.545),
    (114.08, 22.525), (114.03, 22.505), (113.93, 22.47), (113.87, 22.40), (113.83, 22.20),
)  # fmt: skip
_MACAU = (
    (113.525, 22.215), (113.56, 22.215), (113.60, 22.16), (113.60, 22.105), (113.545, 22.105),
    (113.545, 22.15), (113.525, 22.17),
)  # fmt: skip
_TAIWAN = (
    (119.2, 23.1), (119.9, 21.8), (121.0, 21.75), (121.7, 22.0), (122.1, 24.0), (122.2, 25.2),
    (121.6, 25.5), (121.0, 25.2), (119.3, 23.95),
)  # fmt: skip
_KINMEN = ((118.22, 24.38), (118.50, 24.38), (118.50, 24.52), (118.22, 24.52))
_MATSU = ((119.88, 26.13), (120.55, 26.13), (120.55, 26.42), (119.88, 26.42))
_EXCLUDED = (_HONG_KONG, _MACAU, _TAIWAN, _KINMEN, _MATSU)
# Rectangles (min_lng, min_lat, max_lng, max_lat) wholly inside the region and clear of the
# exclusions: most real points are decided here without walking the polygon.
_SURELY_INSIDE = (
    (100.0, 26.0, 118.0, 40.0),
    (118.0, 28.0, 121.5, 34.0),
    (120.0, 41.5, 125.0, 46.0),
    (118.0, 39.5, 124.0, 41.5),
    (85.0, 30.0, 100.0, 40.0),
    (108.0, 22.8, 118.0, 26.0),
    (120.0, 46.0, 127.0, 49.0),
)


def _ring_bbox(ring: tuple[tuple[float, float], ...]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _in_ring(ring: tuple[tuple[float, float], ...], lng: float, lat: float) -> bool:
    inside = False
    x1, y1 = ring[-1]
    for x2, y2 in ring:
        if (y1 > lat) != (y2 > lat) and lng < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        x1, y1 = x2, y2
    return inside


def _in_box(box: tuple[float, float, float, float], lng: float, lat: float) -> bool:
    return box[0] <= lng <= box[2] and box[1] <= lat <= box[3]


_MAINLAND_BBOX = _ring_bbox(_MAINLAND)
_EXCLUDED_BBOXES = tuple(_ring_bbox(ring) for ring in _EXCLUDED)


def validate(lat: float, lng: float) -> tuple[float, float]:
    """Return (lat, lng) as floats, or raise ValueError if either is out of range or not finite."""
    try:
        lat_f, lng_f = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"coordinates must be numbers, got lat={lat!r}, lng={lng!r}") from exc
    if not (math.isfinite(lat_f) and -90.0 <= lat_f <= 90.0):
        raise ValueError(f"latitude must be a finite number in [-90, 90], got {lat!r}")
    if not (math.isfinite(lng_f) and -180.0 <= lng_f <= 180.0):
        raise ValueError(f"longitude must be a finite number in [-180, 180], got {lng!r}")
    return lat_f, lng_f


def in_china(lat: float, lng: float) -> bool:
    """True where Chinese maps apply the GCJ-02 offset: mainland China, not HK, Macau or Taiwan."""
    lat, lng = validate(lat, lng)
    if not _in_box(_MAINLAND_BBOX, lng, lat):
        return False
    if any(_in_box(box, lng, lat) for box in _SURELY_INSIDE):
        return True
    for box, ring in zip(_EXCLUDED_BBOXES, _EXCLUDED, strict=True):
        if _in_box(box, lng, lat) and _in_ring(ring, lng, lat):
            return False
    return _in_ring(_MAINLAND, lng, lat)


def _gcj_offset(lat: float, lng: float) -> tuple[float, float]:
    """The GCJ-02 offset (dlat, dlng) in degrees at a WGS-84 point, without the region test."""
    sin, pi = math.sin, math.pi
    x, y = lng - 105.0, lat - 35.0
    common = (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += common + (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlng += common + (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlng = dlng * 180.0 / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlng


def _wgs_to_gcj(lat: float, lng: float) -> tuple[float, float]:
    dlat, dlng = _gcj_offset(lat, lng)
    return lat + dlat, lng + dlng


def _gcj_to_bd(lat: float, lng: float) -> tuple[float, float]:
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd_to_gcj_approx(lat: float, lng: float) -> tuple[float, float]:
    x, y = lng - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def _invert(forward, lat: float, lng: float, guess: tuple[float, float]) -> tuple[float, float]:
    """Solve forward(p) == (lat, lng) for p by fixed-point iteration from guess."""
    p_lat, p_lng = guess
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lng = forward(p_lat, p_lng)
        err_lat, err_lng = f_lat - lat, f_lng - lng
        if abs(err_lat) < _TOLERANCE_DEG and abs(err_lng) < _TOLERANCE_DEG:
            break
        p_lat, p_lng = p_lat - err_lat, p_lng - err_lng
    return p_lat, p_lng


def _gcj_to_wgs(lat: float, lng: float) -> tuple[float, float]:
    dlat, dlng = _gcj_offset(lat, lng)
    return _invert(_wgs_to_gcj, lat, lng, (lat - dlat, lng - dlng))


def _bd_to_gcj(lat: float, lng: float) -> tuple[float, float]:
    return _invert(_gcj_to_bd, lat, lng, _bd_to_gcj_approx(lat, lng))


_STEPS = {
    (CoordSys.WGS84, CoordSys.GCJ02): (_wgs_to_gcj,),
    (CoordSys.GCJ02, CoordSys.WGS84): (_gcj_to_wgs,),
    (CoordSys.GCJ02, CoordSys.BD09): (_gcj_to_bd,),
    (CoordSys.BD09, CoordSys.GCJ02): (_bd_to_gcj,),
    (CoordSys.WGS84, CoordSys.BD09): (_wgs_to_gcj, _gcj_to_bd),
    (CoordSys.BD09, CoordSys.WGS84): (_bd_to_gcj, _gcj_to_wgs),
}


def convert(
    lat: float, lng: float, from_sys: CoordSys | str, to_sys: CoordSys | str
) -> tuple[float, float]:
    """Convert a point between WGS-84, GCJ-02 and BD-09; points outside China are unchanged."""
    from_sys, to_sys = CoordSys(from_sys), CoordSys(to_sys)
    lat, lng = validate(lat, lng)
    if from_sys == to_sys or not in_china(lat, lng):
        return lat, lng
    for step in _STEPS[(from_sys, to_sys)]:
        lat, lng = step(lat, lng)
    return lat, lng


def to_canonical(lat: float, lng: float, coord_sys: CoordSys | str) -> tuple[float, float]:
    """Convert a point from coord_sys to the canonical GCJ-02."""
    return convert(lat, lng, coord_sys, CANONICAL)


def from_canonical(lat: float, lng: float, coord_sys: CoordSys | str) -> tuple[float, float]:
    """Convert a canonical GCJ-02 point to coord_sys."""
    return convert(lat, lng, CANONICAL, coord_sys)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres on a sphere of the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def haversine_m_array(
    lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike
) -> NDArray[np.float64]:
    """Vectorised haversine_m over broadcastable arrays of degrees; returns metres."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dl = np.radians(np.asarray(lng2, float) - np.asarray(lng1, float))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
