"""Exact nearest-facility search in memory (the process's index is kept in step with the database
by :mod:`services_nearby.nearest`).

Per kind, the facilities' WGS-84 positions are unit vectors in a k-d tree, built and searched by
the compiled module ``_nearby`` (services_nearby/_nearby.c, built by ``pip install -e .``). The
distance is the great-circle distance of the chord between two unit vectors, computed by one C
function that the brute-force scan of the tests (:func:`brute_force`) calls too, so both give the
same bits. The tree prunes by the chord to each node's bounding box and keeps every facility that
could rank within the limit (a margin of 1e-9 relative covers rounding); the answer is ordered by
distance with ties broken by id, exactly as a scan of every facility orders it, filters (removed
facilities, ``open_now``, the radius) included. The argument is in _nearby.c's header.

What a result shows (name, address, hours, fee, spaces ...) is pre-serialised JSON per facility in
one bytes buffer, so an answer is assembled without touching the database: :meth:`Found.json`
writes the API's items in C straight from those bytes, :meth:`Found.hits` gives them as objects.

Changes: :meth:`Index.apply` takes the facilities written since the build: an edit in place
replaces the shown JSON (and the hours), a move, a new facility or a change of kind goes to a small
per-kind tree of its own searched alongside the first, a removal hides the facility.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from app.geo import coords
from services_nearby import _nearby
from services_nearby import hours as hours_mod

LEAF_SIZE = 16  # facilities per leaf of the k-d tree (at most)
_OPEN = {1: True, 0: False}


# ---------------------------------------------------------------- distance (one definition)


def unit_vectors(wgs_lat: ArrayLike, wgs_lng: ArrayLike) -> NDArray[np.float64]:
    """Positions (degrees) as points on the unit sphere, one row each."""
    lat = np.ascontiguousarray(wgs_lat, dtype=np.float64)
    lng = np.ascontiguousarray(wgs_lng, dtype=np.float64)
    return np.frombuffer(_nearby.unit_vectors(lat, lng)).reshape(-1, 3)


def distances_m(lat: float, lng: float, xyz: NDArray[np.float64]) -> NDArray[np.float64]:
    """Great-circle metres from (lat, lng) in degrees to points given by :func:`unit_vectors`:
    the distance the search ranks by and reports."""
    return np.frombuffer(_nearby.distances(xyz, lat, lng))


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


class Tree(NamedTuple):
    """A k-d tree of unit vectors as ``_nearby.build`` lays it out: the points in tree order,
    their positions in the columns, a bounding box per node (node 1 the root), the leaves' depth."""

    xyz: NDArray[np.float64]
    order: NDArray[np.int32]
    boxes: NDArray[np.float64]
    depth: int

    @classmethod
    def of(cls, xyz: NDArray[np.float64]) -> Tree:
        points, order, boxes, depth = _nearby.build(xyz, LEAF_SIZE)
        return cls(np.frombuffer(points).reshape(-1, 3), np.frombuffer(order, dtype=np.int32),
                   np.frombuffer(boxes).reshape(-1, 6), depth)  # fmt: skip


