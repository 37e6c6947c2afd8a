"""Exact nearest-facility search in memory, kept in step with the database in every process.

Per kind, the facilities' WGS-84 positions are unit vectors in a k-d tree (scipy's cKDTree). The
straight-line (chord) distance between unit vectors grows with the great-circle distance, so the
tree's nearest points by chord are the nearest by great-circle distance; the tree only proposes
candidates, and the answer is ordered by the haversine distance of :func:`distances_m` with ties
broken by id, exactly as a scan of every facility would order them (:func:`brute_force` is that
scan, used by the tests). A query widens its candidate set until every facility that could rank in
the answer is in it (a margin of 1e-9 relative covers rounding), so filters (removed facilities,
``open_now``) never drop a facility that belongs in the answer.

What a result shows (name, address, hours, fee, spaces ...) is pre-serialised JSON per facility in
one bytes buffer, so an answer is assembled without touching the database.

Changes: every facility write carries a change number (``seq``, see service.py). Before each query
the index compares the number published on this host (``sync.py``, a mapped file: well under a
microsecond) with the last one it applied, and every ``NEARBY_SYNC_SECONDS`` (1 s) also the
database's; when behind, it reads the facilities changed since and applies them: an edit in place
replaces the shown JSON, a move, a new facility or a change of kind goes to a small per-kind list
searched by brute force alongside the tree, a removal hides the facility. When those lists grow past
``REBUILD_AFTER`` entries the index is rebuilt from the database.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from sqlalchemy import select

from app.extensions import db
from app.geo.coords import EARTH_RADIUS_M
from services_nearby import hours as hours_mod
from services_nearby.models import Facility, FacilityKind, FacilityStatus

REBUILD_AFTER = 5_000
POINTS_PER_CELL = 12
MAX_CELLS = 4_000_000
MIN_CELL_M = 25.0
MAX_RING = 3  # rings of cells searched on the grid before asking the k-d tree
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0
_MARGIN = 1e-9
_TINY = 1e-12
_EXTRA_K = 8  # candidates asked for beyond the limit on the first try
_OPEN = {1: True, 0: False}


# ---------------------------------------------------------------- distance (one definition)


def distances_m(
    lat: float, lng: float, lat_r: NDArray[np.float64], lng_r: NDArray[np.float64],
    cos_lat: NDArray[np.float64],
) -> NDArray[np.float64]:  # fmt: skip
    """Haversine metres from (lat, lng) in degrees to points given in radians with their cosines.
    Both the index and the brute-force scan use this function, so equal inputs give equal bits."""
    p1, l1 = math.radians(lat), math.radians(lng)
    h = np.sin((lat_r - p1) * 0.5) ** 2 + math.cos(p1) * cos_lat * np.sin((lng_r - l1) * 0.5) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def unit_vectors(lat_r: NDArray[np.float64], lng_r: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere."""
    c = np.cos(lat_r)
    return np.column_stack((c * np.cos(lng_r), c * np.sin(lng_r), np.sin(lat_r)))


def chord_of(metres: float) -> float:
    """The chord (on the unit sphere) of a great-circle distance in metres."""
    return 2.0 * math.sin(min(math.pi, metres / EARTH_RADIUS_M) / 2.0)


# ---------------------------------------------------------------- what is indexed


@dataclass(slots=True)
class Entry:
    """One facility as the index keeps it."""

    id: int
    kind_id: int
    wgs_lat: float
    wgs_lng: float
    lat: float  # GCJ-02
    lng: float
    hours: str
    view: bytes  # the JSON object shown for it, without distance and position


