"""flask users create-staff and flask seed demo."""

from __future__ import annotations

from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth.models import Role, StaffUser
from app.cli import DEMO_PASSWORD, DEMO_STAFF
from app.extensions import db


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def staff_named(username: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def test_create_staff_with_role_and_department(app, client, make_department):
    make_department("SY-210106", "铁西区城管局")
    result = run(
        app,
        "users", "create-staff", "wangwu",
        "--role", "handler", "--department", "SY-210106",
        "--display-name", "王五", "--password", "a-long-password-1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created staff wangwu" in result.output
    staff = staff_named("wangwu")
    assert staff.roles == {Role.HANDLER}
    assert staff.department.name == "铁西区城管局"
    assert staff.password_hash.startswith("$argon2id$")
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "staff.create"))
    assert audit.actor_label == "cli"
    login = client.post(
        "/api/v1/auth/staff/login", json={"username": "wangwu", "password": "a-long-password-1"}
    )
    assert login.status_code == 200


def test_create_staff_refuses_bad_input(app):
    short = run(app, "users", "create-staff", "u1", "--role", "admin", "--password", "short")
    assert short.exit_code == 2
    assert "password" in short.output
    no_dept = run(
        app, "users", "create-staff", "u2", "--role", "handler",
        "--department", "NOPE", "--password", "a-long-password-1",
    )  # fmt: skip
    assert no_dept.exit_code == 2
    assert "NOPE" in no_dept.output
    bad_role = run(app, "users", "create-staff", "u3", "--role", "mayor", "--password", "x" * 12)
    assert bad_role.exit_code != 0
    assert staff_named("u1") is None and staff_named("u2") is None and staff_named("u3") is None


def test_create_staff_prompts_for_the_password(app):
    result = run(
        app, "users", "create-staff", "prompted", "--role", "finance",
        input="a-long-password-2\na-long-password-2\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "a-long-password-2" not in result.output.split("Repeat")[0].split("Password:")[-1]
    assert staff_named("prompted").roles == {Role.FINANCE}


def test_seed_demo_is_idempotent(app, client):
    # the staff are what this test is about
    small = ("--shops", "0", "--facility-scale", "0", "--littering", "0")
    first = run(app, "seed", "demo", *small)
    assert first.exit_code == 0, first.output
    assert "demo city seeded" in first.output
    count = db.session.scalar(select(func.count()).select_from(StaffUser))
    assert count == len(DEMO_STAFF)
    second = run(app, "seed", "demo", *small)
    assert "skipped" in second.output
    assert db.session.scalar(select(func.count()).select_from(StaffUser)) == count
    tiexi = staff_named("tiexi_handler")
    assert tiexi.department.name == "铁西区城管局"
    assert tiexi.department.parent.name == "沈阳市城市管理综合行政执法局"
    resp = client.post(
        "/api/v1/auth/staff/login", json={"username": "dispatcher", "password": DEMO_PASSWORD}
    )
    assert resp.status_code == 200
