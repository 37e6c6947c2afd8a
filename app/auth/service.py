"""Sign-in operations: tokens, staff passwords and lock-out, citizens from WeChat identities.

Services flush, never commit: the view commits once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from app import audit
from app.auth import passwords
from app.auth.models import (
    ApiToken,
    Department,
    Role,
    StaffRole,
    StaffUser,
    TokenKind,
    User,
    WechatApp,
    WechatIdentity,
    department_by_code,
)
from app.db import utcnow
from app.dbsetup import writer
from app.errors import Unauthorized, ValidationFailed
from app.extensions import db

log = logging.getLogger(__name__)


def _hasher() -> PasswordHasher:
    """argon2id with the configured cost, and a dummy hash of the same cost (built once)."""
    cfg = current_app.config
    params = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"])
    cache = current_app.extensions.setdefault("argon2", {})
    if cache.get("params") != params:
        hasher = PasswordHasher(time_cost=params[0], memory_cost=params[1])
        # Verified against when the username is unknown: timing does not reveal which exist.
        cache.update(params=params, hasher=hasher, dummy=hasher.hash("not-a-real-password-0"))
    return cache["hasher"]


# A citizen's last sign-in time is rewritten at most this often (see _stale).
LOGIN_TOUCH_INTERVAL = timedelta(minutes=1)
TOKEN_PREFIX = "zc_"  # noqa: S105 - a prefix, not a secret


class LoginFailed(Unauthorized):
    """Any refused staff sign-in: unknown user, wrong password or a locked account answer the
    same (the reason is logged), so the answer does not tell which accounts exist. The view
    commits the failure counter before answering."""

    code = "invalid_credentials"
    message = "用户名或密码错误（连续输错多次，账号将被临时锁定）"


def hash_token(raw: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    *, user: User | None = None, staff: StaffUser | None = None
) -> tuple[str, ApiToken]:
    """Create a bearer token for a citizen or a staff account; returns (raw token, row)."""
    if (user is None) == (staff is None):
        raise ValueError("a token belongs to exactly one citizen or staff account")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hours = current_app.config[
        "CITIZEN_TOKEN_TTL_HOURS" if user is not None else "STAFF_TOKEN_TTL_HOURS"
    ]
    token = ApiToken(
        token_hash=hash_token(raw),
        kind=TokenKind.CITIZEN if user is not None else TokenKind.STAFF,
        user=user,
        staff=staff,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    db.session.add(token)
    db.session.flush()
    return raw, token


def resolve_token(raw: str) -> ApiToken | None:
    """The live token for ``raw``: not expired, not revoked, owner active."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return None
    owner = token.user if token.kind == TokenKind.CITIZEN else token.staff
    if owner is None or not owner.is_active:
        return None
    return token


