"""One transaction boundary: hooks run after a commit, after a rollback, or when the work is left
uncommitted at the end of the request; a stale write at commit is a 409."""

from __future__ import annotations

import pytest

from app.auth.models import Department
from app.db import commit, on_commit, on_rollback
from app.errors import Conflict
from app.extensions import db


def test_commit_runs_commit_hooks_only(db_session):
    seen = []
    on_commit(lambda: seen.append("committed"))
    on_rollback(lambda: seen.append("rolled back"))
    db.session.add(Department(code="HOOK-1", name="钩子测试"))
    commit()
    assert seen == ["committed"]
    commit()  # the hooks ran once: a later commit runs nothing again
    assert seen == ["committed"]


def test_rollback_runs_rollback_hooks_only(db_session):
    seen = []
    on_commit(lambda: seen.append("committed"))
    on_rollback(lambda: seen.append("rolled back"))
    db.session.add(Department(code="HOOK-2", name="钩子测试"))
    db.session.flush()
    db.session.rollback()
    assert seen == ["rolled back"]


def test_a_failing_hook_does_not_stop_the_others(db_session):
    seen = []
    on_rollback(lambda: 1 / 0)
    on_rollback(lambda: seen.append("second"))
    db.session.add(Department(code="HOOK-3", name="钩子测试"))
    db.session.flush()
    db.session.rollback()
    assert seen == ["second"]


def test_uncommitted_work_at_the_end_of_a_request_runs_rollback_hooks(app):
    seen = []
    with app.app_context(), app.test_request_context("/api/v1/reports", method="POST"):
        on_rollback(lambda: seen.append("discarded"))  # the view ends without a commit
    assert seen == ["discarded"]


def test_a_stale_write_at_commit_is_a_conflict(db_session, monkeypatch):
    from sqlalchemy.orm.exc import StaleDataError

    def stale():
        raise StaleDataError("row moved on")

    monkeypatch.setattr(db.session, "commit", stale)
    with pytest.raises(Conflict) as caught:
        commit()
    assert caught.value.code == "stale_version" and caught.value.status == 409
