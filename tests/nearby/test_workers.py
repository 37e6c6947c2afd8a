"""The nearest-search index stays correct in every gunicorn worker, right after each write.

A real gunicorn (``gunicorn -c gunicorn.conf.py wsgi:app``: 3 gthread workers of 2 threads,
the index preloaded in the master) serves a file SQLite database. This test process writes
facilities through the app's ORM (its own app on the same database and change-number file), and
after each commit, without sleeping, asks ``GET /api/v1/nearby`` many times, each on a new
connection so the requests spread over the workers (which worker answered is read from the
access log). ``NEARBY_SYNC_SECONDS`` is an hour: the workers learn of a write only through its
announcement to the host after the commit (``app.changes.announce``, the ``CHANGES_FILE`` every
process maps), which is what is under test. The last test shows the other side: a commit that
announces nothing stays unseen until something is announced (another host's write is seen at the
next database poll, at most ``NEARBY_SYNC_SECONDS`` later).

The server runs on SQLite even when the suite runs on MariaDB (TEST_DATABASE_URL): the change
sequence and its announcement do not depend on the database. Skipped only if gunicorn does not
start.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import changes, create_app
from app.extensions import db, limiter
from reports import classifier
from services_nearby import service
from services_nearby.index import brute_force
from services_nearby.models import Facility, FacilityKind, FacilityStatus
from services_nearby.nearest import COLUMNS, _entries

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
HERE = (41.7930, 123.4080)  # WGS-84, 太原街
LIMIT = 5
WORKERS = 3
ROUNDS = 60  # requests after each write


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """The running gunicorn, and an app of this process writing to the same database."""

    base: str
    access_log: Path
    writer: Flask
    proc: subprocess.Popen | None = None
    workers: set[int] = field(default_factory=set)
    seen: Counter = field(default_factory=Counter)  # answers per worker pid

    @contextmanager
    def writing(self):
        """A session on the served database, committed at the end (which announces the write to
        the host). Not db.session: the suite swaps it for one rolled back after each test."""
        with self.writer.app_context(), Session(db.engine) as session:
            yield session
            session.commit()

    def get(self, kind: str, lat: float, lng: float) -> tuple[dict, str]:
        """One query on a new connection: (body, request id)."""
        rid = uuid.uuid4().hex
        resp = requests.get(
            f"{self.base}/api/v1/nearby",
            params={"kind": kind, "lat": lat, "lng": lng, "coord_sys": "wgs84", "limit": LIMIT},
            headers={"X-Request-ID": rid, "Connection": "close"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json(), rid

    def answered_by(self, rids: list[str]) -> Counter:
        """Which worker answered each request (gunicorn logs after replying: wait for it)."""
        wanted, found = set(rids), {}
        for _ in range(100):
            for line in self.access_log.read_text().splitlines():
                if line.startswith("{"):  # a JSON line (LOG_FORMAT=json): the formatted message
                    line = json.loads(line)["message"]
                m = re.fullmatch(r"<(\d+)> (\S+)", line.strip())
                if m and m.group(2) in wanted:
                    found[m.group(2)] = int(m.group(1))
            if len(found) == len(wanted):
                break
            time.sleep(0.02)
        return Counter(found.values())


def start(env: dict[str, str], tmp: Path) -> subprocess.Popen | None:
    """gunicorn as the README runs it (the access log names the worker and the request id);
    None if it does not answer /healthz."""
    with open(tmp / "gunicorn.log", "w") as log:  # the server writes to its own copy
        try:
            proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--access-logformat",
                 "%(p)s %({x-request-id}o)s", "wsgi:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        except OSError as exc:
            log.write(f"cannot run gunicorn: {exc}")
            return None
    deadline = time.monotonic() + 120  # the master may have to train the report classifier
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://{env['GUNICORN_BIND']}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    stop(proc)
    return None


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def worker_pids(master: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture(scope="module")
def server(app, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("workers")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "GUNICORN_CMD_ARGS")}
    env |= {
        "APP_ENV": "development", "FLASK_APP": "wsgi:app", "INSTANCE_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'nearby.db'}",
        "CHANGES_FILE": str(tmp / "changes.bin"), "NEARBY_SYNC_SECONDS": "3600",
        "LOG_LEVEL": "WARNING", "RATELIMIT_NEARBY": "100000/minute",
        "WEB_CONCURRENCY": str(WORKERS), "GUNICORN_THREADS": "2",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": str(tmp / "access.log"),
    }  # fmt: skip
    # wsgi.py loads the report classifier (training it, 15 s, if it has none): the suite's, if
    # current, saves that in the commands below and in gunicorn's master.
    trained = classifier.model_path_for(app)
    if classifier._is_current(trained, classifier.CSV_PATH):
        (tmp / classifier.MODEL_RELPATH).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(trained, tmp / classifier.MODEL_RELPATH)
    for command in (["db", "upgrade"], ["nearby", "seed-kinds"]):
        subprocess.run([str(BIN / "flask"), *command], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    writer = create_app("development", {
        "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "INSTANCE_DIR": str(tmp),
        "CHANGES_FILE": env["CHANGES_FILE"], "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    limiter.init_app(app)  # the shared limiter back on the suite's app
    srv = Server(f"http://127.0.0.1:{port}", tmp / "access.log", writer)
    # Facilities in the database before the start: in the index the master builds.
    with srv.writing() as session:
        for i in range(40):
            add(session, "toilet", HERE[0] + 0.002 + 0.0007 * (i % 8), HERE[1] + 0.0009 * (i // 8),
                name=f"公厕{i}")  # fmt: skip
    srv.proc = start(env, tmp)
    if srv.proc is None:
        pytest.skip("gunicorn did not start: " + (tmp / "gunicorn.log").read_text()[-2000:])
    for _ in range(300):  # every worker forked
        srv.workers = worker_pids(srv.proc.pid)
        if len(srv.workers) == WORKERS:
            break
        time.sleep(0.05)
    # Written after the workers forked, before any query: applied as changes on the first query.
    with srv.writing() as session:
        for i in range(3):  # 33 to 60 m away: first in the answers
            add(session, "toilet", HERE[0] - 0.0003 - 0.0001 * i, HERE[1] + 0.0002 * i,
                name=f"新公厕{i}")  # fmt: skip
    yield srv
    stop(srv.proc)
    with writer.app_context():
        db.engine.dispose()


def add(session: Session, kind: str, lat: float, lng: float, **fields) -> Facility:
    kind_id = session.scalar(select(FacilityKind.id).where(FacilityKind.code == kind))
    facility = Facility(kind_id=kind_id, **({"opening_hours": "24/7"} | fields))
    service.place(facility, service.point(lat, lng, "wgs84"), "wgs84", None)
    session.add(facility)
    session.flush()
    return facility


def expected(srv: Server, kind: str, lat: float, lng: float) -> list[tuple[float, int]]:
    """(metres to 0.1, id) of the scan of the database's active facilities."""
    with srv.writer.app_context(), Session(db.engine) as session:
        codes = dict(session.execute(select(FacilityKind.id, FacilityKind.code)).all())
        kind_id = next(k for k, code in codes.items() if code == kind)
        rows = session.execute(select(*COLUMNS)).all()
    entries = [e for e, active, _ in _entries(rows, codes) if active]
    return [(round(d, 1), fid) for d, fid in brute_force(entries, kind_id, lat, lng, LIMIT)]


