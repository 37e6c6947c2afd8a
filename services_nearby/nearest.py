"""This process's nearest-search index, kept in step with the database, and the search itself.

The index (:mod:`services_nearby.index`) answers a query without touching the database, unless it
has changes to read first. Its base is an image of every active facility.

One image per host, shared. With ``NEARBY_INDEX_DIR`` set (the default: ``nearby-index`` in the
instance folder), the image is a file there, named by the database and the change number it
reflects, which every process of the host maps read-only: its pages sit once in the page cache,
however many workers answer from it. A process that needs an image (the first query, gunicorn's
master in :func:`warm`, or too many changes since its image) takes the newest file it finds whole
if at most ``REBUILD_AFTER`` facilities changed since, and applies those; otherwise it takes the
folder's lock and, unless another process has just written a good enough file meanwhile, builds
one from the database (streamed in chunks, written to a temporary name, renamed into place) and
removes the older ones (a process still mapping one keeps it until it moves on). The others wait
for the lock and then take the new file. A file that is truncated or damaged (size or CRC-32
wrong) is removed and rebuilt. Without the setting (the test suite: its transactions roll back,
so change numbers repeat with other contents) the image is built in memory per process. Each
app node (host) keeps its own folder; the database's change counters keep them in step.

Changes: every facility write carries a change number (``seq``, see service.py) and writes the
``facilities`` topic of ``app.changes``, whose commits are announced to every process on the host.
Before each query the index compares the count announced on this host (a mapped file: well under
a microsecond) with the one it last acted on; when it moved, and every ``NEARBY_SYNC_SECONDS``
(1 s: writes on other hosts), it asks the topic's change counter, and when that moved it reads the
facilities changed since the last number it applied (:meth:`Index.apply`); past
``REBUILD_AFTER`` facilities outside the image's trees it moves to a newer image as above.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import changes
from app.errors import NotFound
from app.extensions import db
from app.geo import coords, regions
from services_nearby import hours as hours_mod
from services_nearby.index import (
    BadImage,
    Entry,
    Found,
    Image,
    ImageWriter,
    Index,
    Shown,
    view_json,
)
from services_nearby.models import FACILITIES_TOPIC, Facility, FacilityKind, FacilityStatus
from services_nearby.service import current_seq, kinds

log = logging.getLogger(__name__)
REBUILD_AFTER = 5_000
CHUNK = 20_000  # facilities read from the database at a time while building
SHANGHAI = ZoneInfo("Asia/Shanghai")
BUILDS = 0  # images this process built (memory or file): what the tests count


# ---------------------------------------------------------------- the search


def get_index(app: Flask) -> tuple[Index, Freshness]:
    """This process's index and its freshness check (built on first use, or by :func:`warm`)."""
    state = app.extensions.get("nearby_index")
    if state is None:
        index = Index()
        poll = app.config["NEARBY_SYNC_SECONDS"]
        fresh = Freshness(index, poll, changes.announced(FACILITIES_TOPIC, app), Store.of(app))
        state = app.extensions.setdefault("nearby_index", (index, fresh))
    return state


def warm(app: Flask) -> None:
    """Load the index now (gunicorn's master calls this: the workers it forks have it, mapping
    the same file, and none of them builds or checks it again)."""
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
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    index, fresh = get_index(app)
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
    notice, centre = remoteness((lat, lng), system, nearest, name, app.config["NEARBY_FAR_KM"])
    if centre is None:
        return Answer(kind, found, at, (lat, lng), notice)
    return Answer(kind, find(coords.convert(*centre, coords.CANONICAL, "wgs84")), at,
                  coords.from_canonical(*centre, system), notice)  # fmt: skip


def remoteness(
    point: tuple[float, float], system: str, nearest_m: float | None, name: str,
    far_km: float | None = None,
) -> tuple[Notice | None, tuple[float, float] | None]:  # fmt: skip
    """(the notice, the GCJ-02 centre to search from instead, or None). The usual query (inside
    the box around the city's regions, something within NEARBY_FAR_KM) costs a box test; only a
    far or boxed-out one is located (``app.geo.regions``, the one rule of "inside the city")."""
    found = regions.snapshot()
    box = found.bbox
    if far_km is None:
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


def shown_of(row: Any) -> Shown:
    """What a facility row shows besides its id, kind, hours and link."""
    at = row.free_spaces_at
    return Shown(row.name, row.address, row.fee, row.accessible, row.capacity, row.free_spaces,
                 at.isoformat() + ("Z" if at.tzinfo is None else "") if at else None)  # fmt: skip


def view_of(row: Any, kind_code: str) -> bytes:
    """The JSON object shown for a facility (its position and distance are added per query)."""
    hours = row.opening_hours or ""
    return view_json(row.id, kind_code, hours, hours_mod.compiled(hours).label, row.lat, row.lng,
                     shown_of(row))  # fmt: skip