@dataclass
class Columns:
    """Facilities of one kind as arrays (sorted by id), their views in one buffer, and a tree."""

    ids: NDArray[np.int64]
    wgs_lat: NDArray[np.float64]
    wgs_lng: NDArray[np.float64]
    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    hours: NDArray[np.int32]  # index into Index.schedules
    view_buf: bytes
    view_off: NDArray[np.int64]
    tree: Tree

    @classmethod
    def of(cls, entries: Sequence[Entry], schedule_id: Callable[[str], int]) -> Columns:
        entries = sorted(entries, key=lambda e: e.id)
        wlat = np.array([e.wgs_lat for e in entries], dtype=np.float64)
        wlng = np.array([e.wgs_lng for e in entries], dtype=np.float64)
        views = [e.view for e in entries]
        offsets = np.zeros(len(views) + 1, dtype=np.int64)
        np.cumsum([len(v) for v in views], out=offsets[1:])
        return cls(
            ids=np.array([e.id for e in entries], dtype=np.int64),
            wgs_lat=wlat, wgs_lng=wlng,
            lat=np.array([e.lat for e in entries], dtype=np.float64),
            lng=np.array([e.lng for e in entries], dtype=np.float64),
            hours=np.array([schedule_id(e.hours) for e in entries], dtype=np.int32),
            view_buf=b"".join(views), view_off=offsets,
            tree=Tree.of(unit_vectors(wlat, wlng)),
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
    """One kind's facilities as built, plus what changed since; never changed once published
    (:meth:`Index.apply` publishes new ones).

    The search runs over the base's tree and the extra facilities' tree, positions numbered
    across both (base first): ``sources`` and ``shown`` are what ``_nearby`` reads."""

    base: Columns
    alive: NDArray[np.bool_] | None = None  # by base position; None: every one still shown
    hours: NDArray[np.int32] | None = None  # by base position, edits in place; None: as built
    views: dict[int, bytes] = field(default_factory=dict)  # base position -> view edited in place
    extra: dict[int, Entry] = field(default_factory=dict)  # id -> moved or added facility
    extra_cols: Columns | None = None  # ``extra`` as columns and a tree
    sources: tuple = field(init=False, repr=False)
    shown: dict[bool, tuple] = field(init=False, repr=False)  # WGS-84 or not -> view sources

    def __post_init__(self) -> None:
        parts = [(self.base, self.alive, self.hours_now, self.views or None)]
        if self.extra_cols is not None and len(self.extra_cols):
            parts.append((self.extra_cols, None, self.extra_cols.hours, None))
        self.sources = tuple((c.tree.xyz, c.tree.order, c.tree.boxes, c.tree.depth, c.ids, alive,
                              hours) for c, alive, hours, _ in parts)  # fmt: skip
        self.shown = {
            wgs: tuple(((c.wgs_lat, c.wgs_lng) if wgs else (c.lat, c.lng))
                       + (hours, c.view_buf, c.view_off, views) for c, _, hours, views in parts)
            for wgs in (True, False)
        }  # fmt: skip

    @property
    def hours_now(self) -> NDArray[np.int32]:
        return self.base.hours if self.hours is None else self.hours

    def at(self, pos: int) -> tuple[Columns, int, int, bytes]:
        """Columns, row, schedule and shown JSON of a position as numbered in ``sources``."""
        cols, i, hours = self.base, pos, self.hours_now
        if pos >= len(cols.ids):
            cols, i = self.extra_cols, pos - len(cols.ids)
            hours = cols.hours
        view = self.views.get(i) if self.views and cols is self.base else None
        return cols, i, hours.item(i), cols.view(i) if view is None else view


class _Draft:
    """A kind being changed by :meth:`Index.apply`; its arrays are copied on their first change."""

    def __init__(self, ki: KindIndex) -> None:
        self.base = ki.base
        self.alive, self.hours = ki.alive, ki.hours
        self.views, self.extra = dict(ki.views), dict(ki.extra)
        self.copied: set[str] = set()

    def hide(self, pos: int) -> None:
        if "alive" not in self.copied:
            self.copied.add("alive")
            n = len(self.base)
            self.alive = np.ones(n, dtype=bool) if self.alive is None else self.alive.copy()
        self.alive[pos] = False
        self.views.pop(pos, None)

    def edit(self, pos: int, hours: int, view: bytes) -> None:
        now = self.base.hours if self.hours is None else self.hours
        if now.item(pos) != hours:
            if "hours" not in self.copied:
                self.copied.add("hours")
                self.hours = now.copy()
            self.hours[pos] = hours
        self.views[pos] = view

    def done(self, schedule_id: Callable[[str], int]) -> KindIndex:
        extra = Columns.of(list(self.extra.values()), schedule_id) if self.extra else None
        return KindIndex(self.base, self.alive, self.hours, self.views, self.extra, extra)


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


class Found(NamedTuple):
    """A search's answer: (metres, position) in order, positions as numbered in the kind's
    ``sources``; ``states`` gives each schedule's open state (None: not asked)."""

    kind: KindIndex | None
    ranked: list[tuple[float, int]]
    states: NDArray[np.int8] | None

    def hits(self) -> list[Hit]:
        if not self.ranked:
            return []
        out = []
        at, states = self.kind.at, self.states
        for d, pos in self.ranked:
            cols, i, hours, view = at(pos)
            open_now = None if states is None else _OPEN.get(states.item(hours))
            out.append(Hit(d, cols.ids.item(i), cols.wgs_lat.item(i), cols.wgs_lng.item(i),
                           cols.lat.item(i), cols.lng.item(i), open_now, view))  # fmt: skip
        return out

    def json(self, system: coords.CoordSys) -> bytes:
        """The API's ``items`` array: per hit its distance (0.1 m), open state, position in
        ``system`` (0.0000001 degrees) and the facility's shown JSON."""
        if not self.ranked:
            return b"[]"
        wgs = system == coords.CoordSys.WGS84
        positions = None
        if system == coords.CoordSys.BD09:
            positions = [coords.convert(h.lat, h.lng, coords.CoordSys.GCJ02, system)
                         for h in self.hits()]  # fmt: skip
        return _nearby.items(self.ranked, self.kind.shown[wgs], self.states, positions)


NOTHING = Found(None, [], None)


# ---------------------------------------------------------------- the index


class Index:
    """Every active facility of every kind; thread-safe; one per process."""

    def __init__(self) -> None:
        self.kinds: dict[int, KindIndex] = {}
        self.schedules: list[hours_mod.Schedule] = []
        self._schedule_ids: dict[str, int] = {}
        self.where: dict[int, int] = {}  # facility id -> kind id, for facilities in ``extra``
        self.applied = 0  # the change number (seq) the index reflects
        self.lock = threading.RLock()
        self.loaded = False
        self.kind_codes: dict[int, str] = {}
        self._open_cache: tuple[Any, NDArray[np.int8], NDArray[np.bool_]] | None = None
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
        kinds = {kind_id: KindIndex(Columns.of(items, self.schedule_id))
                 for kind_id, items in by_kind.items()}  # fmt: skip
        with self.lock:
            self.kinds, self.where, self.applied, self.loaded = kinds, {}, seq, True
            self.kind_codes = dict(kind_codes)

    def apply(self, changed: Iterable[tuple[Entry, bool]], seq: int) -> None:
        """Apply facilities written after ``applied`` (entry, still active) up to ``seq``.

        Queries run without the lock: each kind touched is copied, changed and then published
        whole, so a query sees one kind's state either before or after the batch."""
        with self.lock:
            drafts: dict[int, _Draft] = {}
            where = dict(self.where)

            def draft(kind_id: int) -> _Draft:
                d = drafts.get(kind_id)
                if d is None:
                    old = self.kinds.get(kind_id)
                    if old is None:
                        old = KindIndex(Columns.of([], self.schedule_id))
                    d = drafts[kind_id] = _Draft(old)
                return d

            for entry, active in changed:
                old_kind = where.pop(entry.id, None)
                if old_kind is not None:
                    draft(old_kind).extra.pop(entry.id, None)
                found = self._in_base(entry.id)
                if found is not None:
                    kind_id, pos = found
                    d = draft(kind_id)
                    cols = d.base
                    if (active and kind_id == entry.kind_id and cols.wgs_lat[pos] == entry.wgs_lat
                            and cols.wgs_lng[pos] == entry.wgs_lng):  # fmt: skip
                        d.edit(pos, self.schedule_id(entry.hours), entry.view)
                        continue  # in place: the tree still holds it
                    d.hide(pos)
                if active:
                    draft(entry.kind_id).extra[entry.id] = entry
                    where[entry.id] = entry.kind_id
            staged = {kind_id: d.done(self.schedule_id) for kind_id, d in drafts.items()}
            self.kinds = {**self.kinds, **staged}
            self.where = where
            self.applied = max(self.applied, seq)

    def _in_base(self, facility_id: int) -> tuple[int, int] | None:
        """(kind id, position) of a facility still shown from a kind's base."""
        for kind_id, ki in self.kinds.items():
            pos = ki.base.position(facility_id)
            if pos is not None and (ki.alive is None or ki.alive[pos]):
                return kind_id, pos
        return None

    def pending(self) -> int:
        """How many facilities sit outside the bases (in the small per-kind trees)."""
        return len(self.where)

    # -------------------------------------------------------------- search

    def open_states(self, at: datetime) -> tuple[NDArray[np.int8], NDArray[np.bool_]]:
        """Per schedule: 1 open, 0 closed, -1 unknown at ``at``, and whether known closed (kept
        for the minute)."""
        key = (at.minute, at.hour, at.day, at.month, at.year, at.tzinfo, at.fold,
               len(self.schedules))  # fmt: skip
        cached = self._open_cache
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        states = np.array([{True: 1, False: 0, None: -1}[s.is_open(at)] for s in self.schedules],
                          dtype=np.int8)  # fmt: skip
        self._open_cache = (key, states, states == 0)
        return states, self._open_cache[2]

    def find(
        self, kind_id: int, wgs_lat: float, wgs_lng: float, limit: int,
        radius_m: float | None = None, at: datetime | None = None, open_only: bool = False,
    ) -> Found:  # fmt: skip
        """The ``limit`` nearest active facilities of the kind (ordered by distance, then id),
        within ``radius_m`` if given; with ``open_only``, without those known to be closed at
        ``at``. Open states are those at ``at`` (unknown when ``at`` is None)."""
        ki = self.kinds.get(kind_id)
        if ki is None or limit <= 0:
            return NOTHING
        states = closed = None
        if at is not None:
            states, closed = self.open_states(at)
        ranked = _nearby.nearest(ki.sources, wgs_lat, wgs_lng, limit, radius_m,
                                 closed if open_only else None)  # fmt: skip
        return Found(ki, ranked, states)

    def nearest(
        self, kind_id: int, wgs_lat: float, wgs_lng: float, limit: int,
        radius_m: float | None = None, at: datetime | None = None, open_only: bool = False,
    ) -> list[Hit]:  # fmt: skip
        """:meth:`find`'s answer as :class:`Hit` objects."""
        return self.find(kind_id, wgs_lat, wgs_lng, limit, radius_m, at, open_only).hits()


# ---------------------------------------------------------------- the reference scan


def brute_force(
    entries: Sequence[Entry], kind_id: int, wgs_lat: float, wgs_lng: float, limit: int,
    radius_m: float | None = None, at: datetime | None = None, open_only: bool = False,
) -> list[tuple[float, int]]:  # fmt: skip
    """(metres, id) of the nearest by scanning every entry: what :meth:`Index.nearest` must give."""
    mine = [e for e in entries if e.kind_id == kind_id]
    if open_only and at is not None:
        mine = [e for e in mine if hours_mod.compiled(e.hours).is_open(at) is not False]
    if not mine or limit <= 0:
        return []
    xyz = unit_vectors([e.wgs_lat for e in mine], [e.wgs_lng for e in mine])
    pairs = sorted(zip(distances_m(wgs_lat, wgs_lng, xyz).tolist(), (e.id for e in mine),
                       strict=True))  # fmt: skip
    if radius_m is not None:
        pairs = [p for p in pairs if p[0] <= radius_m]
    return pairs[:limit]
