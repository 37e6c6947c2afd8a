"""Pure geometry without a database: coordinate systems, distances and district polygons."""

from app.geo.coords import (
    CANONICAL,
    CoordSys,
    convert,
    from_canonical,
    haversine_m,
    haversine_m_array,
    in_china,
    to_canonical,
)
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

__all__ = [
    "CANONICAL",
    "CoordSys",
    "Shape",
    "area_m2",
    "boundary_path",
    "contains",
    "convert",
    "from_canonical",
    "haversine_m",
    "haversine_m_array",
    "in_china",
    "load_feature_collection",
    "representative_point",
    "shape_from_geojson",
    "smallest_containing",
    "to_canonical",
]