COLUMNS = (
    Facility.id, Facility.kind_id, Facility.wgs_lat, Facility.wgs_lng, Facility.lat, Facility.lng,
    Facility.name, Facility.address, Facility.opening_hours, Facility.fee, Facility.accessible,
    Facility.capacity, Facility.free_spaces, Facility.free_spaces_at, Facility.status,
    Facility.seq,
)  # fmt: skip


def _entries(rows: Iterable[Any], kind_codes: dict[int, str]) -> Iterable[tuple[Entry, bool, int]]:
    active_status = FacilityStatus.ACTIVE
    for r in rows:
        entry = Entry(r.id, r.kind_id, r.wgs_lat, r.wgs_lng, r.lat, r.lng, r.opening_hours or "",
                      shown_of(r))  # fmt: skip
        yield entry, r.status == active_status and r.kind_id in kind_codes, r.seq


def _kind_codes(session: Any) -> dict[int, str]:
    """Active kinds (facilities of inactive kinds are not searchable)."""
    rows = session.execute(
        select(FacilityKind.id, FacilityKind.code).where(FacilityKind.is_active.is_(True))
    )
    return {kind_id: code for kind_id, code in rows}


def _write_image(session: Any, writer: ImageWriter) -> None:
    """Every active facility up to the writer's change number, streamed in chunks (in id order:
    the columns need no sorting)."""
    rows = session.execute(
        select(*COLUMNS).where(Facility.status == FacilityStatus.ACTIVE, Facility.seq <= writer.seq)
        .order_by(Facility.id).execution_options(yield_per=CHUNK)
    )  # fmt: skip
    codes = writer.kind_codes
    for chunk in rows.partitions():
        writer.add(e for e, active, _ in _entries(chunk, codes) if active)


def load_from_db(index: Index, store: Store | None = None) -> None:
    """Give the index an image of every active facility: a shared file (``store``), else one
    built in memory from ``db.session``."""
    global BUILDS
    if store is not None:
        try:
            store.load(index)
            return
        except OSError:
            log.warning("nearby index: cannot use %s; building in memory", store.folder,
                        exc_info=True)  # fmt: skip
    session = db.session
    writer = ImageWriter(current_seq(session), _kind_codes(session))
    _write_image(session, writer)
    index.use(Image.parse(writer.tobytes()))
    BUILDS += 1
    _trim()


def _reading(store: Store | None) -> Any:
    """The session the index reads through: the caller's (``db.session``: the tests see their
    own uncommitted rows) or, with a shared image, a new one (committed rows only, a snapshot
    taken now: what decides which file is good enough must not be older than the files)."""
    if store is None:
        return contextlib.nullcontext(db.session)
    return Session(db.engine)


def catch_up(index: Index, store: Store | None = None) -> None:
    """Apply the facilities written after ``index.applied``; take a newer image if there are
    many, or if the kinds changed (admins' kind edits take a change number too)."""
    with _reading(store) as session:
        codes = _kind_codes(session)
        if codes == index.kind_codes and _apply(index, session, current_seq(session)):
            return
    load_from_db(index, store)


def _apply(index: Index, session: Any, upto: int, most: int | None = None) -> bool:
    """Apply the facilities written after ``index.applied`` up to ``upto``; False (nothing
    applied) if more than ``most`` (REBUILD_AFTER) changed."""
    most = REBUILD_AFTER if most is None else most
    if upto <= index.applied:
        return True
    rows = session.execute(
        select(*COLUMNS).where(Facility.seq > index.applied, Facility.seq <= upto)
        .order_by(Facility.seq).limit(most + 1)
    ).all()  # fmt: skip
    if len(rows) > most or index.pending() + len(rows) > most:
        return False
    seq = max([upto, index.applied, *(r.seq for r in rows)])
    index.apply(((e, active) for e, active, _ in _entries(rows, index.kind_codes)), seq)
    return True


