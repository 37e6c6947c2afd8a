"""The nearest-search index built once per host and mapped by every process (issue 18).

Without a database: an image written to a file and mapped answers exactly as the brute-force scan
(before and after changes applied on top of it), its compact records show byte for byte what
:func:`view_json` shows, and a truncated or altered file is refused.

With a database whose transactions commit (``live_db_url``) and an index folder: the first process
builds the file, a second process maps it without building; a facility created, edited, moved
or removed through the staff API shows on the next query of another process; past REBUILD_AFTER
changes one process builds a newer file and the others take it; a damaged file is rebuilt.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import random
import struct
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.models import Role
from app.extensions import db
from services_nearby import _nearby, nearest
from services_nearby import hours as hours_mod
from services_nearby.index import (
    BadImage,
    Entry,
    Image,
    ImageWriter,
    Index,
    Shown,
    brute_force,
    record,
    unpack,
    view_json,
)
from services_nearby.models import FacilityKind
from services_nearby.service import seed_kinds
from tests.conftest import committed_app
from tests.nearby.test_index import (
    CODES,
    HOURS,
    SETTINGS,
    SYSTEMS,
    check,
    histories,
    items_json,
    lattice,
    queries,
    seeds,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = (41.7930, 123.4080)  # WGS-84, 太原街
STAFF_URL = "/api/v1/staff/facilities"


# ---------------------------------------------------------------- records and images

NIGHT = datetime(2026, 11, 21, 23, 30)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
names = st.one_of(
    texts.filter(bool), st.sampled_from(("太原街公厕", 'a"b\\c/d%e f~', "\x00\x1f\x7f€😀"))
)
shown = st.builds(
    Shown, names, st.one_of(st.none(), texts), st.one_of(st.none(), texts),
    st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.just("2026-12-02T08:30:00Z")),
)  # fmt: skip


@SETTINGS
@given(fields=shown, hours=st.sampled_from(HOURS), code=st.sampled_from(("toilet", 'k"ind')),
       lat=st.floats(-89, 89), lng=st.floats(-180, 180))  # fmt: skip
def test_a_compact_record_shows_what_view_json_shows(fields, hours, code, lat, lng):
    """The C items written from a record equal the route's rendering of view_json's bytes."""
    assert unpack(record(fields)) == fields
    index = Index()
    index.load([Entry(5, 1, 41.79, 123.40, lat, lng, hours, fields)], 1, {1: code})
    found = index.find(1, 41.79, 123.40, 1, at=NIGHT)
    (hit,) = found.hits()
    assert hit.view == view_json(5, code, hours, hours_mod.compiled(hours).label, lat, lng, fields)
    assert json.loads(hit.view)["nav_url"].endswith("&coordinate=gaode&callnative=1&src=zhcg")
    for system in SYSTEMS:
        assert found.json(system) == items_json([hit], system)


@pytest.mark.parametrize("damaged", [b"\x01\x09", b"\x01\x03\x7f", b"\x01\x00", b"\x07{}"])
def test_a_damaged_record_is_an_error_not_an_answer(damaged):
    """A record that does not parse (unknown tag, a length past its end, a name that is not
    text, an unknown format) raises in both renderings instead of writing part of an item."""
    index = Index()
    index.load([Entry(5, 1, 41.79, 123.40, 41.79, 123.40, "", Shown("公厕", None, None, None,
                                                                     None, None, None))],
               1, {1: "toilet"})  # fmt: skip
    found = index.find(1, 41.79, 123.40, 1, at=NIGHT)
    ki = found.kind
    ki.views[0] = damaged
    ki.__post_init__()  # the views as _nearby reads them
    for render in (found.hits, lambda: found.json(SYSTEMS[0])):
        with pytest.raises(ValueError, match="record"):
            render()


def test_numbers_are_written_as_python_formats_them():
    """The items' distances and positions (written in C with integer arithmetic) equal Python's
    "%.Nf": random doubles, coordinates, distances, exact halfway cases and the values next to
    them, signed zeros, huge and tiny values, NaN and infinities."""
    rnd = random.Random(7)
    values = [0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.25, 0.05, 1e300, -1e-300, 5e-324, 2.0**53,
              2.0**64 + 2.0**12, float("nan"), float("inf"), -float("inf")]  # fmt: skip
    for _ in range(20_000):
        half = (rnd.randint(-(10**10), 10**10) + 0.5) / 10 ** rnd.choice((1, 6, 7))
        values += [rnd.uniform(-180, 180), rnd.uniform(0, 2.1e7), half, math.nextafter(half, 0),
                   struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0],
                   rnd.randint(0, 2**20) / 2 ** rnd.randint(1, 40)]  # fmt: skip
    for value in values:
        for digits in (0, 1, 6, 7):
            assert _nearby.fixed(value, digits) == f"{value:.{digits}f}", (value, digits)


def shown_entries(entries: list[Entry], rnd: random.Random) -> list[Entry]:
    """The entries with a facility row's fields (compact records) instead of raw JSON."""
    return [Entry(e.id, e.kind_id, e.wgs_lat, e.wgs_lng, e.lat + 0.0025, e.lng + 0.0061, e.hours,
                  Shown(f"公厕{e.id}", rnd.choice(("", "沈阳市", None)), "免费", None, e.id % 7,
                        None, None)) for e in entries]  # fmt: skip


