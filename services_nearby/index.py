"""Exact nearest-facility search over an index image (the process's index is kept in step with the
database by :mod:`services_nearby.nearest`).

Per kind, the facilities' WGS-84 positions are unit vectors in a k-d tree, built and searched by
the compiled module ``_nearby`` (services_nearby/_nearby.c, built by ``pip install -e .``). The
distance is the great-circle distance of the chord between two unit vectors, computed by one C
function that the brute-force scan of the tests (:func:`brute_force`) calls too, so both give the
same bits. The tree prunes by the chord to each node's bounding box and keeps every facility that
could rank within the limit (a margin of 1e-9 relative covers rounding); the answer is ordered by
distance with ties broken by id, exactly as a scan of every facility orders it, filters (removed
facilities, ``open_now``, the radius) included. The argument is in _nearby.c's header.

The image. Everything built is one flat image (:class:`ImageWriter`, :class:`Image`): per kind
the tree and the columns in the order of its points (a search and its answer read neighbouring
memory), with what each facility shows as a compact record; the opening hours as a table of
schedule texts. An image is a file the processes of a host map read-only
(``numpy.frombuffer`` over ``mmap``): they share its pages through the page cache instead of
each holding a copy; without a folder it is the same bytes in memory. Layout (little-endian)::

    0      prefix: magic, format, size, the header's offset and length, CRC-32 of bytes 40..size
    4096   the arrays, each at a multiple of 4096: per kind ids, wgs_lat, wgs_lng, lat, lng,
           hours, rec_off, recs, xyz, boxes, by_id
    ...    the header (JSON): seq, database key, kinds with their codes, schedules, and per kind
           its count, tree depth and each array's offset and length

What a result shows. A facility's record is either a whole JSON object (``Entry.view`` bytes) or,
as the database's facilities are stored, the fields of :class:`Shown` in a few bytes each (tag,
length, raw UTF-8); :func:`view_json` defines the JSON object they show, with the id, kind,
opening hours, their label and the Amap link added. :meth:`Found.json` writes the API's items in C
straight from the records (escaping the strings as ``json.dumps`` does), :meth:`Found.hits` gives
them as objects.

Changes: :meth:`Index.apply` takes the facilities written since the image was built: an edit in
place replaces the record (and the hours), a move, a new facility or a change of kind goes to a
small per-kind tree of its own (in memory) searched alongside the image's, a removal hides it.
"""

from __future__ import annotations

import io
import json
import mmap
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple
from urllib.parse import quote

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


# ---------------------------------------------------------------- what a facility shows


class Shown(NamedTuple):
    """A facility's own fields in its answer (the id, kind, hours and link are added)."""

    name: str
    address: str | None
    fee: str | None
    accessible: bool | None
    capacity: int | None
    free_spaces: int | None
    free_spaces_at: str | None  # as shown: ISO 8601, "Z" for UTC


def nav_url(lat: float, lng: float, name: str) -> str:
    """Amap's navigation link (GCJ-02): opens the Amap app, or its web page, at the facility."""
    return (f"https://uri.amap.com/marker?position={lng:.6f},{lat:.6f}&name={quote(name)}"
            "&coordinate=gaode&callnative=1&src=zhcg")  # fmt: skip


def view_json(fid: int, kind_code: str, hours: str, label: str, lat: float, lng: float,
              shown: Shown) -> bytes:  # fmt: skip
    """The JSON object shown for a facility (its distance, open state and position in the
    caller's system are put first per query). ``lat``, ``lng``: GCJ-02. _nearby.c's items()
    writes the same bytes from a record."""
    return json.dumps({
        "id": fid, "kind": kind_code, "name": shown.name, "address": shown.address,
        "opening_hours": hours, "hours_label": label, "fee": shown.fee,
        "accessible": shown.accessible, "capacity": shown.capacity,
        "free_spaces": shown.free_spaces, "free_spaces_at": shown.free_spaces_at,
        "nav_url": nav_url(lat, lng, shown.name),
    }, ensure_ascii=False, separators=(",", ":")).encode()  # fmt: skip


# A record: RAW + a JSON object, or COMPACT + the Shown fields in order, each one tag byte
# (NULL, FALSE, TRUE) or STRING (raw UTF-8) / NUMBER (its JSON text) + a LEB128 length + bytes.
RAW, COMPACT = 0, 1
NULL, FALSE, TRUE, STRING, NUMBER = range(5)


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def record(view: bytes | Shown) -> bytes:
    """A facility's record (see above)."""
    if isinstance(view, bytes):
        return b"\x00" + view
    out = [b"\x01"]
    for value in view:
        if value is None:
            out.append(b"\x00")
        elif value is False or value is True:
            out.append(b"\x02" if value else b"\x01")
        elif isinstance(value, str):
            raw = value.encode()
            out += (b"\x03", _length(len(raw)), raw)
        elif isinstance(value, int):
            raw = str(value).encode()
            out += (b"\x04", _length(len(raw)), raw)
        else:
            raise TypeError(f"a shown field cannot be {type(value).__name__}")
    if not isinstance(view.name, str):
        raise TypeError("a facility's name is text")
    return b"".join(out)