def _trim() -> None:
    """Hand the heap a build freed back to the system (glibc keeps it otherwise, and a
    preloading master would pass it on to every worker it forks)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


# ---------------------------------------------------------------- the shared image


class Store:
    """The index images of one database in a folder of this host (see the module's docstring).

    Files: ``nearby-<database key>-<seq>.idx`` (the key: a hash of the database URL without its
    password), the lock ``nearby-<key>.lock``; a build writes ``.nearby-<key>-<pid>-<random>.tmp``
    first."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = folder, key
        self._last: Image | None = None  # the image last opened (checked once per process)
        self._last_stat: tuple[int, int, int] | None = None

    @classmethod
    def of(cls, app: Flask) -> Store | None:
        folder = app.config.get("NEARBY_INDEX_DIR")
        if not folder:
            return None
        url = db.engine.url.render_as_string(hide_password=True)
        return cls(Path(folder), hashlib.sha256(url.encode()).hexdigest()[:12])

    def path(self, seq: int) -> Path:
        return self.folder / f"nearby-{self.key}-{seq:012d}.idx"

    def images(self) -> list[tuple[int, Path]]:
        """(seq, path) of this database's image files, newest first."""
        found = []
        for path in self.folder.glob(f"nearby-{self.key}-*.idx"):
            seq = path.stem.rsplit("-", 1)[1]
            if seq.isdigit():
                found.append((int(seq), path))
        return sorted(found, reverse=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The folder's lock for this database: one builder at a time (an flock: released if
        the holder dies)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"nearby-{self.key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def open(self, path: Path) -> Image:
        """The image in ``path``, checked whole the first time this process opens that file."""
        st = path.stat()
        same = (st.st_ino, st.st_size, st.st_mtime_ns)
        last = self._last
        if last is not None and last.path == path and self._last_stat == same:
            return last
        image = Image.open(path)
        if image.db != self.key:
            raise BadImage(f"{path}: built from another database")
        self._last, self._last_stat = image, same
        return image

    def newest(self, upto: int) -> Image | None:
        """The newest whole image that reflects at most change ``upto``; damaged ones are
        removed on the way."""
        for seq, path in self.images():
            if seq > upto:
                continue
            try:
                return self.open(path)
            except FileNotFoundError:
                continue  # replaced meanwhile
            except BadImage as exc:
                log.warning("nearby index: removing a damaged image: %s", exc)
                path.unlink(missing_ok=True)
        return None

    def load(self, index: Index) -> None:
        """Give the index an image no more than REBUILD_AFTER changes behind the database (a file
        that is there, or else one built now) and apply the changes since."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with Session(db.engine) as session:
            if self._adopt(index, session, current_seq(session), _kind_codes(session)):
                return
        with self.locked(), Session(db.engine) as session:  # a snapshot from after the lock
            upto, codes = current_seq(session), _kind_codes(session)
            for seq, path in self.images():
                if seq > upto:  # from a database restored to an earlier state: never valid
                    log.warning("nearby index: removing %s, newer than the database", path)
                    path.unlink(missing_ok=True)
            if self._adopt(index, session, upto, codes):
                return
            image = self._build(session, upto, codes)
        index.use(image)

    def _adopt(self, index: Index, session: Any, upto: int, codes: dict[int, str]) -> bool:
        """Take the newest image if it is newer than the index's and at most REBUILD_AFTER
        facilities changed since it; apply them."""
        image = self.newest(upto)
        if image is None or image.kind_codes != codes:
            return False
        mine = index.image
        if mine is not None and mine.path is not None and image.seq <= mine.seq:
            return False
        behind = session.scalar(select(func.count()).select_from(
            select(Facility.id).where(Facility.seq > image.seq, Facility.seq <= upto)
            .limit(REBUILD_AFTER + 1).subquery()
        ))  # fmt: skip
        if behind > REBUILD_AFTER:
            return False
        staged = Index()  # image and changes published together: no query sees one alone
        staged.use(image)
        if not _apply(staged, session, upto, most=2 * REBUILD_AFTER):
            return False
        index.take(staged)
        return True

    def _build(self, session: Any, upto: int, codes: dict[int, str]) -> Image:
        """Write the image of the database at ``upto`` (under the lock); the older ones go."""
        global BUILDS
        started = time.monotonic()
        for stale in self.folder.glob(f".nearby-{self.key}-*.tmp"):  # a builder that died
            stale.unlink(missing_ok=True)
        writer = ImageWriter(upto, codes, self.key)
        _write_image(session, writer)
        path = self.path(upto)
        tmp = self.folder / f".nearby-{self.key}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            with open(tmp, "wb") as out:
                size = writer.write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.folder)
        BUILDS += 1
        _trim()
        for _, old in self.images():
            if old != path:
                old.unlink(missing_ok=True)  # mapped elsewhere: kept until unmapped
        image = self.open(path)
        log.info("nearby index: %s built (%.0f MB, %d kinds) in %.1f s", path.name, size / 2**20,
                 len(image.kinds), time.monotonic() - started)  # fmt: skip
        return image


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Freshness:
    """Decides, per query, whether the index must read changes first.

    The fast path reads the facilities topic's count announced on this host (``announced``, a
    mapped file) and the clock: well under a microsecond. When the count moved, or every
    ``poll_seconds`` (writes on other hosts), it asks the topic's change counter
    (``app.changes.Watch``, one primary-key read) and reads the facilities only if that moved.
    """

    def __init__(self, index: Index, poll_seconds: float, announced: Callable[[], int],
                 store: Store | None = None) -> None:  # fmt: skip
        self.index = index
        self.poll_seconds = poll_seconds
        self.announced = announced
        self.store = store
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
                load_from_db(self.index, self.store)
            elif generation != self.generation or self.watch.seen[0] is None:
                catch_up(self.index, self.store)  # (no counter row: a database not migrated)
            self.heard, self.generation = heard, generation
