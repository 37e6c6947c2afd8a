"""This process's nearest-search index, kept in step with the database, and the search itself.

The index (:mod:`services_nearby.index`) is built from every active facility on first use (or in
gunicorn's master, :func:`warm`, so the workers share it after the fork) and answers a query
without touching the database, unless it has changes to read first.

Changes: every facility write carries a change number (``seq``, see service.py) and writes the
``facilities`` topic of ``app.changes``, whose commits are announced to every process on the host.
Before each query the index compares the count announced on this host (a mapped file: well under
a microsecond) with the one it last acted on; when it moved, and every ``NEARBY_SYNC_SECONDS``
(1 s: writes on other hosts), it asks the topic's change counter, and when that moved it reads the
facilities changed since the last number it applied (:meth:`Index.apply`); past
``REBUILD_AFTER`` facilities outside the built trees it is rebuilt from the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import select

from app import changes
from app.errors import NotFound
from app.extensions import db
from app.geo import coords, regions
from services_nearby import hours as hours_mod
from services_nearby.index import Entry, Found, Index
from services_nearby.models import FACILITIES_TOPIC, Facility, FacilityKind, FacilityStatus
from services_nearby.service import current_seq, kinds

REBUILD_AFTER = 5_000
SHANGHAI = ZoneInfo("Asia/Shanghai")


# ---------------------------------------------------------------- the search


def get_index(app: Flask) -> tuple[Index, Freshness]:
    """This process's index and its freshness check (built on first use, or by :func:`warm`)."""
    state = app.extensions.get("nearby_index")
    if state is None:
        index = Index()
        poll = app.config["NEARBY_SYNC_SECONDS"]
        fresh = Freshness(index, poll, changes.announced(FACILITIES_TOPIC, app))
        state = app.extensions.setdefault("nearby_index", (index, fresh))
    return state


def warm(app: Flask) -> None:
    """Load the index now (gunicorn's master calls this, so workers share it after the fork)."""
    with app.app_context():
        get_index(app)[1].ensure()


def now() -> datetime:
    """Local time in the city (the tests freeze it)."""
    return datetime.now(SHANGHAI)


class Notice(NamedTuple):
    """Why the list is not "around you": the nearest is farther than NEARBY_FAR_KM, or the point
    lies outside the city (then, if nothing is near either, the search started at the centre)."""

    far: bool
    outside_city: bool
    from_centre: bool
    message: str


class Answer(NamedTuple):
    """A query's answer: the kind (JSON), the facilities, the time, the point the distances are
    measured from (the caller's, or the city centre; in the caller's system) and the notice."""

    kind: bytes
    found: Found
    at: datetime
    origin: tuple[float, float]
    notice: Notice | None


def search_nearby(args: dict[str, Any]) -> Answer:
    """Run a parsed query (kind, lat, lng, coord_sys, limit, radius, open_now); 404 unknown_kind.
    A caller far from every facility or outside the city is told so (:func:`remoteness`)."""
    index, fresh = get_index(current_app._get_current_object())  # type: ignore[attr-defined]
    fresh.ensure()
    known = _kind_map(index).get(args["kind"])
    if known is None:
        raise NotFound("没有这种设施类型", code="unknown_kind")
    kind_id, kind, name = known
    lat, lng, system = args["lat"], args["lng"], args["coord_sys"]
    wgs = (lat, lng) if system == "wgs84" else coords.convert(lat, lng, system, "wgs84")
    at = now()

    def find(point: tuple[float, float]) -> Found:
        return index.find(kind_id, *point, args["limit"], args["radius"], at, args["open_now"])

    found = find(wgs)
    nearest = found.ranked[0][0] if found.ranked else None
    notice, centre = remoteness((lat, lng), system, nearest, name)
    if centre is None:
        return Answer(kind, found, at, (lat, lng), notice)
    return Answer(kind, find(coords.convert(*centre, coords.CANONICAL, "wgs84")), at,
                  coords.from_canonical(*centre, system), notice)  # fmt: skip