def unpack(rec: bytes) -> bytes | Shown:
    """A record's view (bytes) or fields: the inverse of :func:`record`."""
    if rec[:1] == b"\x00":
        return rec[1:]
    values: list[Any] = []
    pos = 1
    while pos < len(rec):
        tag = rec[pos]
        pos += 1
        if tag <= TRUE:
            values.append((None, False, True)[tag])
            continue
        n = shift = 0
        while True:
            byte = rec[pos]
            pos += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        text = rec[pos : pos + n].decode()
        pos += n
        values.append(text if tag == STRING else int(text))
    return Shown(*values)


# ---------------------------------------------------------------- what is indexed


@dataclass(slots=True)
class Entry:
    """One facility as the index takes it."""

    id: int
    kind_id: int
    wgs_lat: float
    wgs_lng: float
    lat: float  # GCJ-02
    lng: float
    hours: str
    view: bytes | Shown  # the JSON object shown (without distance and position), or its fields


class Tree(NamedTuple):
    """A k-d tree of unit vectors as ``_nearby.build`` lays it out: the points in tree order,
    their positions in the columns (None: the columns are in tree order), a bounding box per node
    (node 1 the root), the leaves' depth."""

    xyz: NDArray[np.float64]
    order: NDArray[np.int32] | None
    boxes: NDArray[np.float64]
    depth: int


class Table:
    """The opening-hours schedules that ``hours`` columns number, in order: compiled, and as the
    JSON an answer shows (the text and its label). One per image; only ever appended to."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.schedules: list[hours_mod.Schedule] = []
        self.texts: list[str] = []
        self.texts_json: list[bytes] = []
        self.labels_json: list[bytes] = []
        self._ids: dict[str, int] = {}
        self._open_cache: tuple[Any, NDArray[np.int8], NDArray[np.bool_]] | None = None
        for text in texts:
            self.id(text)

    def id(self, text: str) -> int:
        found = self._ids.get(text)
        if found is None:
            schedule = hours_mod.compiled(text)
            self.schedules.append(schedule)
            self.texts.append(text)
            self.texts_json.append(json.dumps(text, ensure_ascii=False).encode())
            self.labels_json.append(json.dumps(schedule.label, ensure_ascii=False).encode())
            found = self._ids[text] = len(self.schedules) - 1
        return found

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


class _Rows:
    """One kind's facilities as they arrive (in chunks: only arrays are kept between them)."""

    def __init__(self) -> None:
        self.chunks: list[tuple[NDArray[Any], ...]] = []
        self.recs = bytearray()

    def add(self, entries: Sequence[Entry], schedule_id: Callable[[str], int]) -> None:
        n = len(entries)
        recs = [record(e.view) for e in entries]
        self.chunks.append((
            np.fromiter((e.id for e in entries), np.int64, n),
            np.fromiter((e.wgs_lat for e in entries), np.float64, n),
            np.fromiter((e.wgs_lng for e in entries), np.float64, n),
            np.fromiter((e.lat for e in entries), np.float64, n),
            np.fromiter((e.lng for e in entries), np.float64, n),
            np.fromiter((schedule_id(e.hours) for e in entries), np.int32, n),
            np.fromiter(map(len, recs), np.int64, n),
        ))  # fmt: skip
        self.recs += b"".join(recs)

    def columns(self) -> Columns:
        """The facilities as columns in tree order (see :class:`Columns`)."""
        names = ("ids", "wgs_lat", "wgs_lng", "lat", "lng", "hours", "lengths")
        chunks, self.chunks = self.chunks, []
        cols = {name: np.concatenate([c[i] for c in chunks]) for i, name in enumerate(names)}
        recs, self.recs = memoryview(self.recs), bytearray()
        lengths = cols.pop("lengths")
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        points, order, boxes, depth = _nearby.build(unit_vectors(cols["wgs_lat"], cols["wgs_lng"]),
                                                    LEAF_SIZE)  # fmt: skip
        order = np.frombuffer(order, dtype=np.int32)
        cols = {name: col[order] for name, col in cols.items()}
        ends = starts[1:][order].tolist()
        tree_recs = bytearray().join(recs[a:z] for a, z in zip(starts[order].tolist(), ends,
                                                               strict=True))  # fmt: skip
        rec_off = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths[order], out=rec_off[1:])
        return Columns(
            **cols, recs=np.frombuffer(bytes(tree_recs), dtype=np.uint8), rec_off=rec_off,
            tree=Tree(np.frombuffer(points).reshape(-1, 3), None,
                      np.frombuffer(boxes).reshape(-1, 6), depth),
            by_id=np.argsort(cols["ids"], kind="stable").astype(np.int32),
        )  # fmt: skip


