"""District polygons: containment, holes, the boundary rule, area and the smallest region."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.geo.coords import EARTH_RADIUS_M, convert
from app.geo.shapes import (
    Shape,
    area_m2,
    boundary_path,
    contains,
    load_feature_collection,
    representative_point,
    shape_from_geojson,
    smallest_containing,
)

# GCJ-02, checked against the real boundaries below.
TIEXI_POINT = (41.80, 123.35)  # 铁西区, west of the 北一路 / 兴华街 grid, well inside the district
TIEXI_SQUARE = (41.795, 123.369)  # 铁西区: 铁西广场, approximate
BEILING_PARK = (41.8393, 123.4266)  # 北陵公园, 皇姑区


def square(lat: float, lng: float, half: float) -> list[list[float]]:
    """A closed GeoJSON ring (lng, lat) around a centre."""
    return [
        [lng - half, lat - half],
        [lng + half, lat - half],
        [lng + half, lat + half],
        [lng - half, lat + half],
        [lng - half, lat - half],
    ]


def polygon(*rings: list[list[float]]) -> Shape:
    return shape_from_geojson({"type": "Polygon", "coordinates": list(rings)})


@pytest.fixture(scope="module")
def shenyang() -> dict[str, Shape]:
    return {
        props["name"]: shape for props, shape in load_feature_collection(boundary_path("shenyang"))
    }


@pytest.fixture(scope="module")
def xiangtan() -> dict[str, Shape]:
    return {
        props["name"]: shape for props, shape in load_feature_collection(boundary_path("xiangtan"))
    }


def test_bundled_files_load_with_their_declared_system(shenyang, xiangtan):
    assert len(shenyang) == 14 and "沈阳市" in shenyang and "铁西区" in shenyang
    assert len(xiangtan) == 6 and "湘潭县" in xiangtan
    with pytest.raises(ValueError, match="declares gcj02"):
        load_feature_collection(boundary_path("shenyang"), "wgs84")


@pytest.mark.parametrize("point", [TIEXI_POINT, TIEXI_SQUARE])
def test_tiexi_point_is_in_tiexi_only(shenyang, point):
    assert contains(shenyang["铁西区"], *point)
    assert contains(shenyang["沈阳市"], *point)
    assert not contains(shenyang["和平区"], *point)
    districts = [(name, s) for name, s in shenyang.items() if name != "沈阳市"]
    assert smallest_containing(districts, *point) == "铁西区"
    assert smallest_containing(list(shenyang.items()), *point) == "铁西区"


def test_beiling_park_is_in_huanggu_not_tiexi(shenyang):
    assert contains(shenyang["皇姑区"], *BEILING_PARK)
    assert not contains(shenyang["铁西区"], *BEILING_PARK)
    assert smallest_containing(list(shenyang.items()), *BEILING_PARK) == "皇姑区"


@pytest.mark.parametrize("city", ["shenyang", "xiangtan"])
def test_each_district_representative_point_is_in_exactly_one_district(city, request):
    shapes = request.getfixturevalue(city)
    city_name, *districts = shapes  # the first feature is the whole city
    for name in districts:
        point = representative_point(shapes[name])
        assert [d for d in districts if contains(shapes[d], *point)] == [name]
        assert contains(shapes[city_name], *point)


@pytest.mark.parametrize("city", ["shenyang", "xiangtan"])
def test_districts_tile_the_city(city, request):
    shapes = request.getfixturevalue(city)
    city_name, *districts = shapes
    total = sum(area_m2(shapes[d]) for d in districts)
    assert total == pytest.approx(area_m2(shapes[city_name]), rel=1e-6)
    rng = np.random.default_rng(3)
    min_lat, min_lng, max_lat, max_lng = shapes[city_name].bbox
    lats, lngs = rng.uniform(min_lat, max_lat, 400), rng.uniform(min_lng, max_lng, 400)
    for lat, lng in zip(lats, lngs, strict=True):
        in_city = contains(shapes[city_name], lat, lng)
        assert sum(contains(shapes[d], lat, lng) for d in districts) == int(in_city)


def test_city_areas_match_official_figures(shenyang, xiangtan):
    # Official land areas: Shenyang 12,948 km², Xiangtan 5,006 km², Heping 59 km².
    assert area_m2(shenyang["沈阳市"]) / 1e6 == pytest.approx(12948, rel=0.02)
    assert area_m2(xiangtan["湘潭市"]) / 1e6 == pytest.approx(5006, rel=0.02)
    assert area_m2(shenyang["和平区"]) / 1e6 == pytest.approx(59, rel=0.05)


def test_real_holes_exclaves_of_yuhu_inside_xiangtan_county(xiangtan):
    county = xiangtan["湘潭县"]
    assert len(county.polygons) == 1 and len(county.polygons[0]) == 6  # exterior and 5 holes
    hole = county.polygons[0][1]
    lat, lng = representative_point(shape_from_geojson(_ring_polygon(hole)))
    assert not contains(county, lat, lng)
    assert contains(xiangtan["雨湖区"], lat, lng)
    assert contains(xiangtan["湘潭市"], lat, lng)
    assert smallest_containing(list(xiangtan.items()), lat, lng) == "雨湖区"


def _ring_polygon(ring: np.ndarray) -> dict:
    return {"type": "Polygon", "coordinates": [ring.tolist()]}


def test_smallest_containing_prefers_a_nested_synthetic_region(shenyang):
    block = ("block", polygon(square(*TIEXI_POINT, 0.002)))
    regions = [(name, s) for name, s in shenyang.items()] + [block]
    assert smallest_containing(regions, *TIEXI_POINT) == "block"
    assert smallest_containing(list(reversed(regions)), *TIEXI_POINT) == "block"
    assert smallest_containing(regions, TIEXI_POINT[0] + 0.01, TIEXI_POINT[1]) == "铁西区"
    assert smallest_containing(regions, 39.9, 116.4) is None  # Beijing
    assert smallest_containing([], *TIEXI_POINT) is None


def test_synthetic_hole_is_excluded_and_area_subtracted():
    outer, hole = square(30.0, 110.0, 0.1), square(30.0, 110.0, 0.05)
    ring = polygon(outer, hole)
    assert not contains(ring, 30.0, 110.0)
    assert contains(ring, 30.0, 110.08)
    assert not contains(ring, 30.0, 110.2)
    assert area_m2(ring) == pytest.approx(area_m2(polygon(outer)) * 0.75, rel=1e-3)


def test_multipolygon_parts_and_plain_polygon():
    multi = shape_from_geojson(
        {
            "type": "MultiPolygon",
            "coordinates": [[square(30.0, 110.0, 0.01)], [square(30.0, 111.0, 0.01)]],
        }
    )
    assert contains(multi, 30.0, 110.0) and contains(multi, 30.0, 111.0)
    assert not contains(multi, 30.0, 110.5)  # inside the bbox, between the parts
    assert multi.bbox == pytest.approx((29.99, 109.99, 30.01, 111.01))


def test_area_of_a_graticule_rectangle_is_exact():
    shape = polygon(square(41.5, 123.5, 0.5))
    expected = (
        EARTH_RADIUS_M**2
        * math.radians(1.0)
        * (math.sin(math.radians(42.0)) - math.sin(math.radians(41.0)))
    )
    assert area_m2(shape) == pytest.approx(expected, rel=1e-12)


def test_bbox_is_checked_before_any_edge():
    class Exploding:
        def __getattr__(self, name):
            raise AssertionError("edges touched")

    shape = dataclasses.replace(polygon(square(30.0, 110.0, 0.1)), _edges=Exploding())
    assert not contains(shape, 31.0, 110.0)
    assert not contains(shape, 30.0, 111.0)
    with pytest.raises(AssertionError, match="edges touched"):
        contains(shape, 30.0, 110.0)


def test_shared_edges_and_vertices_belong_to_exactly_one_shape():
    # Four unit squares around (30, 110): SW, SE, NW, NE.
    quads = {
        (dy, dx): polygon(square(30.0 + dy * 0.5, 110.0 + dx * 0.5, 0.5))
        for dy in (-1, 1)
        for dx in (-1, 1)
    }
    owners = lambda lat, lng: [k for k, s in quads.items() if contains(s, lat, lng)]  # noqa: E731
    assert owners(30.0, 110.0) == [(1, 1)]  # the common vertex: north-east square
    assert owners(29.7, 110.0) == [(-1, 1)]  # shared north-south edge: the east square
    assert owners(30.0, 109.7) == [(1, -1)]  # shared east-west edge: the north square


@settings(max_examples=100, deadline=None)
@given(st.floats(-0.49, 0.49), st.floats(-0.5, 0.5))
def test_points_on_a_slanted_shared_edge_have_one_owner(t, s):
    # Two triangles sharing the diagonal of a square; points on and near it, not its ends.
    a = polygon([[110.0, 30.0], [111.0, 30.0], [111.0, 31.0], [110.0, 30.0]])
    b = polygon([[110.0, 30.0], [111.0, 31.0], [110.0, 31.0], [110.0, 30.0]])
    lat, lng = 30.5 + t, 110.5 + t + s * 1e-12
    assert contains(a, lat, lng) + contains(b, lat, lng) == 1


def test_wgs84_polygon_is_converted_to_gcj02_on_load():
    centre_wgs = (41.80, 123.40)
    ring = square(*centre_wgs, 0.001)  # about 220 m across; the GCJ-02 shift here is ~600 m
    shape = shape_from_geojson({"type": "Polygon", "coordinates": [ring]}, coord_sys="wgs84")
    centre_gcj = convert(*centre_wgs, "wgs84", "gcj02")
    assert contains(shape, *centre_gcj)
    assert not contains(shape, *centre_wgs)
    lng, lat = ring[0]
    assert tuple(shape.polygons[0][0][0]) == pytest.approx(
        convert(lat, lng, "wgs84", "gcj02")[::-1]
    )


def test_load_feature_collection_from_dict_and_errors():
    feature = {
        "type": "Feature",
        "properties": {"name": "block"},
        "geometry": {"type": "Polygon", "coordinates": [square(41.8, 123.4, 0.01)]},
    }
    collection = {"type": "FeatureCollection", "features": [feature]}
    [(props, shape)] = load_feature_collection(collection, "gcj02")
    assert props == {"name": "block"} and contains(shape, 41.8, 123.4)
    with pytest.raises(ValueError, match="coordinate system"):
        load_feature_collection(collection)
    with pytest.raises(ValueError, match="FeatureCollection"):
        load_feature_collection(feature, "gcj02")
    with pytest.raises(ValueError, match="unsupported geometry"):
        shape_from_geojson({"type": "Point", "coordinates": [123.4, 41.8]})
    with pytest.raises(ValueError, match="three"):
        shape_from_geojson({"type": "Polygon", "coordinates": [[[1, 1], [2, 2], [1, 1]]]})
    with pytest.raises(ValueError, match="finite"):
        shape_from_geojson({"type": "Polygon", "coordinates": [square(95.0, 10.0, 1.0)]})


def test_shape_is_immutable_and_input_validated():
    shape = polygon(square(30.0, 110.0, 0.1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        shape.area_m2 = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        shape.polygons[0][0][0, 0] = 0.0
    with pytest.raises(ValueError, match="latitude"):
        contains(shape, 95.0, 110.0)


def test_representative_point_of_a_concave_shape():
    # A U shape whose vertex average (the notch) lies outside it.
    u = polygon([[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]])
    ring = u.polygons[0][0]
    assert not contains(u, float(ring[:, 1].mean()), float(ring[:, 0].mean()))
    assert contains(u, *representative_point(u))