@dataclass
class Columns:
    """Facilities of one kind as arrays (sorted by id), with their views in one buffer."""

    ids: NDArray[np.int64]
    wgs_lat: NDArray[np.float64]
    wgs_lng: NDArray[np.float64]
    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    lat_r: NDArray[np.float64]
    lng_r: NDArray[np.float64]
    cos_lat: NDArray[np.float64]
    hours: NDArray[np.int32]  # index into Index.schedules
    view_buf: bytes
    view_off: NDArray[np.int64]

    @classmethod
    def of(cls, entries: Sequence[Entry], schedule_id: Callable[[str], int]) -> Columns:
        entries = sorted(entries, key=lambda e: e.id)
        wlat = np.array([e.wgs_lat for e in entries], dtype=np.float64)
        wlng = np.array([e.wgs_lng for e in entries], dtype=np.float64)
        lat_r, lng_r = np.radians(wlat), np.radians(wlng)
        views = [e.view for e in entries]
        offsets = np.zeros(len(views) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in views], out=offsets[1:])
        return cls(
            ids=np.array([e.id for e in entries], dtype=np.int64),
            wgs_lat=wlat, wgs_lng=wlng,
            lat=np.array([e.lat for e in entries], dtype=np.float64),
            lng=np.array([e.lng for e in entries], dtype=np.float64),
            lat_r=lat_r, lng_r=lng_r, cos_lat=np.cos(lat_r),
            hours=np.array([schedule_id(e.hours) for e in entries], dtype=np.int32),
            view_buf=b"".join(views), view_off=offsets,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.ids)

    def view(self, i: int) -> bytes:
        off = self.view_off
        return self.view_buf[off.item(i) : off.item(i + 1)]

    def position(self, facility_id: int) -> int | None:
        i = int(np.searchsorted(self.ids, facility_id))
        return i if i < len(self.ids) and self.ids[i] == facility_id else None


@dataclass
class KindIndex:
    """One kind's facilities as built (grid and tree), plus what changed since."""

    base: Columns
    grid: Grid | None
    tree: cKDTree | None
    alive: NDArray[np.bool_]
    overrides: dict[int, tuple[int, bytes]] = field(default_factory=dict)  # pos -> hours, view
    extra: dict[int, Entry] = field(default_factory=dict)  # id -> moved or added facility
    extra_cols: Columns | None = None  # arrays of ``extra``
    dead: int = 0  # positions no longer shown from the base

    @classmethod
    def build(cls, cols: Columns) -> KindIndex:
        if not len(cols):
            return cls(cols, None, None, np.ones(0, dtype=bool))
        tree = cKDTree(unit_vectors(cols.lat_r, cols.lng_r))
        # The grid's bounds hold for data within 180 degrees of longitude; wider data (say, on both
        # sides of the antimeridian) is left to the tree, which works on the sphere.
        grid = Grid.of(cols) if float(np.ptp(cols.wgs_lng)) <= 180.0 else None
        return cls(cols, grid, tree, np.ones(len(cols), dtype=bool))