def as_raw(entries: list[Entry]) -> list[Entry]:
    """The entries with the JSON their records show (what ``check`` compares hits with)."""
    return [e if isinstance(e.view, bytes) else Entry(
        e.id, e.kind_id, e.wgs_lat, e.wgs_lng, e.lat, e.lng, e.hours,
        view_json(e.id, CODES[e.kind_id], e.hours, hours_mod.compiled(e.hours).label, e.lat,
                  e.lng, e.view)) for e in entries]  # fmt: skip


def write_image(path: Path, entries: list[Entry], seq: int = 1) -> Path:
    writer = ImageWriter(seq, CODES, "k")
    writer.add(entries[: len(entries) // 2])  # in two chunks, as the database streams them
    writer.add(entries[len(entries) // 2 :])
    with open(path, "wb") as out:
        writer.write(out)
    return path


def test_a_mapped_image_answers_as_the_brute_force_scan(tmp_path_factory):
    """Raw and compact records, before and after changes applied on top of the mapped image."""
    seen: Counter = Counter()

    @SETTINGS
    @given(data=st.data(), history=histories(), seed=seeds)
    def prop(data, history, seed):
        entries, steps = history
        rnd = random.Random(seed)
        compact = rnd.random() < 0.5
        if compact:
            entries = shown_entries(entries, rnd)
        latest = {e.id: e for e in entries}
        image = Image.open(write_image(tmp_path_factory.mktemp("img") / "a.idx", entries))
        assert all(isinstance(c.ids.base.obj, mmap.mmap) for c in image.kinds.values())
        index = Index()
        index.use(image)
        for q in data.draw(st.lists(queries(entries), min_size=1, max_size=3)):
            for kind_id in (1, 2, 3, 4):
                seen["answered"] += bool(check(index, as_raw(entries), kind_id, q))
        for seq, (batch, state) in enumerate(steps, start=2):
            if compact:
                written = shown_entries([e for e, _ in batch], rnd)
                latest |= {e.id: e for e in written}
                batch = [(e, active) for e, (_, active) in zip(written, batch, strict=True)]
                state = [latest[e.id] for e in state]
            index.apply(batch, seq)
            for q in data.draw(st.lists(queries(state), min_size=1, max_size=2)):
                for kind_id in (1, 2, 3, 4):
                    seen["changed"] += bool(check(index, as_raw(state), kind_id, q))

    prop()
    assert seen["answered"] > 50 and seen["changed"] > 50, seen


def test_a_damaged_image_file_is_refused(tmp_path):
    entries = [Entry(i, 1, *lattice(i, i), *lattice(i, i), "24/7", Shown(f"公厕{i}", "", "免费",
                     None, None, None, None)) for i in range(1, 500)]  # fmt: skip
    path = write_image(tmp_path / "a.idx", entries)
    assert len(Image.open(path).kinds[1]) == 499
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) - 1], whole[:100], whole + b"\x00",
                    whole[:5000] + bytes([whole[5000] ^ 1]) + whole[5001:],
                    b"X" + whole[1:]):  # fmt: skip
        path.write_bytes(damaged)
        with pytest.raises(BadImage):
            Image.open(path)


# ---------------------------------------------------------------- several processes, one file


class Live:
    """Apps on one committed database sharing an index folder and a change board: each is what
    one process of the host holds."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.db_url, self.tmp_path = db_url, tmp_path
        self.folder = tmp_path / "nearby-index"
        self.overrides = {"NEARBY_INDEX_DIR": str(self.folder)}
        self.writer = self.app()
        with self.writer.app_context():
            seed_kinds()
            staff = auth_service.create_staff("nearby-admin", "correct-horse-battery",
                                              [Role.ADMIN.value], actor_label="test")  # fmt: skip
            self.token = auth_service.issue_token(staff=staff)[0]
            db.session.commit()
        self.client = self.writer.test_client()
        self.apps = [self.writer]

    def app(self):
        return committed_app(self.db_url, self.tmp_path, **self.overrides)

    def process(self):
        """Another process's app (its own index, its own view of the folder)."""
        app = self.app()
        self.apps.append(app)
        return app

    def staff(self, method: str, url: str, **body) -> dict:
        resp = self.client.open(url, method=method, json=body,
                                headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        assert resp.status_code in (200, 201), resp.get_json()
        return resp.get_json()

    def add(self, name: str, lat: float, lng: float, kind: str = "toilet") -> dict:
        return self.staff("POST", STAFF_URL, kind=kind, name=name, lat=lat, lng=lng,
                          coord_sys="wgs84", opening_hours="24/7")  # fmt: skip

    def images(self) -> list[Path]:
        return sorted(self.folder.glob("*.idx"))

    def close(self) -> None:
        for app in self.apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def builds() -> int:
    """Index images this process has built so far."""
    return nearest.BUILDS


def ask(app, lat: float, lng: float, kind: str = "toilet", limit: int = 5) -> list[dict]:
    resp = app.test_client().get("/api/v1/nearby", query_string={
        "kind": kind, "lat": lat, "lng": lng, "coord_sys": "wgs84", "limit": limit})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def scan(app, lat: float, lng: float, kind: str = "toilet", limit: int = 5) -> list:
    """(metres to 0.1, id) of the brute-force scan of the database's active facilities."""
    with app.app_context(), Session(db.engine) as session:
        codes = dict(session.execute(select(FacilityKind.id, FacilityKind.code)).all())
        kind_id = next(k for k, code in codes.items() if code == kind)
        rows = session.execute(select(*nearest.COLUMNS)).all()
    entries = [e for e, active, _ in nearest._entries(rows, codes) if active]
    return [(round(d, 1), fid) for d, fid in brute_force(entries, kind_id, lat, lng, limit)]


def answers(app, lat: float, lng: float, kind: str = "toilet") -> list[dict]:
    """The API's items, checked against the scan of the database."""
    items = ask(app, lat, lng, kind)
    assert [(i["distance_m"], i["id"]) for i in items] == scan(app, lat, lng, kind)
    return items


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    state = Live(live_db_url, tmp_path)
    for i in range(30):
        state.add(f"公厕{i}", HERE[0] + 0.002 + 0.001 * (i % 6), HERE[1] + 0.0012 * (i // 6))
    try:
        yield state
    finally:
        state.close()


def test_a_second_process_maps_the_file_the_first_built(live):
    before = builds()
    first = answers(live.process(), *HERE)
    assert builds() == before + 1
    (image,) = live.images()
    built = image.stat()
    # Another process (a real one) on the same folder: it maps the file, it builds nothing.
    code = (
        "import json, sys\n"
        "from app import create_app\n"
        "from services_nearby import nearest\n"
        "app = create_app('testing', json.loads(sys.argv[1]))\n"
        "items = app.test_client().get('/api/v1/nearby', query_string={'kind': 'toilet',"
        " 'lat': sys.argv[2], 'lng': sys.argv[3], 'coord_sys': 'wgs84', 'limit': 5})"
        ".get_json()['items']\n"
        "index = app.extensions['nearby_index'][0]\n"
        "print(json.dumps({'builds': nearest.BUILDS, 'items': items,"
        " 'mapped': str(index.image.path)}))\n"
    )
    config = {
        "SQLALCHEMY_DATABASE_URI": live.db_url,
        "NEARBY_INDEX_DIR": str(live.folder),
        "CHANGES_FILE": str(live.tmp_path / "seq.bin"),
        "RATELIMIT_ENABLED": False,
    }
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    command = [sys.executable, "-c", code, json.dumps(config), *map(str, HERE)]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    other = json.loads(out.stdout.strip().splitlines()[-1])
    assert other == {"builds": 0, "items": first, "mapped": str(image)}
    assert live.images() == [image] and image.stat().st_mtime_ns == built.st_mtime_ns


def test_staff_writes_show_on_the_next_query_of_another_process(live, monkeypatch):
    reader = live.process()
    answers(reader, *HERE)
    new = live.add("刚建成的公厕", HERE[0] + 0.000045, HERE[1])  # 5 m from the citizen
    first = answers(reader, *HERE)[0]
    assert (first["id"], first["name"], first["distance_m"]) == (new["id"], "刚建成的公厕", 5.0)
    edited = live.staff("PATCH", f"{STAFF_URL}/{new['id']}", name='太原街公厕"东"',
                        version=new["version"])  # fmt: skip
    assert answers(reader, *HERE)[0]["name"] == '太原街公厕"东"'
    far = (41.85, 123.5)
    moved = live.staff("PATCH", f"{STAFF_URL}/{new['id']}", lat=far[0], lng=far[1],
                       coord_sys="wgs84", version=edited["version"])  # fmt: skip
    assert new["id"] not in [i["id"] for i in answers(reader, *HERE)]
    assert answers(reader, *far)[0]["id"] == new["id"]
    live.staff("POST", f"{STAFF_URL}/{new['id']}/remove", reason="已拆除",
               version=moved["version"])  # fmt: skip
    assert new["id"] not in [i["id"] for i in answers(reader, *far)]

    # Past REBUILD_AFTER changes since its file, a process builds a newer one (once); another
    # process then moves to it without building.
    monkeypatch.setattr(nearest, "REBUILD_AFTER", 3)
    other = live.process()
    answers(other, *HERE)
    old = live.images()
    for i in range(5):
        live.add(f"新公厕{i}", HERE[0] - 0.0002 * i, HERE[1] - 0.0003)
    before = builds()
    assert answers(reader, *HERE)[0]["name"] == "新公厕0"
    assert builds() == before + 1
    (newer,) = live.images()
    assert newer not in old
    assert answers(other, *HERE)[0]["name"] == "新公厕0"
    assert builds() == before + 1
    index = other.extensions["nearby_index"][0]
    assert index.image.path == newer and index.pending() == 0


def replace(path: Path, content: bytes) -> None:
    """Put ``content`` in place of the file (a new inode: the processes mapping the old one,
    this test's apps, keep reading what they checked)."""
    tmp = path.with_suffix(".new")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def test_a_damaged_or_stale_file_is_rebuilt(live):
    answers(live.process(), *HERE)
    (image,) = live.images()
    seq = int(image.stem.rsplit("-", 1)[1])
    whole = image.read_bytes()
    for damaged in (whole[: len(whole) // 2], whole[:-9] + b"\xff" + whole[-8:]):
        replace(image, damaged)
        before = builds()
        answers(live.process(), *HERE)  # a new process: it finds the file damaged
        assert builds() == before + 1
        (image,) = live.images()
        assert Image.open(image).seq == seq
    # A file from a later state of the database (before a restore): never taken, removed at
    # the next build.
    future = image.with_name(image.name.replace(f"{seq:012d}", f"{seq + 50:012d}"))
    future.write_bytes(image.read_bytes())
    replace(image, b"")
    answers(live.process(), *HERE)
    assert live.images() == [image] and Image.open(image).seq == seq


def test_without_a_usable_folder_each_process_builds_in_memory(live, tmp_path, caplog):
    live.overrides["NEARBY_INDEX_DIR"] = ""
    before = builds()
    answers(live.process(), *HERE)
    assert builds() == before + 1 and live.images() == []
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    live.overrides["NEARBY_INDEX_DIR"] = str(blocked)
    answers(live.process(), *HERE)  # the folder cannot be made: answered all the same
    assert builds() == before + 2 and "building in memory" in caplog.text


def test_compact_views_equal_the_rows_view(live):
    """What the route shows for a facility is what ``view_of`` makes of its row."""
    app = live.process()
    items = answers(app, *HERE)
    with app.app_context(), Session(db.engine) as session:
        codes = dict(session.execute(select(FacilityKind.id, FacilityKind.code)).all())
        rows = {r.id: r for r in session.execute(select(*nearest.COLUMNS))}
    for item in items:
        row = rows[item["id"]]
        view = json.loads(nearest.view_of(row, codes[row.kind_id]))
        assert {k: v for k, v in item.items()
                if k not in ("distance_m", "open_now", "location")} == view  # fmt: skip
        assert item["location"] == {"lat": round(row.wgs_lat, 7), "lng": round(row.wgs_lng, 7)}
