"""The shop heat map: trading shops counted per square cell, as GeoJSON for a map layer.

Each process keeps the shops as numpy arrays (lat, lng, industry, district, status), re-read when
the shops topic changes (app.changes.Watch: one counter read at most once a second), and counts
with np.unique: no Python loop ever runs over the shops, only over the occupied cells of the
answer.

Cells are squares of ``cell`` metres on the grid of app.geo.grid, scaled at a reference latitude
(the shops' median, to the whole degree), so a cell keeps its place whatever the filters or the
bbox; across one city the squares stay square within about 1%. The case heat map
(reports/heat.py) uses the same reference latitude, so both layers share their cells.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from flask import Flask, current_app
from numpy.typing import NDArray
from sqlalchemy import select, text

from app import changes
from app.errors import ValidationFailed
from app.extensions import db
from app.geo.grid import M_PER_DEG, feature_collection, metres_per_degree_lng
from shops.models import SHOPS_TOPIC, Industry, ShopStatus

STATUS_CODES = {s.value: i for i, s in enumerate(ShopStatus)}
ACTIVE = STATUS_CODES[ShopStatus.ACTIVE.value]


@dataclass(frozen=True)
class ShopArrays:
    """Every shop as columns; ``district`` indexes ``district_codes``."""

    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    industry: NDArray[np.int32]
    district: NDArray[np.int32]
    status: NDArray[np.int8]
    industry_ids: dict[str, int]
    district_index: dict[str, int]
    kx: float  # metres per degree of longitude at the reference latitude


class HeatState:
    """The arrays of one process and the generation they were read at."""

    def __init__(self) -> None:
        self.watch = changes.Watch(SHOPS_TOPIC)
        self.generation = -1
        self.arrays: ShopArrays | None = None
        self.lock = threading.Lock()

    def current(self) -> ShopArrays:
        """The arrays, re-read when the shops changed."""
        generation = self.watch.current()
        if generation != self.generation or self.arrays is None:
            with self.lock:
                if generation != self.generation or self.arrays is None:
                    self.arrays, self.generation = load_arrays(), generation
        return self.arrays


def _state(app: Flask) -> HeatState:
    state = app.extensions.get("shops_heatmap")
    return state if state is not None else app.extensions.setdefault("shops_heatmap", HeatState())


def load_arrays() -> ShopArrays:
    """All shops in columns (one query, raw rows: 50,366 shops load in about 0.1 s)."""
    rows = db.session.execute(
        text("SELECT lat, lng, industry_id, district_code, status FROM shops")
    ).all()
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    lat = np.asarray(cols[0], dtype=np.float64)
    districts = np.asarray([d or "" for d in cols[3]], dtype=object)
    names, inverse = np.unique(districts, return_inverse=True) if rows else ([], np.empty(0))
    industry_ids = {c: i for c, i in db.session.execute(select(Industry.code, Industry.id))}
    ref_lat = float(np.median(lat)) if rows else 0.0
    return ShopArrays(
        lat=lat,
        lng=np.asarray(cols[1], dtype=np.float64),
        industry=np.asarray(cols[2], dtype=np.int32),
        district=np.asarray(inverse, dtype=np.int32),
        status=np.asarray([STATUS_CODES.get(s, -1) for s in cols[4]], dtype=np.int8),
        industry_ids=industry_ids,
        district_index={str(code): i for i, code in enumerate(names)},
        kx=metres_per_degree_lng(ref_lat),
    )


def select_mask(
    a: ShopArrays,
    industries: list[str],
    districts: list[str],
    bbox: tuple[float, float, float, float] | None,
) -> NDArray[np.bool_]:
    """Trading shops matching the filters; 422 for an industry code that does not exist."""
    unknown = [c for c in industries if c not in a.industry_ids]
    if unknown:
        raise ValidationFailed(fields={"industry": [f"未知行业：{'、'.join(unknown)}"]})
    mask = a.status == ACTIVE
    if industries:
        mask &= np.isin(a.industry, [a.industry_ids[c] for c in industries])
    if districts:
        wanted = [a.district_index[c] for c in districts if c in a.district_index]
        mask &= np.isin(a.district, wanted)
    if bbox is not None:
        min_lng, min_lat, max_lng, max_lat = bbox
        mask &= (a.lng >= min_lng) & (a.lng <= max_lng) & (a.lat >= min_lat) & (a.lat <= max_lat)
    return mask


def cell_counts(
    a: ShopArrays, mask: NDArray[np.bool_], cell: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(column, row, count) of every occupied cell, counted with np.unique."""
    x = np.floor(a.lng[mask] * a.kx / cell).astype(np.int64)
    y = np.floor(a.lat[mask] * M_PER_DEG / cell).astype(np.int64)
    if x.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    x0, y0 = x.min(), y.min()
    height = int(y.max() - y0) + 1
    keys, counts = np.unique((x - x0) * height + (y - y0), return_counts=True)
    return keys // height + x0, keys % height + y0, counts


def geojson(
    industries: list[str],
    districts: list[str],
    bbox: tuple[float, float, float, float] | None,
    cell: int,
) -> bytes:
    """The heat-map FeatureCollection: one square Polygon per occupied cell with its count."""
    a = _state(current_app._get_current_object()).current()  # type: ignore[attr-defined]
    cols, rows, counts = cell_counts(a, select_mask(a, industries, districts, bbox), cell)
    return feature_collection(cols, rows, counts, cell, a.kx)


def reference_kx() -> float | None:
    """The shop grid's metres per degree of longitude (None without shops), so that other
    layers (the case heat map) count in the very same cells."""
    a = _state(current_app._get_current_object()).current()  # type: ignore[attr-defined]
    return a.kx if a.lat.size else None


@lru_cache(maxsize=4)
def districts(path: Path) -> list[tuple[str, str]]:
    """(adcode, name) of the districts in a boundary file, for the page's filter."""
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    return [(f["properties"]["adcode"], f["properties"]["name"]) for f in data["features"]
            if f["properties"].get("level") == "district"]  # fmt: skip
