"""A request whose transaction lost a deadlock runs again from the same body (app/dbretry.py);
a lock wait timeout and other errors do not; after the last attempt the client gets the 503."""

from __future__ import annotations

import hashlib
import io

import pymysql
import pytest
from flask import jsonify, request
from sqlalchemy import exc as sa_exc

from app import dbretry
from app.errors import database_trouble
from tests.conftest import error_of


def mysql_error(code: int, statement: str | None = "UPDATE report_counters SET n = n + 1"):
    message = {1213: "Deadlock found when trying to get lock; try restarting transaction",
               1205: "Lock wait timeout exceeded; try restarting transaction"}[code]  # fmt: skip
    return sa_exc.OperationalError(statement, {}, pymysql.err.OperationalError(code, message))


@pytest.fixture
def flaky_view(app, monkeypatch):
    """/healthz replaced by a view that reads the body and fails with the errors it is given."""
    calls: list[str] = []
    errors: list[Exception] = []

    def view():
        calls.append(hashlib.sha256(request.get_data()).hexdigest())
        if errors:
            raise errors.pop(0)
        return jsonify(attempts=len(calls), body=calls[-1])

    monkeypatch.setitem(app.view_functions, "health.healthz", view)
    return calls, errors


def retried() -> float:
    return dbretry.RETRIES.labels("retried")._value.get()


def test_a_deadlocked_request_runs_again_with_the_same_body(app, client, flaky_view):
    calls, errors = flaky_view
    body = bytes(range(256)) * 12_000  # 3 MB: the copy goes past memory into a temporary file
    errors.extend([mysql_error(1213), mysql_error(1213, statement=None)])  # the 2nd at COMMIT
    before = retried()
    resp = client.open("/healthz", method="GET", data=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    digest = hashlib.sha256(body).hexdigest()
    assert resp.get_json() == {"attempts": 3, "body": digest}
    assert calls == [digest] * 3
    assert retried() - before == 2


def test_the_client_gets_503_after_the_last_attempt(app, client, flaky_view):
    calls, errors = flaky_view
    errors.extend(mysql_error(1213) for _ in range(5))
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert error_of(resp)["code"] == "database_busy"
    assert error_of(resp)["message"] == "系统繁忙，请稍后重试"
    assert len(calls) == 1 + app.config["DB_DEADLOCK_RETRIES"]


def test_a_lock_wait_timeout_is_not_run_again(client, flaky_view):
    calls, errors = flaky_view
    errors.append(mysql_error(1205))
    resp = client.get("/healthz")
    assert resp.status_code == 503 and error_of(resp)["code"] == "database_busy"
    assert len(calls) == 1


def test_a_real_error_is_not_run_again(client, flaky_view):
    calls, errors = flaky_view
    errors.append(ValueError("a bug"))
    assert client.get("/healthz").status_code == 500
    assert len(calls) == 1


def test_a_certification_failure_at_commit_is_busy_not_unavailable():
    """Galera reports a commit that lost certification as 1213 with no statement: the client may
    retry at once (5 s), it is not the database being away (30 s)."""
    assert database_trouble(mysql_error(1213, statement=None)) == "database_busy"
    lost = sa_exc.OperationalError(None, {}, pymysql.err.OperationalError(2013, "Lost connection"))
    assert database_trouble(lost) == "database_unavailable"


def test_replay_reads_the_copy_then_the_client():
    copy = io.BytesIO()
    copy.write(b"line one\nline t")
    stream = dbretry._Replay(b"line one\nline t", io.BytesIO(b"wo\nrest"), copy)
    assert stream.readline() == b"line one\n"
    assert stream.readline() == b"line two\n"
    assert stream.read() == b"rest"
    assert copy.getvalue() == b"line one\nline two\nrest"
