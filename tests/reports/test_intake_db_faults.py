"""Report intake while the database is killed (``kill -9``) and restarted, twice.

The test starts its OWN MariaDB server (``mariadb-install-db`` into a temporary data directory, on a
free port), never the machine's. Four citizens' phones submit 120 reports, each with its own
Idempotency-Key, and retry the same key after any failure, as the mini-program does. Meanwhile the
server is killed twice and started again on the same data directory. Expected:

- every report is filed exactly once (0 lost, 0 duplicated);
- while the database is down, the API answers 503 ``database_unavailable`` with ``Retry-After``
  in the one error shape, never a 500;
- the app recovers by itself (no restart of the app).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from app.auth import service as auth_service
from app.auth.models import WechatApp
from app.extensions import db
from reports.models import Report
from tests.conftest import REAL_SESSION, FreshContextClient
from tests.reports.conftest import INSIDE_WEST, WEST, district, jpeg_bytes, load_categories

MARIADBD = "/usr/sbin/mariadbd"
REPORTS, PHONES = int(os.environ.get("FAULT_REPORTS", 120)), 4
KILL_AFTER = (REPORTS // 4, REPORTS * 2 // 3)  # kill the server when this many reports are filed
DOWN_SECONDS = 2.0
DEADLINE = float(os.environ.get("FAULT_DEADLINE", 60))  # seconds a phone keeps retrying one report

pytestmark = pytest.mark.skipif(
    shutil.which("mariadb-install-db") is None or not os.path.exists(MARIADBD),
    reason="MariaDB server binaries are not installed (apt-get install mariadb-server)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    """A throwaway MariaDB server on its own port and data directory."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.datadir = root / "data"
        self.proc: subprocess.Popen | None = None
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/intake?charset=utf8mb4"

    def start(self) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the server writes it for ever
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.root / 'sock'}",
             f"--pid-file={self.root / 'pid'}", "--user=root", "--skip-log-bin",
             "--innodb-buffer-pool-size=32M", "--skip-name-resolve"],
            stdout=log, stderr=log,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        log = (self.root / "server.log").read_text()
        raise RuntimeError(f"private MariaDB did not start: {log}")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush beyond what InnoDB already made durable."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def sql(self, statement: str) -> None:
        subprocess.run(["mariadb", "-h127.0.0.1", f"-P{self.port}", "-uroot", "-e", statement],
                       check=True, capture_output=True, timeout=30)  # fmt: skip


@pytest.fixture
def private_db(tmp_path_factory):
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    server.start()
    server.sql("CREATE DATABASE intake CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(timeout=60)


@pytest.fixture
def intake_app(private_db, tmp_path, rate_limiter, monkeypatch):
    monkeypatch.setattr(db, "session", REAL_SESSION)  # real commits, on the private server
    app = create_app("testing", {
        "SQLALCHEMY_DATABASE_URI": private_db.url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_recycle": 30,
                                      "connect_args": {"connect_timeout": 2}},
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CHANGES_FILE": str(tmp_path / "changes.bin"),
        "RATELIMIT_ENABLED": False,
    })  # fmt: skip
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade()
        load_categories()
        district("T-W", "测试一区", WEST)
        tokens = []
        for i in range(PHONES):
            user, _ = auth_service.citizen_from_wechat(
                WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], f"o-phone-{i}"
            )
            tokens.append(auth_service.issue_token(user=user)[0])
        db.session.commit()
    yield app, tokens
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_no_report_is_lost_or_doubled_when_the_database_is_killed_twice(intake_app, private_db):
    app, tokens = intake_app
    filed = Counter()
    outage_answers: list[tuple[int, dict | None, str | None]] = []
    lock = threading.Lock()

    def file_one(i: int) -> int:
        """One phone files report i, retrying the same key until it is filed; the status."""
        client = app.test_client()
        headers = {"Authorization": f"Bearer {tokens[i % PHONES]}", "Idempotency-Key": f"k-{i}"}
        photo = jpeg_bytes((i % 250, 60, 30))  # the same photo on every try: a true retry
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            data = {"description": f"测试一区第{i}号井盖破损，车辆经过很危险",
                    "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
                    "photos": [(io.BytesIO(photo), "p.jpg")]}  # fmt: skip
            resp = client.post("/api/v1/reports", data=data, headers=headers,
                               content_type="multipart/form-data")  # fmt: skip
            if resp.status_code in (200, 201):
                with lock:
                    filed["ok"] += 1
                return resp.status_code
            with lock:
                outage_answers.append(
                    (resp.status_code, resp.get_json(silent=True), resp.headers.get("Retry-After"))
                )
            time.sleep(0.2)
        return 0

    def chaos() -> None:
        for threshold in KILL_AFTER:
            while filed["ok"] < threshold:
                time.sleep(0.02)
            private_db.kill()
            time.sleep(DOWN_SECONDS)
            private_db.start()

    killer = threading.Thread(target=chaos)
    killer.start()
    with ThreadPoolExecutor(PHONES) as pool:
        statuses = list(pool.map(file_one, range(REPORTS)))
    killer.join(timeout=120)

    assert 0 not in statuses, f"a report was never filed: {outage_answers[:3]}"
    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Report))
        keys = db.session.scalar(select(func.count(func.distinct(Report.idempotency_key))))
    assert (total, keys) == (REPORTS, REPORTS)  # 0 lost, 0 duplicated
    assert outage_answers, "the kills were not noticed: the test proves nothing"
    assert {status for status, _, _ in outage_answers} == {503}, Counter(
        status for status, _, _ in outage_answers
    )
    for _, payload, retry_after in outage_answers:
        assert payload["error"]["code"] == "database_unavailable"
        assert retry_after is not None and int(retry_after) > 0