def ask_every_worker(srv: Server, kind: str, lat: float, lng: float, check=None) -> list:
    """Ask at least ``ROUNDS`` times, and on until every worker has answered twice; ``check``
    each answer's items. The items of every answer."""
    answers, rids, by = [], [], Counter()
    while len(rids) < 20 * ROUNDS:
        for _ in range(20):
            body, rid = srv.get(kind, lat, lng)
            if check:
                check(body["items"], rid)
            answers.append(body["items"])
            rids.append(rid)
        if len(rids) >= ROUNDS:
            by = srv.answered_by(rids)
            if set(by) == srv.workers and min(by.values()) >= 2:
                break
    assert set(by) == srv.workers, f"not every worker answered: {by}"
    srv.seen += by
    return answers


def every_answer(srv: Server, kind: str, lat: float, lng: float) -> list:
    """Ask every worker; each answer must equal the scan of the database. The items."""
    want = expected(srv, kind, lat, lng)

    def check(items, rid):
        assert [(i["distance_m"], i["id"]) for i in items] == want, f"request {rid}"

    return ask_every_worker(srv, kind, lat, lng, check)


def test_every_worker_sees_each_write_on_its_next_query(server):
    srv = server
    every_answer(srv, "toilet", *HERE)
    with srv.writing() as session:  # a toilet 5 m from the citizen
        new = add(session, "toilet", HERE[0] + 0.000045, HERE[1], name="刚建成的公厕")
        fid = new.id
    for items in every_answer(srv, "toilet", *HERE):
        assert items[0]["id"] == fid and items[0]["name"] == "刚建成的公厕"
        assert items[0]["distance_m"] == pytest.approx(5.0, abs=0.1)

    with srv.writing() as session:  # renamed, in place
        session.get(Facility, fid).name = "太原街公厕（改名）"
    for items in every_answer(srv, "toilet", *HERE):
        assert items[0]["id"] == fid and items[0]["name"] == "太原街公厕（改名）"

    far = (41.8500, 123.5000)
    with srv.writing() as session:  # moved about 10 km away
        service.place(session.get(Facility, fid), service.point(*far, "wgs84"), "wgs84", None)
    for items in every_answer(srv, "toilet", *HERE):
        assert fid not in [i["id"] for i in items]
    for items in every_answer(srv, "toilet", *far):
        assert items[0]["id"] == fid and items[0]["distance_m"] == 0.0
        assert items[0]["location"] == {"lat": far[0], "lng": far[1]}

    with srv.writing() as session:  # removed
        session.get(Facility, fid).status = FacilityStatus.REMOVED
    for items in every_answer(srv, "toilet", *far) + every_answer(srv, "toilet", *HERE):
        assert fid not in [i["id"] for i in items]
    # Over the whole test every worker answered (requests went to each of them).
    assert set(srv.seen) == srv.workers, srv.seen


def test_a_write_announcing_nothing_waits_for_the_next_announced_one(server, monkeypatch):
    """A commit on another host reaches no process here through the file: the workers see it at
    their next database poll (NEARBY_SYNC_SECONDS, an hour here) or as soon as any later write is
    announced on this host, whichever comes first."""
    srv = server
    park = (41.7600, 123.3500)
    every_answer(srv, "park", *park)  # every worker has its index (preloaded or built now)
    with monkeypatch.context() as patched:
        patched.setattr(changes, "announce", lambda topics: None)
        with srv.writing() as session:  # as if written on another host
            fid = add(session, "park", park[0], park[1] + 0.0001, name="口袋公园").id
    for items in ask_every_worker(srv, "park", *park):
        assert fid not in [i["id"] for i in items]  # still unseen: nothing announced, no poll
    with srv.writing() as session:  # any announced write brings it in
        add(session, "parking", *park, name="停车场")
    for items in every_answer(srv, "park", *park):
        assert items[0]["id"] == fid
