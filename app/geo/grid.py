"""The heat-map grid shared by every map layer (shops, cases): square cells as GeoJSON.

Cells are squares of ``cell`` metres on an equirectangular grid anchored at 0°/0°: column
``floor(lng * kx / cell)``, row ``floor(lat * M_PER_DEG / cell)``, where ``kx`` is the length of a
degree of longitude at a reference latitude (a whole degree). Two layers built with the same
``kx`` and ``cell`` put their counts in exactly the same squares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
import numpy as np

M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
# The cell sizes, in metres, that a heat-map query may ask for (every layer accepts the same).
CELL_MIN_M, CELL_MAX_M, CELL_DEFAULT_M = 100, 5000, 500


def metres_per_degree_lng(ref_lat: float) -> float:
    """``kx``: metres per degree of longitude at ``ref_lat`` rounded to the whole degree."""
    return M_PER_DEG * math.cos(math.radians(round(ref_lat)))


def feature_collection(
    cols: Sequence[int] | np.ndarray,
    rows: Sequence[int] | np.ndarray,
    counts: Sequence[int] | np.ndarray,
    cell: int,
    kx: float,
    **meta: Any,
) -> bytes:
    """One square Polygon Feature per occupied cell with ``properties.count``; the collection's
    properties carry cell_m, cells, total, max, coord_sys (gcj02) and any ``meta``."""
    cols_a = np.asarray(cols, dtype=np.int64)
    rows_a = np.asarray(rows, dtype=np.int64)
    counts_a = np.asarray(counts, dtype=np.int64)
    west = np.round(cols_a * cell / kx, 6).tolist()
    east = np.round((cols_a + 1) * cell / kx, 6).tolist()
    south = np.round(rows_a * cell / M_PER_DEG, 6).tolist()
    north = np.round((rows_a + 1) * cell / M_PER_DEG, 6).tolist()
    features = ",".join(
        '{"type":"Feature","geometry":{"type":"Polygon","coordinates":'
        f'[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}},"properties":{{"count":{c}}}}}'
        for w, e, s, n, c in zip(west, east, south, north, counts_a.tolist(), strict=True)
    )
    props = {"cell_m": cell, "cells": int(counts_a.size), "total": int(counts_a.sum()),
             "max": int(counts_a.max()) if counts_a.size else 0, "coord_sys": "gcj02",
             **meta}  # fmt: skip
    head = json.dumps({"type": "FeatureCollection", "properties": props}, ensure_ascii=False)
    return f'{head[:-1]},"features":[{features}]}}'.encode()


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """minLng,minLat,maxLng,maxLat as Leaflet's toBBoxString() writes it; a marshmallow
    ValidationError on ``bbox`` otherwise (the query schemas of the layers call it)."""
    try:
        values = tuple(float(v) for v in raw.split(","))
    except ValueError:
        raise ma.ValidationError("bbox 应为 minLng,minLat,maxLng,maxLat", "bbox") from None
    if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
        raise ma.ValidationError("bbox 应为 minLng,minLat,maxLng,maxLat", "bbox")
    if not (-180 <= values[0] <= 180 and -90 <= values[1] <= 90):
        raise ma.ValidationError("bbox 超出经纬度范围", "bbox")
    return values  # type: ignore[return-value]