@dataclass
class Grid:
    """The base positions bucketed in cells of about ``POINTS_PER_CELL`` facilities (square in
    metres at the middle latitude), cells in row-major order, so a row of neighbouring cells is one
    slice of ``data`` (unit vector x, y, z and the base position, in cell order)."""

    lat0: float
    lng0: float
    ch: float  # cell height, degrees
    cw: float  # cell width, degrees
    nrows: int
    ncols: int
    offsets: list[int]  # start of each cell in cell order, and the end
    data: NDArray[np.float64]

    @classmethod
    def of(cls, cols: Columns) -> Grid:
        lat0, lat1 = float(cols.wgs_lat.min()), float(cols.wgs_lat.max())
        lng0, lng1 = float(cols.wgs_lng.min()), float(cols.wgs_lng.max())
        k = max(0.05, math.cos(math.radians((lat0 + lat1) / 2)))
        height_m = max(lat1 - lat0, 1e-6) * M_PER_DEG
        width_m = max(lng1 - lng0, 1e-6) * M_PER_DEG * k
        cells = min(MAX_CELLS, max(1, len(cols) // POINTS_PER_CELL))
        side_m = max(MIN_CELL_M, math.sqrt(height_m * width_m / cells))
        ch, cw = side_m / M_PER_DEG, side_m / (M_PER_DEG * k)
        nrows = min(MAX_CELLS, int((lat1 - lat0) // ch) + 1)
        ncols = max(1, min(MAX_CELLS // nrows, int((lng1 - lng0) // cw) + 1))
        cw = max(cw, (lng1 - lng0) / ncols * (1 + 1e-12))
        row = np.minimum(((cols.wgs_lat - lat0) // ch).astype(np.int64), nrows - 1)
        col = np.minimum(((cols.wgs_lng - lng0) // cw).astype(np.int64), ncols - 1)
        cell = row * ncols + col
        order = np.argsort(cell, kind="stable")
        counts = np.bincount(cell, minlength=nrows * ncols)
        offsets = np.zeros(nrows * ncols + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        xyz = unit_vectors(cols.lat_r[order], cols.lng_r[order])
        data = np.column_stack((xyz, order.astype(np.float64)))
        return cls(lat0, lng0, ch, cw, nrows, ncols, offsets.tolist(), data)


class Hit(NamedTuple):
    """One result: distance, the facility's id, positions and shown JSON, and whether it is open."""

    distance_m: float
    id: int
    wgs_lat: float
    wgs_lng: float
    lat: float
    lng: float
    open_now: bool | None
    view: bytes


# ---------------------------------------------------------------- the index


class Index:
    """Every active facility of every kind; thread-safe; one per process."""

    def __init__(self, read_published: Callable[[], int] | None = None) -> None:
        self.kinds: dict[int, KindIndex] = {}
        self.schedules: list[hours_mod.Schedule] = []
        self._schedule_ids: dict[str, int] = {}
        self.where: dict[int, int] = {}  # facility id -> kind id, for facilities in ``extra``
        self.applied = 0
        self.polled = float("-inf")
        self.read_published = read_published
        self.lock = threading.RLock()
        self.loaded = False
        self.kind_codes: dict[int, str] = {}
        self._open_cache: tuple[Any, NDArray[np.int8]] | None = None
        self.kind_view: tuple[Any, Any] | None = None  # the API's kind lookup, per kind_codes

    # -------------------------------------------------------------- loading and changes

    def schedule_id(self, text: str) -> int:
        found = self._schedule_ids.get(text)
        if found is None:
            found = self._schedule_ids[text] = len(self.schedules)
            self.schedules.append(hours_mod.compiled(text))
        return found

    def load(self, entries: Iterable[Entry], seq: int, kind_codes: dict[int, str]) -> None:
        """(Re)build every kind from these entries, which reflect the database at ``seq``."""
        by_kind: dict[int, list[Entry]] = {}
        for e in entries:
            by_kind.setdefault(e.kind_id, []).append(e)
        kinds = {}
        for kind_id, items in by_kind.items():
            kinds[kind_id] = KindIndex.build(Columns.of(items, self.schedule_id))
        with self.lock:
            self.kinds, self.where, self.applied, self.loaded = kinds, {}, seq, True
            self.kind_codes = dict(kind_codes)

    def apply(self, changed: Iterable[tuple[Entry, bool]], seq: int) -> None:
        """Apply facilities written after ``applied`` (entry, still active) up to ``seq``.

        Queries run without the lock: each kind touched is copied, changed and then published
        whole, so a query sees one kind's state either before or after the batch."""
        with self.lock:
            staged: dict[int, KindIndex] = {}
            where = dict(self.where)

            def stage(kind_id: int) -> KindIndex:
                ki = staged.get(kind_id)
                if ki is None:
                    old = self.kinds.get(kind_id)
                    if old is None:
                        old = KindIndex.build(Columns.of([], self.schedule_id))
                    ki = staged[kind_id] = KindIndex(
                        old.base,
                        old.grid,
                        old.tree,
                        old.alive.copy(),
                        dict(old.overrides),
                        dict(old.extra),
                        None,
                        old.dead,
                    )
                return ki

            for entry, active in changed:
                old_kind = where.pop(entry.id, None)
                if old_kind is not None:
                    stage(old_kind).extra.pop(entry.id, None)
                found = self._in_base(entry.id)
                if found is not None:
                    kind_id, pos = found
                    ki = stage(kind_id)
                    cols = ki.base
                    if (active and kind_id == entry.kind_id and cols.wgs_lat[pos] == entry.wgs_lat
                            and cols.wgs_lng[pos] == entry.wgs_lng):  # fmt: skip
                        ki.overrides[pos] = (self.schedule_id(entry.hours), entry.view)
                        continue  # in place: the tree still holds it
                    ki.alive[pos] = False
                    ki.dead += 1
                    ki.overrides.pop(pos, None)
                if active:
                    stage(entry.kind_id).extra[entry.id] = entry
                    where[entry.id] = entry.kind_id
            for ki in staged.values():
                ki.extra_cols = Columns.of(list(ki.extra.values()), self.schedule_id)
            self.kinds = {**self.kinds, **staged}
            self.where = where
            self.applied = max(self.applied, seq)

    def _in_base(self, facility_id: int) -> tuple[int, int] | None:
        """(kind id, position) of a facility still shown from a tree."""
        for kind_id, ki in self.kinds.items():
            pos = ki.base.position(facility_id)
            if pos is not None and ki.alive[pos]:
                return kind_id, pos
        return None

    def pending(self) -> int:
        """How many facilities sit outside the trees (brute-forced on every query)."""
        return len(self.where)

    # -------------------------------------------------------------- search

    def open_states(self, at: datetime) -> NDArray[np.int8]:
        """Per schedule: 1 open, 0 closed, -1 unknown at ``at`` (kept for the minute)."""
        key = (at.replace(second=0, microsecond=0), len(self.schedules))
        cached = self._open_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        states = np.array([{True: 1, False: 0, None: -1}[s.is_open(at)] for s in self.schedules],
                          dtype=np.int8)  # fmt: skip
        self._open_cache = (key, states)
        return states

    def nearest(
        self, kind_id: int, wgs_lat: float, wgs_lng: float, limit: int,
        radius_m: float | None = None, at: datetime | None = None, open_only: bool = False,
    ) -> list[Hit]:  # fmt: skip
        """The ``limit`` nearest active facilities of the kind (ordered by distance, then id),
        within ``radius_m`` if given; with ``open_only``, without those known to be closed at
        ``at``. ``open_now`` of each hit is evaluated at ``at`` (None when ``at`` is None)."""
        ki = self.kinds.get(kind_id)
        if ki is None or limit <= 0:
            return []
        states = self.open_states(at) if at is not None else None
        closed = states == 0 if open_only and states is not None else None
        hits: list[tuple[float, int, Columns, int]] = []
        found = None
        if ki.grid is not None:
            found = self._grid_candidates(ki, wgs_lat, wgs_lng, limit, radius_m, closed)
        if found is None and ki.tree is not None:
            found = self._tree_candidates(ki, wgs_lat, wgs_lng, limit, radius_m, closed)
        if found is not None and len(found[0]):
            sel, dist = found
            base = ki.base
            order = np.lexsort((base.ids[sel], dist))[:limit]
            ids = base.ids[sel[order]].tolist()
            hits = list(zip(dist[order].tolist(), ids, [base] * len(ids),
                            sel[order].tolist(), strict=True))  # fmt: skip
        extra = ki.extra_cols
        if extra is not None and len(extra):
            hits.extend(self._extra_candidates(extra, wgs_lat, wgs_lng, radius_m, closed))
            hits.sort(key=lambda h: (h[0], h[1]))
        return self._hits(ki, hits[:limit], states)

    def _hits(self, ki: KindIndex, ranked: list[tuple], states) -> list[Hit]:
        """The ranked (metres, id, columns, position) as Hits."""
        out = []
        overrides = ki.overrides
        for d, fid, cols, i in ranked:
            o = overrides.get(i) if overrides and cols is ki.base else None
            hours, view = o if o is not None else (cols.hours.item(i), cols.view(i))
            open_now = None if states is None else _OPEN.get(states.item(hours))
            out.append(Hit(d, fid, cols.wgs_lat.item(i), cols.wgs_lng.item(i), cols.lat.item(i),
                           cols.lng.item(i), open_now, view))  # fmt: skip
        return out

    def _keep(self, ki: KindIndex, pos: NDArray[np.int64], closed) -> NDArray[np.bool_] | None:
        """Which positions may be shown (alive, and not known closed); None if all."""
        keep = ki.alive[pos] if ki.dead else None
        if closed is not None:
            hours = ki.base.hours[pos]
            if ki.overrides:
                hours = hours.copy()
                for j, p in enumerate(pos.tolist()):
                    o = ki.overrides.get(p)
                    if o is not None:
                        hours[j] = o[0]
            shut = closed[hours]
            keep = ~shut if keep is None else keep & ~shut
        return keep

    def _grid_candidates(
        self, ki: KindIndex, lat: float, lng: float, limit: int, radius_m: float | None, closed,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]] | None:  # fmt: skip
        """Like :meth:`_tree_candidates` from the rings of cells around the point; None when
        ``MAX_RING`` rings do not settle the answer (sparse data: the tree takes over)."""
        g = ki.grid
        p, lam = math.radians(lat), math.radians(lng)
        cos_p = math.cos(p)
        cy = min(max(int((lat - g.lat0) // g.ch), 0), g.nrows - 1)
        cx = min(max(int((lng - g.lng0) // g.cw), 0), g.ncols - 1)
        offsets, ncols, data = g.offsets, g.ncols, g.data
        q = np.array((cos_p * math.cos(lam), cos_p * math.sin(lam), math.sin(p)))
        for r in range(1, MAX_RING + 1):
            y0, y1 = max(cy - r, 0), min(cy + r, g.nrows - 1)
            x0, x1 = max(cx - r, 0), min(cx + r, ncols - 1)
            spans = [(offsets[y * ncols + x0], offsets[y * ncols + x1 + 1])
                     for y in range(y0, y1 + 1)]  # fmt: skip
            # Nothing outside the block is nearer than ``reach`` metres (a side on the grid's
            # edge has nothing beyond it).
            reach = math.inf
            if y0 > 0:
                reach = min(reach, EARTH_RADIUS_M * (p - math.radians(g.lat0 + y0 * g.ch)))
            if y1 < g.nrows - 1:
                reach = min(reach, EARTH_RADIUS_M * (math.radians(g.lat0 + (y1 + 1) * g.ch) - p))
            if x0 > 0:
                west = lam - math.radians(g.lng0 + x0 * g.cw)
                reach = min(reach, EARTH_RADIUS_M * math.asin(min(1.0, cos_p * math.sin(west))))
            if x1 < ncols - 1:
                east = math.radians(g.lng0 + (x1 + 1) * g.cw) - lam
                reach = min(reach, EARTH_RADIUS_M * math.asin(min(1.0, cos_p * math.sin(east))))
            if reach < 0:  # the point is outside the block (clamped to the grid's edge)
                reach = 0.0
            block = np.concatenate([data[a:b] for a, b in spans]) if len(spans) > 1 else \
                data[spans[0][0]:spans[0][1]]  # fmt: skip
            pos = block[:, 3].astype(np.int64)
            keep = self._keep(ki, pos, closed)
            if keep is not None:
                block, pos = block[keep], pos[keep]
            # Squared chords rank the block (monotonic in the great-circle distance); the
            # haversine distances of the few that can rank within the limit order the answer.
            diff = block[:, :3] - q
            c2 = np.einsum("ij,ij->i", diff, diff)
            settled = reach == math.inf or (radius_m is not None and radius_m < reach)
            cut = math.inf
            if len(c2) >= limit:
                cut = math.sqrt(float(np.partition(c2, limit - 1)[limit - 1]))
                kth_m = 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, cut / 2.0))
                settled = settled or kth_m * (1 + _MARGIN) + 1e-3 < reach
            if settled:
                if cut < math.inf:
                    inside = c2 <= (cut + _TINY) ** 2  # every tie of the limit-th kept
                    pos = pos[inside]
                base = ki.base
                dist = distances_m(lat, lng, base.lat_r[pos], base.lng_r[pos], base.cos_lat[pos])
                return _within(pos, dist, limit, radius_m)
        return None

    def _tree_candidates(
        self, ki: KindIndex, lat: float, lng: float, limit: int, radius_m: float | None, closed,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:  # fmt: skip
        """Positions and metres of base facilities that may rank within ``limit``; all of them."""
        base, n = ki.base, len(ki.base)
        p, lam = math.radians(lat), math.radians(lng)
        q = (math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p))
        bound = math.inf if radius_m is None else chord_of(radius_m) * (1 + _MARGIN) + _TINY
        k = min(n, limit + _EXTRA_K)
        while True:
            chords, idx = ki.tree.query(q, k=max(k, 2), distance_upper_bound=bound)
            found = idx < n
            idx, chords = idx[found], chords[found]
            keep = self._keep(ki, idx, closed)
            sel = idx if keep is None else idx[keep]
            dist = distances_m(lat, lng, base.lat_r[sel], base.lng_r[sel], base.cos_lat[sel])
            complete = len(idx) < k or k >= n
            if not complete and len(sel) >= limit:
                # Ranked within the limit: at most the limit-th distance (ties included). Every
                # facility that close has a chord below the farthest candidate's: nothing missed.
                kth = float(np.partition(dist, limit - 1)[limit - 1])
                complete = chord_of(kth) * (1 + _MARGIN) + _TINY < chords[-1]
            if complete:
                return _within(sel, dist, limit, radius_m)
            k = min(n, k * 4)

    def _extra_candidates(self, cols: Columns, lat, lng, radius_m, closed) -> list[tuple]:
        """Every moved or added facility of the kind that passes the filters, as hit tuples."""
        dist = distances_m(lat, lng, cols.lat_r, cols.lng_r, cols.cos_lat)
        out = []
        for i, (d, fid, h) in enumerate(zip(dist.tolist(), cols.ids.tolist(),
                                            cols.hours.tolist(), strict=True)):  # fmt: skip
            if (radius_m is None or d <= radius_m) and (closed is None or not closed[h]):
                out.append((d, fid, cols, i))
        return out


def _within(pos, dist, limit: int, radius_m: float | None):
    """The candidates that can rank within ``limit``: no farther than the limit-th distance
    (ties kept) and, if given, the radius."""
    cut = math.inf if radius_m is None else radius_m
    if len(dist) > limit:
        cut = min(cut, float(np.partition(dist, limit - 1)[limit - 1]))
    if cut == math.inf:
        return pos, dist
    inside = dist <= cut
    return pos[inside], dist[inside]


# ---------------------------------------------------------------- the reference scan


def brute_force(
    entries: Sequence[Entry], kind_id: int, wgs_lat: float, wgs_lng: float, limit: int,
    radius_m: float | None = None, at: datetime | None = None, open_only: bool = False,
) -> list[tuple[float, int]]:  # fmt: skip
    """(metres, id) of the nearest by scanning every entry: what :meth:`Index.nearest` must give."""
    mine = [e for e in entries if e.kind_id == kind_id]
    if open_only and at is not None:
        mine = [e for e in mine if hours_mod.compiled(e.hours).is_open(at) is not False]
    if not mine:
        return []
    lat_r = np.radians(np.array([e.wgs_lat for e in mine], dtype=np.float64))
    lng_r = np.radians(np.array([e.wgs_lng for e in mine], dtype=np.float64))
    dist = distances_m(wgs_lat, wgs_lng, lat_r, lng_r, np.cos(lat_r)).tolist()
    pairs = sorted(zip(dist, (e.id for e in mine), strict=True))
    if radius_m is not None:
        pairs = [p for p in pairs if p[0] <= radius_m]
    return pairs[:limit]


# ---------------------------------------------------------------- from the database


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def view_of(row: Any, kind_code: str) -> bytes:
    """The JSON object shown for a facility (its position and distance are added per query)."""
    schedule = hours_mod.compiled(row.opening_hours or "")
    at = row.free_spaces_at
    return _json({
        "id": row.id, "kind": kind_code, "name": row.name, "address": row.address,
        "opening_hours": row.opening_hours or "", "hours_label": schedule.label,
        "fee": row.fee, "accessible": row.accessible, "capacity": row.capacity,
        "free_spaces": row.free_spaces,
        "free_spaces_at": at.isoformat() + ("Z" if at.tzinfo is None else "") if at else None,
        "nav_url": nav_url(row.lat, row.lng, row.name),
    })  # fmt: skip


def nav_url(lat: float, lng: float, name: str) -> str:
    """Amap's navigation link (GCJ-02): opens the Amap app, or its web page, at the facility."""
    from urllib.parse import quote

    return (f"https://uri.amap.com/marker?position={lng:.6f},{lat:.6f}&name={quote(name)}"
            "&coordinate=gaode&callnative=1&src=zhcg")  # fmt: skip


COLUMNS = (
    Facility.id, Facility.kind_id, Facility.wgs_lat, Facility.wgs_lng, Facility.lat, Facility.lng,
    Facility.name, Facility.address, Facility.opening_hours, Facility.fee, Facility.accessible,
    Facility.capacity, Facility.free_spaces, Facility.free_spaces_at, Facility.status,
    Facility.seq,
)  # fmt: skip


def _entries(rows: Iterable[Any], kind_codes: dict[int, str]) -> Iterable[tuple[Entry, bool, int]]:
    for r in rows:
        entry = Entry(r.id, r.kind_id, r.wgs_lat, r.wgs_lng, r.lat, r.lng, r.opening_hours or "",
                      view_of(r, kind_codes.get(r.kind_id, "")))  # fmt: skip
        active = r.status == FacilityStatus.ACTIVE and r.kind_id in kind_codes
        yield entry, active, r.seq


def _kind_codes() -> dict[int, str]:
    """Active kinds (facilities of inactive kinds are not searchable)."""
    rows = db.session.execute(
        select(FacilityKind.id, FacilityKind.code).where(FacilityKind.is_active.is_(True))
    )
    return {kind_id: code for kind_id, code in rows}


def load_from_db(index: Index) -> None:
    """Build the index from every active facility (streamed in chunks)."""
    from services_nearby.service import current_seq

    seq = current_seq()
    codes = _kind_codes()
    rows = db.session.execute(
        select(*COLUMNS).where(Facility.status == FacilityStatus.ACTIVE, Facility.seq <= seq)
        .execution_options(yield_per=20_000)
    )  # fmt: skip
    index.load((e for e, active, _ in _entries(rows, codes) if active), seq, codes)


def catch_up(index: Index, target: int) -> None:
    """Apply the facilities written after ``index.applied``; rebuild if there are many, or if
    the kinds changed (admins' kind edits take a change number too)."""
    codes = _kind_codes()
    if codes != index.kind_codes:
        load_from_db(index)
        return
    from services_nearby.service import current_seq

    # Never beyond what the database has: a change-number file left from an older database (a
    # restore, a reset) must not make the index skip the writes still to come.
    upto = min(target, current_seq())
    rows = db.session.execute(
        select(*COLUMNS).where(Facility.seq > index.applied, Facility.seq <= upto)
        .order_by(Facility.seq).limit(REBUILD_AFTER + 1)
    ).all()  # fmt: skip
    if len(rows) > REBUILD_AFTER or index.pending() + len(rows) > REBUILD_AFTER:
        load_from_db(index)
        return
    seq = max([upto, index.applied, *(r.seq for r in rows)])
    index.apply(((e, active) for e, active, _ in _entries(rows, codes)), seq)


class Freshness:
    """Decides, per query, whether the index must read changes first (see the module docstring)."""

    def __init__(self, index: Index, poll_seconds: float) -> None:
        self.index = index
        self.poll_seconds = poll_seconds
        self.ahead: int | None = None

    def ensure(self) -> None:
        index = self.index
        published = index.read_published() if index.read_published else 0
        due = time.monotonic() - index.polled >= self.poll_seconds
        if index.loaded and not due and (published <= index.applied or published == self.ahead):
            return
        from services_nearby.service import current_seq

        with index.lock:
            if not index.loaded:
                load_from_db(index)
                index.polled = time.monotonic()
                return
            target = published
            if time.monotonic() - index.polled >= self.poll_seconds:
                target = max(target, current_seq())
                index.polled = time.monotonic()
            if target > index.applied:
                catch_up(index, target)
            # A published number the database has not reached (an older database's file) is
            # not chased on every query; the periodic poll still runs.
            self.ahead = published if published > index.applied else None