def revoke_token(token: ApiToken) -> None:
    """Revoke one token (sign-out)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()


def hash_password(password: str, username: str | None = None) -> str:
    """argon2id hash, refusing passwords that are too short or too easy to guess."""
    problem = passwords.weakness(password, username)
    if problem is not None:
        raise ValidationFailed(fields={"password": [problem]})
    return _hasher().hash(password)


def _verify_nothing(password: str) -> None:
    """The work of a real password check, for a sign-in refused without one (unknown or locked
    account): the response time does not tell it apart from a wrong password."""
    with contextlib.suppress(VerificationError):
        _hasher().verify(current_app.extensions["argon2"]["dummy"], password)


def _unlocked(now: datetime) -> ColumnElement[bool]:
    """The condition of a staff row that is not locked at ``now``."""
    return or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now)


def authenticate_staff(username: str, password: str) -> StaffUser:
    """Check a staff password. Failures are counted in the database, one by one even when they
    arrive in parallel, and the account locks when they reach LOGIN_MAX_FAILURES; every refusal
    is the same LoginFailed."""
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    now = utcnow()
    if staff is None or not staff.is_active:
        _verify_nothing(password)
        # The name is not logged: people type their password into the username field too.
        log.info("staff sign-in refused: no active account by that name")
        raise LoginFailed()
    if staff.locked_until is not None and staff.locked_until > now:
        _verify_nothing(password)
        log.warning("staff sign-in refused: account %s is locked", staff.id)
        raise LoginFailed()
    try:
        _hasher().verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        _count_failure(staff, now)
        raise LoginFailed() from None
    signed_in = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id, _unlocked(now))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(staff)
    if not signed_in:  # parallel failures locked it after it was read
        log.warning("staff sign-in refused: account %s was locked meanwhile", staff.id)
        raise LoginFailed()
    if _hasher().check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher().hash(password)
    audit.record("staff.login", "staff", staff.id, actor=staff)
    db.session.flush()
    return staff


def _count_failure(staff: StaffUser, now: datetime) -> None:
    """Count one wrong password in the database (failed_logins + 1 under the row lock, so
    parallel failures are all counted); the one that reaches the limit locks the account and
    ends its console sessions. Failures while it is locked are not counted."""
    cfg = current_app.config
    counted = db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id, _unlocked(now))
        .values(failed_logins=StaffUser.failed_logins + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(staff)
    if not counted:
        log.warning("staff sign-in refused: account %s was locked meanwhile", staff.id)
        return
    failures = db.session.scalar(select(StaffUser.failed_logins).where(StaffUser.id == staff.id))
    log.info("staff sign-in refused: wrong password for account %s (%s)", staff.id, failures)
    if failures < cfg["LOGIN_MAX_FAILURES"]:
        return
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id)
        .values(
            failed_logins=0,
            locked_until=now + timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"]),
            session_version=StaffUser.session_version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    audit.record("staff.locked", "staff", staff.id, actor_label="system")
    db.session.flush()
    log.warning("staff account %s locked after %s failed sign-ins", staff.id, failures)


def end_staff_sessions(staff: StaffUser) -> None:
    """End every console session of this account (sign-out, lock): sessions carry the
    account's session version, and a session whose version is behind is refused."""
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.id == staff.id)
        .values(session_version=StaffUser.session_version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(staff)
    log.info("console sessions of staff account %s ended", staff.id)


def create_staff(
    username: str,
    password: str,
    roles: list[str],
    *,
    display_name: str | None = None,
    department_code: str | None = None,
    phone: str | None = None,
    actor_label: str = "cli",
) -> StaffUser:
    """Create a staff account with roles and an optional department scope."""
    errors: dict[str, list[str]] = {}
    if not username or len(username) > 64:
        errors["username"] = ["用户名长度应为1-64个字符"]
    elif db.session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        errors["username"] = ["该用户名已存在"]
    try:
        parsed_roles = sorted({Role(r) for r in roles}) if roles else []
    except ValueError:
        parsed_roles = []
        errors["roles"] = [f"角色只能是：{', '.join(r.value for r in Role)}"]
    if not parsed_roles and "roles" not in errors:
        errors["roles"] = ["至少需要一个角色"]
    department: Department | None = None
    if department_code:
        department = department_by_code(department_code)
        if department is None:
            errors["department"] = [f"部门编码不存在：{department_code}"]
    if errors:
        raise ValidationFailed(fields=errors)
    staff = StaffUser(
        username=username,
        display_name=display_name or username,
        phone=phone,
        password_hash=hash_password(password, username),
        department=department,
        role_rows=[StaffRole(role=r.value) for r in parsed_roles],
    )
    db.session.add(staff)
    db.session.flush()
    audit.record(
        "staff.create",
        "staff",
        staff.id,
        actor_label=actor_label,
        roles=[r.value for r in parsed_roles],
        department=department_code,
    )
    return staff


def citizen_from_wechat(
    app_kind: WechatApp,
    app_id: str,
    openid: str,
    *,
    unionid: str | None = None,
    session_key: str | None = None,
) -> tuple[User, bool]:
    """The citizen behind an openid and whether this sign-in created the identity.

    Created on first sign-in; linked to the same person's other app identity by unionid. The
    same person signing in several times at once (a double tap, two tabs) gets one account.
    """
    with writer():  # SQLite: a transaction begun here takes the write lock at once (dbsetup)
        identity = db.session.scalar(
            select(WechatIdentity).where(
                WechatIdentity.app_id == app_id, WechatIdentity.openid == openid
            )
        )
        if identity is None:
            return _first_sign_in(app_kind, app_id, openid, unionid, session_key)
        _touch(identity, unionid, session_key)
        return identity.user, False


def _first_sign_in(
    app_kind: WechatApp, app_id: str, openid: str, unionid: str | None, session_key: str | None
) -> tuple[User, bool]:
    """Create the identity (and the citizen, unless the unionid names one); (user, created).

    A concurrent first sign-in of the same person may commit first: this request's INSERT
    waits for it and fails on the unique key, and the row is then used. On MariaDB the loser
    keeps a shared lock on that row and its snapshot predates it, so it reads past the snapshot
    under shared locks of existing rows only (a lock on a missing row would lock the gap the
    others insert into), and writes neither the identity nor the user (upgrading a shared lock
    deadlocks with the other losers). SQLite serialises writers, so the race never starts there.
    """
    now = utcnow()
    try:
        with db.session.begin_nested():  # a new citizen is undone with the identity
            user = _citizen_for(unionid, now)
            db.session.add(
                WechatIdentity(
                    user_id=user.id,
                    app_kind=app_kind,
                    app_id=app_id,
                    openid=openid,
                    unionid=unionid,
                    session_key=session_key,
                    last_seen_at=now,
                )
            )
        return user, True
    except IntegrityError:
        pass  # this openid's first sign-in committed first: the INSERT waited for it
    identity = _committed(
        select(WechatIdentity).where(
            WechatIdentity.app_id == app_id, WechatIdentity.openid == openid
        )
    )
    if identity is None:
        raise RuntimeError("could not create or find the WeChat identity")
    user = _committed(select(User).where(User.id == identity.user_id))
    # This transaction's snapshot may miss the identities the winner made: add the one read.
    seen = db.session.scalars(select(WechatIdentity).where(WechatIdentity.user_id == user.id))
    others = [i for i in seen if i.id != identity.id]
    set_committed_value(user, "identities", [*others, identity])
    log.info("concurrent first sign-in of identity %s: reused", identity.id)
    return user, False


def _citizen_for(unionid: str | None, now: datetime) -> User:
    """The citizen holding this unionid, else a new one (flushed)."""
    if unionid:
        user = db.session.scalar(select(User).where(User.unionid == unionid))
        if user is not None:
            if _stale(user.last_login_at, now):
                user.last_login_at = now  # written before the identity row is inserted
                db.session.flush()
            return user
    user = User(unionid=unionid, last_login_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(user)
        return user
    except IntegrityError:
        # The same person's first sign-in in the other app committed this unionid first.
        if not unionid:
            raise
    user = _committed(select(User).where(User.unionid == unionid))
    if user is None:
        raise RuntimeError("could not create or find the citizen")
    return user


def _committed(query: Select) -> Any:
    """The one row of ``query`` as committed now, share-locked (past this transaction's
    snapshot on MariaDB); only for a row known to exist, so no gap is locked."""
    query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return db.session.scalars(query).one_or_none()


def _stale(seen: datetime | None, now: datetime) -> bool:
    """Whether a sign-in time is worth rewriting: not within a burst of sign-ins, whose rows
    stay unlocked so that the burst's requests cannot deadlock on them."""
    return seen is None or now - seen >= LOGIN_TOUCH_INTERVAL


def _touch(identity: WechatIdentity, unionid: str | None, session_key: str | None) -> None:
    """Record a sign-in of an existing identity. The identity row is written first and the user
    row only when its sign-in time is stale (see ``_first_sign_in``)."""
    now = utcnow()
    if unionid and identity.unionid != unionid:
        identity.unionid = unionid
    if session_key is not None:
        identity.session_key = session_key
    identity.last_seen_at = now
    db.session.flush()
    user = identity.user
    if unionid and user.unionid is None:
        holder = db.session.scalar(select(User.id).where(User.unionid == unionid))
        if holder is None:
            user.unionid = unionid
        elif holder != user.id:
            log.warning(
                "unionid already linked to user %s; identity %s left apart", holder, identity.id
            )
    if _stale(user.last_login_at, now):
        user.last_login_at = now
    db.session.flush()
