"""Fixtures shared by the whole suite.

The suite runs on in-memory SQLite by default and on MariaDB when TEST_DATABASE_URL is set
(``mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4``): a unique database is created once per
run and built with ``flask db upgrade`` (which tests the migrations). Each test runs inside a
transaction that is rolled back; the app's ``db.session`` is swapped for sessions bound to that
connection, with ``join_transaction_mode="create_savepoint"`` so views may commit.

Tests that need the whole demo city (``seed_demo_city()``: 50,366 generated shops, the facilities,
the staff, the littering demo; tens of seconds to seed) ask for ``demo_city``: they run, each in
its own rolled-back transaction as above, on a second database seeded and committed once per run.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.globals import app_ctx
from flask.testing import FlaskClient
from flask_limiter import Limiter
from flask_migrate import upgrade as migrate_upgrade
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.auth import service as auth_service
from app.auth.models import Department, Role, StaffUser, User, WechatApp
from app.extensions import db, limiter

TEST_PASSWORD = "correct-horse-battery"


class FreshContextClient(FlaskClient):
    """Each request gets its own app context (fresh ``g``), as it does in production.

    Without this, Flask reuses the test's app context and ``g`` leaks between requests.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _app_context_id() -> int:
    """One session per app context, as Flask-SQLAlchemy scopes them: the test has its own,
    and each request its own, all on the test's connection (so flushed data is visible)."""
    return id(app_ctx._get_current_object())


def _mariadb_database() -> tuple[str, str] | None:
    """(server URL, database URL) for a fresh database, or None on SQLite."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not raw or not raw.startswith("mysql"):
        return None
    url = make_url(raw)
    name = f"zhcg_test_{uuid.uuid4().hex[:10]}"
    query = dict(url.query)
    query.setdefault("charset", "utf8mb4")
    server = url.set(database=None, query=query)
    return (
        server.render_as_string(hide_password=False),
        server.set(database=name).render_as_string(hide_password=False),
    )


def _create_database(server_url: str, db_url: str) -> Engine:
    """Create the database of ``db_url`` on MariaDB; returns an engine on the server."""
    server_engine = create_engine(server_url)
    with server_engine.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE `{make_url(db_url).database}` "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )
    return server_engine


def _drop_database(server_engine: Engine, db_url: str) -> None:
    with server_engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{make_url(db_url).database}`"))
    server_engine.dispose()


@pytest.fixture(scope="session")
def is_mariadb() -> bool:
    """True when the suite runs against MariaDB."""
    return os.environ.get("TEST_DATABASE_URL", "").startswith("mysql")


@pytest.fixture(scope="session")
def app(tmp_path_factory) -> Iterator[Flask]:
    """The app under test, with a migrated database."""
    overrides = {"UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
                 "CHANGES_FILE": str(tmp_path_factory.mktemp("changes") / "board.bin")}  # fmt: skip
    maria = _mariadb_database()
    server_engine = None
    if maria:
        server_url, db_url = maria
        server_engine = _create_database(server_url, db_url)
        overrides["SQLALCHEMY_DATABASE_URI"] = db_url
    application = create_app("testing", overrides)
    application.test_client_class = FreshContextClient
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()
    if server_engine is not None:
        _drop_database(server_engine, db_url)


@pytest.fixture(scope="session")
def demo_city_engine(app, tmp_path_factory) -> Iterator[Engine]:
    """A second database (MariaDB, or an SQLite file) migrated, seeded with the whole demo city
    by ``seed_demo_city()`` and committed, once per run; the engine the ``demo_city`` tests'
    connections come from. Seeding goes through a second app on that database, which shares the
    session app's upload directory (the demo evidence photos are stored files)."""
    overrides = {key: app.config[key] for key in ("UPLOAD_DIR", "CHANGES_FILE")}
    maria = _mariadb_database()
    server_engine = None
    if maria:
        server_url, db_url = maria
        server_engine = _create_database(server_url, db_url)
    else:
        db_url = f"sqlite:///{tmp_path_factory.mktemp('demo_city') / 'demo_city.db'}"
    overrides["SQLALCHEMY_DATABASE_URI"] = db_url
    engine = None
    try:
        seeder = create_app("testing", overrides)
        with seeder.app_context():
            from flask_migrate import upgrade

            from app.cli import seed_demo_city

            engine = db.engine
            upgrade()
            seed_demo_city()
            db.session.commit()
            db.session.remove()
        limiter.init_app(app)  # create_app bound the shared limiter to the seeding app
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        if server_engine is not None:
            _drop_database(server_engine, db_url)


@pytest.fixture
def demo_city(demo_city_engine, db_session) -> None:
    """The whole demo city, as ``seed_demo_city()`` (its defaults) leaves it, without seeding
    it again: asking for this fixture makes ``db_session`` connect to ``demo_city_engine``.

    Writes are rolled back as in every test; a test must not commit outside ``db.session``."""


@pytest.fixture(autouse=True)
def rate_limiter(app) -> Iterator[Limiter]:
    """The shared limiter, emptied before each test and bound to the session app after it.

    Flask-Limiter keeps one configuration per extension object: a test that builds another app
    (say, a production one) re-binds it, so it is bound back here.
    """
    limiter.reset()
    app.extensions.pop("fast_limit", None)
    bound = limiter._storage
    yield limiter
    app.extensions.pop("fast_limit", None)
    if limiter._storage is not bound or not limiter.enabled:
        limiter.init_app(app)