@dataclass
class Columns:
    """Facilities of one kind as arrays (read-only views of an image, or in memory) in the order
    of their tree's points, so that a search and its answer read neighbouring memory: the
    records in one buffer, the tree (its ``order`` None: position = point), and the positions
    in increasing id order (``by_id``) to find a facility by its id."""

    ids: NDArray[np.int64]
    wgs_lat: NDArray[np.float64]
    wgs_lng: NDArray[np.float64]
    lat: NDArray[np.float64]
    lng: NDArray[np.float64]
    hours: NDArray[np.int32]  # index into the Table
    recs: NDArray[np.uint8]
    rec_off: NDArray[np.int64]
    tree: Tree
    by_id: NDArray[np.int32]

    @classmethod
    def of(cls, entries: Sequence[Entry], schedule_id: Callable[[str], int]) -> Columns:
        rows = _Rows()
        rows.add(entries, schedule_id)
        return rows.columns()

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, i: int) -> bytes:
        off = self.rec_off
        return self.recs[off.item(i) : off.item(i + 1)].tobytes()

    def position(self, facility_id: int) -> int | None:
        found = _nearby.position(self.ids, self.by_id, facility_id)
        return None if found < 0 else found


# ---------------------------------------------------------------- the image


class BadImage(Exception):
    """An image file that is not whole (truncated, changed, another format)."""


MAGIC = b"ZHCGNIX\x00"
FORMAT = 1
PREFIX = struct.Struct("<8sIIQQII")  # magic, format, 0, size, header offset, header length, crc
ALIGN = 4096
ARRAYS = (("ids", "<i8"), ("wgs_lat", "<f8"), ("wgs_lng", "<f8"), ("lat", "<f8"), ("lng", "<f8"),
          ("hours", "<i4"), ("rec_off", "<i8"), ("recs", "u1"), ("xyz", "<f8"),
          ("boxes", "<f8"), ("by_id", "<i4"))  # fmt: skip


class ImageWriter:
    """Facilities in, an image out: :meth:`add` them (in chunks: only arrays are kept between
    chunks), then :meth:`write` the image (one kind's arrays at a time)."""

    def __init__(self, seq: int, kind_codes: dict[int, str], db: str = "") -> None:
        self.seq, self.kind_codes, self.db = seq, dict(kind_codes), db
        self.rows: dict[int, _Rows] = {}
        self.schedules: list[str] = []
        self._ids: dict[str, int] = {}

    def schedule_id(self, text: str) -> int:
        found = self._ids.get(text)
        if found is None:
            found = self._ids[text] = len(self.schedules)
            self.schedules.append(text)
        return found

    def add(self, entries: Iterable[Entry]) -> None:
        by_kind: dict[int, list[Entry]] = {}
        for e in entries:
            by_kind.setdefault(e.kind_id, []).append(e)
        for kind_id, items in by_kind.items():
            self.rows.setdefault(kind_id, _Rows()).add(items, self.schedule_id)

    def write(self, out: IO[bytes]) -> int:
        """Write the image to a binary file at its start; its size."""
        crc, at = 0, PREFIX.size

        def put(data: Any) -> None:
            nonlocal crc, at
            view = memoryview(data).cast("B")
            out.write(view)
            crc = zlib.crc32(view, crc)
            at += len(view)

        def pad() -> None:
            if at % ALIGN:
                put(bytes(ALIGN - at % ALIGN))

        out.seek(0)
        out.write(bytes(PREFIX.size))
        kinds = []
        for kind_id in sorted(self.rows):
            cols = self.rows.pop(kind_id).columns()
            tree = cols.tree
            arrays = {}
            for name, dtype in ARRAYS:
                data = getattr(tree if name in ("xyz", "boxes") else cols, name)
                data = np.ascontiguousarray(data, dtype=dtype)
                pad()
                arrays[name] = [at, data.nbytes]
                put(data)
            kinds.append({"id": kind_id, "n": len(cols), "depth": tree.depth, "arrays": arrays})
            del cols, tree
        header = json.dumps({
            "format": FORMAT, "seq": self.seq, "db": self.db, "leaf": LEAF_SIZE,
            "codes": sorted(self.kind_codes.items()), "schedules": self.schedules, "kinds": kinds,
        }, ensure_ascii=False).encode()  # fmt: skip
        pad()
        header_at = at
        put(header)
        out.seek(0)
        out.write(PREFIX.pack(MAGIC, FORMAT, 0, at, header_at, len(header), crc))
        out.seek(at)
        return at

    def tobytes(self) -> bytes:
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()