def remoteness(
    point: tuple[float, float], system: str, nearest_m: float | None, name: str
) -> tuple[Notice | None, tuple[float, float] | None]:
    """(the notice, the GCJ-02 centre to search from instead, or None). The usual query (inside
    the box around the city's regions, something within NEARBY_FAR_KM) costs a box test; only a
    far or boxed-out one is located (``app.geo.regions``, the one rule of "inside the city")."""
    found = regions.snapshot()
    box = found.bbox
    far_km = current_app.config["NEARBY_FAR_KM"]
    far = nearest_m is None or nearest_m > far_km * 1000
    if box is None:  # no regions: nothing is known to be outside
        return (_far(far_km, name) if far and nearest_m is not None else None), None
    # The usual query first, in the caller's own system: GCJ-02 and BD-09 lie within 0.015
    # degrees of WGS-84, so a point that far inside the box is inside it in every system.
    margin = 0.0 if system == coords.CANONICAL else 0.02
    lat, lng = point
    if not far and (box[0] + margin <= lat <= box[2] - margin
                    and box[1] + margin <= lng <= box[3] - margin):  # fmt: skip
        return None, None
    lat, lng = coords.to_canonical(lat, lng, system)
    boxed = box[0] <= lat <= box[2] and box[1] <= lng <= box[3]
    if boxed and not far:
        return None, None
    outside = not boxed or found.locate(lat, lng) is None
    if not outside:
        return (_far(far_km, name) if nearest_m is not None else None), None
    if not far:
        return Notice(False, True, False, f"您当前不在本市范围内，以下为离您最近的{name}"), None
    message = f"您当前不在本市范围内，以下为距离市中心最近的{name}"
    return Notice(True, True, True, message), found.centre


def _far(far_km: float, name: str) -> Notice:
    return Notice(True, False, False, f"您附近 {far_km:g} 公里内没有{name}，以下为离您最近的{name}")


def _kind_map(index: Index) -> dict[str, tuple[int, bytes, str]]:
    """Kind code -> (kind id, the kind as the answer shows it in JSON, its name)."""
    key = (id(index.kind_codes), index.applied)  # kind edits take a change number too
    cached = index.kind_view
    if cached is None or cached[0] != key:
        names = {k.code: {"code": k.code, "name": k.name, "title": k.title} for k in kinds()}
        view = {code: (kid, _json(names.get(code, {"code": code})),
                       names.get(code, {}).get("name") or "设施")
                for kid, code in index.kind_codes.items()}  # fmt: skip
        cached = index.kind_view = (key, view)
    return cached[1]


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
    seq = current_seq()
    codes = _kind_codes()
    rows = db.session.execute(
        select(*COLUMNS).where(Facility.status == FacilityStatus.ACTIVE, Facility.seq <= seq)
        .execution_options(yield_per=20_000)
    )  # fmt: skip
    index.load((e for e, active, _ in _entries(rows, codes) if active), seq, codes)


def catch_up(index: Index) -> None:
    """Apply the facilities written after ``index.applied``; rebuild if there are many, or if
    the kinds changed (admins' kind edits take a change number too)."""
    codes = _kind_codes()
    if codes != index.kind_codes:
        load_from_db(index)
        return
    upto = current_seq()
    if upto <= index.applied:
        return
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
    """Decides, per query, whether the index must read changes first.

    The fast path reads the facilities topic's count announced on this host (``announced``, a
    mapped file) and the clock: well under a microsecond. When the count moved, or every
    ``poll_seconds`` (writes on other hosts), it asks the topic's change counter
    (``app.changes.Watch``, one primary-key read) and reads the facilities only if that moved.
    """

    def __init__(self, index: Index, poll_seconds: float, announced: Callable[[], int]) -> None:
        self.index = index
        self.poll_seconds = poll_seconds
        self.announced = announced
        self.watch = changes.Watch(FACILITIES_TOPIC)
        self.heard: int | None = None  # the announced count the index has acted on
        self.generation: int | None = None  # the watch's generation the index reflects
        self.polled = float("-inf")

    def ensure(self) -> None:
        """Bring the index up to date if anything says it may be behind."""
        heard = self.announced()
        if heard == self.heard and time.monotonic() - self.polled < self.poll_seconds:
            return
        with self.index.lock:
            if heard == self.heard and time.monotonic() - self.polled < self.poll_seconds:
                return  # another thread has just done it
            # The count is read before the counter: a commit announced after this read moves
            # the count again, so the next query looks again.
            generation = self.watch.current(interval=0.0)
            self.polled = time.monotonic()
            if not self.index.loaded:
                load_from_db(self.index)
            elif generation != self.generation or self.watch.seen[0] is None:
                catch_up(self.index)  # (no counter row: a database not migrated this far)
            self.heard, self.generation = heard, generation
