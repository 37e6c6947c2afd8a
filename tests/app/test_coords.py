"""WGS-84 / GCJ-02 / BD-09 conversions against published pairs, round trips and the China test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.geo.coords import (
    CoordSys,
    convert,
    from_canonical,
    haversine_m,
    haversine_m_array,
    in_china,
    to_canonical,
)

W, G, B = CoordSys.WGS84, CoordSys.GCJ02, CoordSys.BD09

# googollee/eviltransform, go/transform_test.go and python/test.py: (wgs lat, lng, gcj lat, lng).
# Published precision: forward to 6 decimals; gcj2wgs_exact within 0.5 m of the WGS-84 point.
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]

# wandergis/coordtransform, test/app.js: every conversion of (lng 116.404, lat 39.915), printed to
# full double precision. The two forward pairs are exact; the inverse pairs come from the one-step
# approximation, which our iterated inverse improves on by about 6 cm.
WANDERGIS_INPUT = (39.915, 116.404)
WANDERGIS = [
    (W, G, (39.91640428150164, 116.41024449916938), 1e-12),
    (G, B, (39.92133699351021, 116.41036949371029), 1e-12),
    (G, W, (39.91359571849836, 116.39775550083061), 1e-6),
    (B, G, (39.90865673957631, 116.39762729119315), 1e-6),
]

# hujiulong/gcoord, test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts: conversions of (lng 123, lat 45),
# checked with toBeCloseTo(x, 5), i.e. within 5e-6 degrees.
GCOORD_INPUT = (45.0, 123.0)
GCOORD = [
    (W, G, (45.00197815, 123.00607541)),
    (W, B, (45.0083293, 123.0124491)),
    (G, W, (44.99804071, 122.99395597)),
    (G, B, (45.00636899, 123.00636499)),
    (B, G, (44.99365430, 122.99363304)),
    (B, W, (44.99171540, 122.98762210)),
]

# hujiulong/gcoord, test/fixtures/china-cities.json: (wgs, gcj, bd) as (lat, lng), 7 decimals,
# checked there with toBeCloseTo 4 decimals (5e-5) for WGS-84 <-> others, 6 (5e-7) for GCJ <-> BD.
GCOORD_CITIES = {
    "沈阳市": ((41.8032629, 123.4253306), (41.8057023, 123.4314787), (41.8114013, 123.438095)),
    "郑州市": ((34.7478004, 113.6192856), (34.7466173, 113.6253334), (34.7528605, 113.6317519)),
    "邵阳市": ((27.242124, 111.4622119), (27.2388981, 111.4677938), (27.2451662, 111.4742271)),
    "酒泉市": ((39.7319946, 98.4937175), (39.7328234, 98.4943595), (39.7388949, 98.5008441)),
}

INSIDE = {
    "Shenyang": (41.80, 123.43),
    "Xiangtan": (27.83, 112.94),
    "Urumqi": (43.83, 87.62),
    "Sanya": (18.25, 109.51),
    "Harbin": (45.80, 126.53),
    "Beijing": (39.90, 116.40),
    "Kashgar": (39.47, 75.99),
    "Lhasa": (29.65, 91.10),
    "Shenzhen Futian": (22.54, 114.06),
    "Zhuhai": (22.27, 113.57),
    "Xiamen": (24.48, 118.09),
    "Dandong": (40.13, 124.38),
    "Mohe": (52.97, 122.54),
    "Yongxing Island": (16.83, 112.33),
}
OUTSIDE = {
    "Seoul": (37.57, 126.98),
    "Tokyo": (35.68, 139.69),
    "Hanoi": (21.03, 105.85),
    "Ulaanbaatar": (47.92, 106.92),
    "Pyongyang": (39.03, 125.75),
    "Vladivostok": (43.12, 131.89),
    "Almaty": (43.24, 76.89),
    "Kathmandu": (27.70, 85.32),
    "Yonaguni": (24.45, 123.00),
    "Hong Kong Central": (22.28, 114.16),
    "Hong Kong airport": (22.31, 113.92),
    "Macau": (22.19, 113.54),
    "Taipei": (25.03, 121.56),
    "Kaohsiung": (22.63, 120.30),
    "Penghu": (23.57, 119.58),
    "Kinmen": (24.43, 118.32),
    "London": (51.51, -0.13),
    "Sydney": (-33.87, 151.21),
}

ALL_PAIRS = [(a, b) for a in CoordSys for b in CoordSys if a != b]


def _close(got: tuple[float, float], want: tuple[float, float], tol: float) -> bool:
    return abs(got[0] - want[0]) <= tol and abs(got[1] - want[1]) <= tol


@pytest.mark.parametrize(("wlat", "wlng", "glat", "glng"), EVILTRANSFORM)
def test_eviltransform_pairs(wlat, wlng, glat, glng):
    assert _close(convert(wlat, wlng, W, G), (glat, glng), 1e-9)
    back = convert(glat, glng, G, W)
    assert haversine_m(*back, wlat, wlng) < 0.01  # published bound: 0.5 m


@pytest.mark.parametrize(("src", "dst", "want", "tol"), WANDERGIS)
def test_wandergis_pairs(src, dst, want, tol):
    assert _close(convert(*WANDERGIS_INPUT, src, dst), want, tol)


@pytest.mark.parametrize(("src", "dst"), [(G, W), (B, G)])
def test_iterated_inverse_beats_the_one_step_published_value(src, dst):
    ours = convert(*WANDERGIS_INPUT, src, dst)
    published = next(want for s, d, want, _ in WANDERGIS if (s, d) == (src, dst))
    ours_err = haversine_m(*convert(*ours, dst, src), *WANDERGIS_INPUT)
    published_err = haversine_m(*convert(*published, dst, src), *WANDERGIS_INPUT)
    assert ours_err < 0.001 < published_err


@pytest.mark.parametrize(("src", "dst", "want"), GCOORD)
def test_gcoord_pairs(src, dst, want):
    assert _close(convert(*GCOORD_INPUT, src, dst), want, 5e-6)


@pytest.mark.parametrize("city", sorted(GCOORD_CITIES))
def test_gcoord_city_fixtures(city):
    wgs, gcj, bd = GCOORD_CITIES[city]
    points = {W: wgs, G: gcj, B: bd}
    for src, dst in ALL_PAIRS:
        tol = 5e-7 if {src, dst} == {G, B} else 5e-5
        assert _close(convert(*points[src], src, dst), points[dst], tol), (src, dst)


china_lat = st.floats(min_value=18.0, max_value=53.5)
china_lng = st.floats(min_value=73.5, max_value=135.0)


@settings(max_examples=150, deadline=None)
@given(china_lat, china_lng)
def test_round_trip_wgs_gcj_wgs(lat, lng):
    assume(in_china(lat, lng))
    gcj = convert(lat, lng, W, G)
    assume(in_china(*gcj))  # the region test is made on the input of each leg
    assert haversine_m(*gcj, lat, lng) > 1.0  # an offset was applied
    assert haversine_m(*convert(*gcj, G, W), lat, lng) < 0.5


@settings(max_examples=150, deadline=None)
@given(china_lat, china_lng)
def test_round_trip_gcj_bd_gcj(lat, lng):
    assume(in_china(lat, lng))
    bd = convert(lat, lng, G, B)
    assume(in_china(*bd))
    assert haversine_m(*convert(*bd, B, G), lat, lng) < 0.5


@settings(max_examples=200, deadline=None)
@given(china_lat, china_lng, st.sampled_from([(G, W, 1e-9), (B, G, 1e-9), (B, W, 3e-9)]))
def test_inverse_reproduces_input_within_1e_9_degrees_per_step(lat, lng, case):
    src, dst, tol = case  # BD-09 -> WGS-84 is two inverse steps, each within 1e-9
    assume(in_china(lat, lng))
    out = convert(lat, lng, src, dst)
    assume(in_china(*out))
    assert _close(convert(*out, dst, src), (lat, lng), tol)


@pytest.mark.parametrize("name", sorted(INSIDE))
def test_in_china(name):
    assert in_china(*INSIDE[name])


@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_outside_china_is_unchanged(name):
    lat, lng = OUTSIDE[name]
    assert not in_china(lat, lng)
    for src, dst in ALL_PAIRS:
        assert convert(lat, lng, src, dst) == (lat, lng)


@settings(max_examples=200, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180))
def test_any_point_outside_the_region_is_unchanged(lat, lng):
    assume(not in_china(lat, lng))
    for src, dst in ALL_PAIRS:
        assert convert(lat, lng, src, dst) == (lat, lng)


def test_canonical_is_gcj02():
    wgs = INSIDE["Shenyang"]
    gcj = to_canonical(*wgs, "wgs84")
    assert gcj == convert(*wgs, W, G)
    assert _close(from_canonical(*gcj, CoordSys.WGS84), wgs, 1e-9)
    assert to_canonical(*gcj, G) == gcj


@pytest.mark.parametrize(
    ("lat", "lng"),
    [(90.5, 120.0), (-91, 0), (40.0, 180.01), (40.0, -200), (math.nan, 120.0), (40.0, math.inf)],
)
def test_rejects_out_of_range_or_non_finite(lat, lng):
    with pytest.raises(ValueError, match="latitude|longitude"):
        convert(lat, lng, W, G)


def test_rejects_non_numbers_and_unknown_systems():
    with pytest.raises(ValueError, match="numbers"):
        convert("north", 120.0, W, G)
    with pytest.raises(ValueError):
        convert(40.0, 120.0, "utm", G)


def test_haversine_known_distances():
    one_degree = 6371008.8 * math.pi / 180
    assert haversine_m(0, 0, 1, 0) == pytest.approx(one_degree, rel=1e-12)
    assert haversine_m(0, 0, 0, 1) == pytest.approx(one_degree, rel=1e-12)
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * 6371008.8, rel=1e-12)
    assert haversine_m(41.8, 123.4, 41.8, 123.4) == 0.0


def test_haversine_array_matches_scalar_and_broadcasts():
    rng = np.random.default_rng(7)
    lat1, lat2 = rng.uniform(-89, 89, (2, 500))
    lng1, lng2 = rng.uniform(-180, 180, (2, 500))
    expected = [haversine_m(*p) for p in zip(lat1, lng1, lat2, lng2, strict=True)]
    np.testing.assert_allclose(haversine_m_array(lat1, lng1, lat2, lng2), expected, rtol=1e-9)
    from_one = haversine_m_array(41.8, 123.4, lat2, lng2)
    assert from_one.shape == (500,)
    assert from_one[3] == pytest.approx(haversine_m(41.8, 123.4, lat2[3], lng2[3]))


def test_fast_path_boxes_lie_inside_the_region_polygon():
    from app.geo import coords

    for min_lng, min_lat, max_lng, max_lat in coords._SURELY_INSIDE:
        for lng in np.linspace(min_lng, max_lng, 25):
            for lat in np.linspace(min_lat, max_lat, 25):
                assert coords._in_ring(coords._MAINLAND, lng, lat), (lat, lng)
                assert not any(coords._in_ring(ring, lng, lat) for ring in coords._EXCLUDED)