@pytest.fixture(autouse=True)
def fresh_reference_caches(app) -> Iterator[None]:
    """Per-process caches of regions and the calendar start empty in every test (rolled-back
    rows would otherwise linger where ids and timestamps happen to repeat, and the ``demo_city``
    tests run on another database whose change counters may repeat this one's)."""
    caches = ("reports_cache", "geo_regions", "reports_calendar", "shops_public",
              "shops_heatmap", "nearby_index")  # fmt: skip
    for name in caches:
        app.extensions.pop(name, None)
    yield
    for name in caches:
        app.extensions.pop(name, None)


@pytest.fixture(autouse=True)
def db_session(app, monkeypatch, request) -> Iterator[scoped_session]:
    """Each test in a transaction rolled back at the end (on the seeded demo city's database
    for the tests that ask for ``demo_city``)."""
    demo = "demo_city" in request.fixturenames
    engine = request.getfixturevalue("demo_city_engine") if demo else None
    with app.app_context():
        connection = (engine or db.engine).connect()
        outer = connection.begin()
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=_app_context_id,
        )
        monkeypatch.setattr(db, "session", session)
        try:
            yield session
        finally:
            session.remove()
            if outer.is_active:
                outer.rollback()
            connection.close()


@pytest.fixture
def client(app):
    """A test client (cookies kept between requests)."""
    return app.test_client()


@pytest.fixture
def make_department(db_session):
    """Factory: a department (flushed, not committed)."""

    def make(code="SY", name="沈阳市城市管理综合行政执法局", parent=None, kind="bureau"):
        dept = Department(code=code, name=name, parent=parent, kind=kind)
        db.session.add(dept)
        db.session.flush()
        return dept

    return make


@pytest.fixture
def make_staff(db_session):
    """Factory: a staff account with roles and an optional department."""

    def make(
        username: str = "staff1",
        roles: tuple[Role, ...] = (Role.DISPATCHER,),
        department: Department | None = None,
        password: str = TEST_PASSWORD,
    ) -> StaffUser:
        return auth_service.create_staff(
            username,
            password,
            [r.value for r in roles],
            department_code=department.code if department else None,
            actor_label="test",
        )

    return make


@pytest.fixture
def make_citizen(db_session, app):
    """Factory: a citizen with a mini-program identity."""

    def make(openid: str = "o-citizen-1", unionid: str | None = None) -> User:
        user, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], openid, unionid=unionid
        )
        return user

    return make


@pytest.fixture
def auth_header():
    """Authorization header for a citizen or staff account (issues a real token)."""

    def make(owner) -> dict[str, str]:
        if isinstance(owner, StaffUser):
            raw, _ = auth_service.issue_token(staff=owner)
        else:
            raw, _ = auth_service.issue_token(user=owner)
        return {"Authorization": f"Bearer {raw}"}

    return make


REAL_SESSION = db.session  # before the per-test fixture swaps it for the rolled-back one


@contextmanager
def scratch_database(tmp_path, prefix: str) -> Iterator[str]:
    """The URL of a new empty database, dropped afterwards: a MariaDB database under
    TEST_DATABASE_URL, else an SQLite file in ``tmp_path``."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not raw.startswith("mysql"):
        yield f"sqlite:///{tmp_path / f'{prefix}.db'}"
        return
    url = make_url(raw)
    name = f"zhcg_{prefix}_{uuid.uuid4().hex[:10]}"
    server = url.set(database=None, query=dict(url.query) | {"charset": "utf8mb4"})
    engine = create_engine(server)
    with engine.begin() as conn:
        conn.execute(
            text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture
def live_db_url(tmp_path, monkeypatch):
    """A database whose transactions really commit, for races and load (``scratch_database``).
    The app's session is the real one again inside the test."""
    monkeypatch.setattr(db, "session", REAL_SESSION)
    with scratch_database(tmp_path, "live") as url:
        yield url


def committed_app(db_url: str, tmp_path, **overrides) -> Flask:
    """A second app on ``db_url`` (from ``live_db_url``: transactions really commit), migrated,
    with its own uploads and change board and no rate limits; for races and fault tests."""
    config = {
        "SQLALCHEMY_DATABASE_URI": db_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "CHANGES_FILE": str(tmp_path / "seq.bin"),
        "RATELIMIT_ENABLED": False,
    }
    application = create_app("testing", config | overrides)
    application.test_client_class = FreshContextClient
    with application.app_context():
        migrate_upgrade()
    return application


def error_of(resp) -> dict[str, Any]:
    """The response's error object without its ``request_id``, after checking that the id is the
    one the response's ``X-Request-ID`` header carries (what a caller quotes to the operators)."""
    error = dict(resp.get_json()["error"])
    assert error.pop("request_id") == resp.headers["X-Request-ID"]
    return error


def at_once(app: Flask, task: Callable[[], Any], n: int = 2, timeout: float = 120) -> list[Any]:
    """Run ``task`` in ``n`` threads released together, each in its own app context on ``app``
    (a ``committed_app``: two workers, two requests racing); their results, in no order. The
    first error any of them raised is raised here."""
    barrier, results, errors = threading.Barrier(n), [], []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(task())
            except Exception as exc:  # noqa: BLE001 - raised below, in the test's thread
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    assert len(results) == n, "a thread did not finish in time"
    return results