@dataclass
class Image:
    """An image opened: its header and each kind's columns (views of the mapped file or bytes)."""

    seq: int
    db: str
    kind_codes: dict[int, str]
    schedules: list[str]
    kinds: dict[int, Columns]
    path: Path | None = None
    size: int = 0

    @classmethod
    def build(cls, entries: Iterable[Entry], seq: int, kind_codes: dict[int, str]) -> Image:
        """An image in memory (no file)."""
        writer = ImageWriter(seq, kind_codes)
        writer.add(entries)
        return cls.parse(writer.tobytes())

    @classmethod
    def open(cls, path: Path) -> Image:
        """Map an image file after checking it whole (its size and its CRC-32, read through the
        file rather than the mapping: the check leaves nothing mapped in this process);
        :class:`BadImage` if it is not, OSError if it cannot be read."""
        with open(path, "rb", buffering=0) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(PREFIX.size)
            if len(head) < PREFIX.size:
                raise BadImage(f"{path}: {size} bytes, shorter than the prefix")
            magic, fmt, _, want, _, _, crc = PREFIX.unpack(head)
            if magic != MAGIC or fmt != FORMAT:
                raise BadImage(f"{path}: not a format-{FORMAT} index image")
            if size != want:
                raise BadImage(f"{path}: {size} bytes, its prefix says {want}")
            got, chunk = 0, bytearray(1 << 22)
            view = memoryview(chunk)
            while n := fh.readinto(chunk):
                got = zlib.crc32(view[:n], got)
            if got != crc:
                raise BadImage(f"{path}: checksum {got:08x}, its prefix says {crc:08x}")
            mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
        image = cls.parse(mapped)
        image.path = path
        return image

    @classmethod
    def parse(cls, buf: Any) -> Image:
        """The image in ``buf`` (bytes or a mapping), without checking its CRC."""
        try:
            magic, fmt, _, size, header_at, header_len, _ = PREFIX.unpack_from(buf)
            if magic != MAGIC or fmt != FORMAT or size != len(buf):
                raise BadImage("not a whole index image")
            head = json.loads(bytes(buf[header_at : header_at + header_len]))
            kinds = {}
            for meta in head["kinds"]:
                n, depth = meta["n"], meta["depth"]
                counts = {"rec_off": n + 1, "recs": -1, "xyz": 3 * n, "boxes": 6 * (2 << depth)}
                cols: dict[str, Any] = {}
                for name, dtype in ARRAYS:
                    at, nbytes = meta["arrays"][name]
                    itemsize = np.dtype(dtype).itemsize
                    count = counts.get(name, n)
                    if nbytes % itemsize or (count >= 0 and nbytes != count * itemsize):
                        raise BadImage(f"array {name}: {nbytes} bytes")
                    cols[name] = np.frombuffer(buf, dtype=dtype, count=nbytes // itemsize,
                                               offset=at)  # fmt: skip
                tree = Tree(cols.pop("xyz").reshape(-1, 3), None, cols.pop("boxes").reshape(-1, 6),
                            depth)  # fmt: skip
                kinds[meta["id"]] = Columns(**cols, tree=tree)
            return cls(head["seq"], head["db"], {int(k): c for k, c in head["codes"]},
                       list(head["schedules"]), kinds, size=size)  # fmt: skip
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise BadImage(f"not a whole index image: {exc}") from exc


# ---------------------------------------------------------------- one kind, searchable


