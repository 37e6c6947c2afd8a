"""Wrong staff passwords sent in parallel are each counted, and the account locks at the
threshold exactly: N requests at once against a database whose transactions really commit (a
migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth import service as auth_service
from app.auth.models import Role, StaffUser
from app.extensions import db
from tests.conftest import TEST_PASSWORD, committed_app, error_of

N = 10


def live_app(live_db_url, tmp_path, max_failures: int):
    app = committed_app(live_db_url, tmp_path, LOGIN_MAX_FAILURES=max_failures)
    with app.app_context():
        auth_service.create_staff("guarded", TEST_PASSWORD, [Role.DISPATCHER.value])
        db.session.commit()
    return app


@pytest.fixture
def make_live(live_db_url, tmp_path, rate_limiter):
    apps = []

    def make(max_failures: int):
        apps.append(live_app(live_db_url, tmp_path, max_failures))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def login(app, password: str):
    return app.test_client().post(
        "/api/v1/auth/staff/login", json={"username": "guarded", "password": password}
    )


def wrong_in_parallel(app, n: int = N) -> list:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: login(app, f"wrong-password-{i}"), range(n)))


def staff_row(app) -> StaffUser:
    with app.app_context():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.username == "guarded"))
        db.session.expunge(staff)
        return staff


def locks(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(AuditLog.id)).where(AuditLog.action == "staff.locked")
        )


def test_parallel_failures_are_each_counted(make_live):
    app = make_live(max_failures=100)
    results = wrong_in_parallel(app) + wrong_in_parallel(app)
    assert Counter(r.status_code for r in results) == {401: 2 * N}
    assert {r.get_json()["error"]["code"] for r in results} == {"invalid_credentials"}
    assert staff_row(app).failed_logins == 2 * N
    assert login(app, TEST_PASSWORD).status_code == 200  # not locked
    assert staff_row(app).failed_logins == 0


def test_parallel_failures_lock_at_the_threshold(make_live):
    app = make_live(max_failures=N)
    results = wrong_in_parallel(app)
    assert Counter(r.status_code for r in results) == {401: N}
    staff = staff_row(app)
    assert staff.locked_until is not None
    assert locks(app) == 1
    refused = login(app, TEST_PASSWORD)  # even the right password, while locked
    assert refused.status_code == 401
    assert error_of(refused) == error_of(results[0])


def test_failures_beyond_the_threshold_lock_once(make_live):
    app = make_live(max_failures=5)
    results = wrong_in_parallel(app) + wrong_in_parallel(app)
    assert Counter(r.status_code for r in results) == {401: 2 * N}
    assert staff_row(app).locked_until is not None
    assert locks(app) == 1
    assert login(app, TEST_PASSWORD).status_code == 401


def test_one_failure_short_of_the_threshold_does_not_lock(make_live):
    app = make_live(max_failures=N + 1)
    wrong_in_parallel(app)
    staff = staff_row(app)
    assert staff.locked_until is None and staff.failed_logins == N
    assert login(app, TEST_PASSWORD).status_code == 200
