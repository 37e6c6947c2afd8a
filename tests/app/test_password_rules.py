"""Staff passwords that are long enough but trivially guessed are refused with a message in
Chinese naming the reason: on the service (422 field errors) and in `flask users create-staff`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import service
from app.auth.models import StaffUser
from app.errors import ValidationFailed
from app.extensions import db

REPEATED = "密码不能由同一个字符或一小段字符重复组成（如1111111111、1212121212）"
RUN = "密码不能是连续的数字、字母或键盘顺序（如1234567890、abcdefghij、qwertyuiop）"
USERNAME = "密码不能包含用户名"
COMMON = "该密码过于常见，容易被猜中，请换一个"


def refusal(password: str, username: str = "zhangsan") -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        service.create_staff(username, password, ["handler"], actor_label="test")
    assert set(refused.value.fields) == {"password"}
    return refused.value.fields["password"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "密码至少需要10个字符"),
        ("1111111111", REPEATED),
        ("aaaaaaaaaaaaaaaa", REPEATED),
        ("1212121212", REPEATED),
        ("abcabcabcabc", REPEATED),
        ("1234567890", RUN),
        ("0987654321", RUN),
        ("abcdefghij", RUN),
        ("ABCDEFGHIJKL", RUN),
        ("qwertyuiop", RUN),
        ("1qaz2wsx3edc", RUN),
        ("zhangsan2024!", USERNAME),
        ("my-ZhangSan-pass", USERNAME),
        ("password123", COMMON),
        ("Password123", COMMON),
        ("woaini1314", COMMON),
        ("administrator", COMMON),
    ],
)
def test_weak_password_is_refused_with_the_reason(db_session, password, message):
    assert refusal(password) == [message]
    assert db.session.scalar(select(StaffUser).where(StaffUser.username == "zhangsan")) is None


@pytest.mark.parametrize(
    "password", ["correct-horse-battery", "zhcg-demo-2026", "Tiexi#2024-patrol", "7h9k2m4q8w"]
)
def test_reasonable_passwords_are_accepted(db_session, password):
    staff = service.create_staff("zhangsan", password, ["handler"], actor_label="test")
    assert staff.password_hash.startswith("$argon2id$")


def test_a_short_username_is_not_searched_for(db_session):
    """A one- or two-letter username would refuse half of all passwords."""
    staff = service.create_staff("li", "climbing-lily-pad", ["handler"], actor_label="test")
    assert staff.id


def test_cli_shows_the_reason(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create-staff", "wangwu", "--role", "handler", "--password", "1111111111"]
    )
    assert result.exit_code == 2
    assert f"error: password: {REPEATED}" in result.output