@dataclass
class KindIndex:
    """One kind's facilities as built, plus what changed since; never changed once published
    (:meth:`Index.apply` publishes new ones).

    The search runs over the base's tree and the extra facilities' tree, positions numbered
    across both (base first): ``sources`` and ``shown`` are what ``_nearby`` reads."""

    base: Columns
    code: str = ""  # the kind's code, as its facilities show it
    table: Table = field(default_factory=Table)
    alive: NDArray[np.bool_] | None = None  # by base position; None: every one still shown
    hours: NDArray[np.int32] | None = None  # by base position, edits in place; None: as built
    views: dict[int, bytes] = field(default_factory=dict)  # base position -> record edited
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
        kind = json.dumps(self.code, ensure_ascii=False).encode()
        t = self.table
        self.shown = {
            wgs: tuple(((c.wgs_lat, c.wgs_lng) if wgs else (c.lat, c.lng))
                       + (hours, c.recs, c.rec_off, views, c.ids, c.lat, c.lng, kind,
                          t.texts_json, t.labels_json) for c, _, hours, views in parts)
            for wgs in (True, False)
        }  # fmt: skip

    @property
    def hours_now(self) -> NDArray[np.int32]:
        return self.base.hours if self.hours is None else self.hours

    def at(self, pos: int) -> tuple[Columns, int, int]:
        """Columns, row and schedule of a position as numbered in ``sources``."""
        cols, i, hours = self.base, pos, self.hours_now
        if pos >= len(cols.ids):
            cols, i = self.extra_cols, pos - len(cols.ids)
            hours = cols.hours
        return cols, i, hours.item(i)


class _Draft:
    """A kind being changed by :meth:`Index.apply`; its arrays are copied on their first change."""

    def __init__(self, ki: KindIndex) -> None:
        self.ki = ki
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

    def edit(self, pos: int, hours: int, rec: bytes) -> None:
        now = self.base.hours if self.hours is None else self.hours
        if now.item(pos) != hours:
            if "hours" not in self.copied:
                self.copied.add("hours")
                self.hours = now.copy()
            self.hours[pos] = hours
        self.views[pos] = rec

    def done(self) -> KindIndex:
        ki = self.ki
        extra = Columns.of(list(self.extra.values()), ki.table.id) if self.extra else None
        return KindIndex(self.base, ki.code, ki.table, self.alive, self.hours, self.views,
                         self.extra, extra)  # fmt: skip


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
        ki, states = self.kind, self.states
        views = _nearby.items(self.ranked, ki.shown[True], None, None, True)
        for (d, pos), view in zip(self.ranked, views, strict=True):
            cols, i, hours = ki.at(pos)
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
    """Every active facility of every kind: an image (see above) and the changes since; one per
    process, thread-safe."""

    def __init__(self) -> None:
        self.kinds: dict[int, KindIndex] = {}
        self.table = Table()  # the schedules of the image in use (and of changes since)
        self.where: dict[int, int] = {}  # facility id -> kind id, for facilities in ``extra``
        self.applied = 0  # the change number (seq) the index reflects
        self.lock = threading.RLock()
        self.loaded = False
        self.kind_codes: dict[int, str] = {}
        self.image: Image | None = None
        self.kind_view: tuple[Any, Any] | None = None  # the API's kind lookup, per kind_codes

    # -------------------------------------------------------------- loading and changes

    @property
    def schedules(self) -> list[hours_mod.Schedule]:
        return self.table.schedules

    def schedule_id(self, text: str) -> int:
        return self.table.id(text)

    def load(self, entries: Iterable[Entry], seq: int, kind_codes: dict[int, str]) -> None:
        """(Re)build every kind from these entries, which reflect the database at ``seq``, as an
        image in memory."""
        self.use(Image.build(entries, seq, kind_codes))

    def use(self, image: Image) -> None:
        """Answer from this image from now on (what changed after its ``seq`` is applied next)."""
        table = Table(image.schedules)
        kinds = {kind_id: KindIndex(cols, image.kind_codes.get(kind_id, ""), table)
                 for kind_id, cols in image.kinds.items()}  # fmt: skip
        with self.lock:
            self.kinds, self.table, self.where, self.image = kinds, table, {}, image
            self.applied, self.loaded, self.kind_codes = image.seq, True, dict(image.kind_codes)

    def take(self, other: Index) -> None:
        """Answer as ``other`` does from now on (its image and the changes it applied)."""
        with self.lock:
            self.kinds, self.table, self.where = other.kinds, other.table, other.where
            self.image, self.applied = other.image, other.applied
            self.loaded, self.kind_codes = other.loaded, other.kind_codes

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
                        old = KindIndex(Columns.of([], self.table.id),
                                        self.kind_codes.get(kind_id, ""), self.table)  # fmt: skip
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
                        d.edit(pos, self.table.id(entry.hours), record(entry.view))
                        continue  # in place: the tree still holds it
                    d.hide(pos)
                if active:
                    draft(entry.kind_id).extra[entry.id] = entry
                    where[entry.id] = entry.kind_id
            staged = {kind_id: d.done() for kind_id, d in drafts.items()}
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
        """Per schedule of the image in use: 1 open, 0 closed, -1 unknown at ``at``, and whether
        known closed."""
        return self.table.open_states(at)

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
            states, closed = ki.table.open_states(at)
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
