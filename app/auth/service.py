"""Sign-in operations: tokens, staff passwords and lock-out, citizens from WeChat identities.

Services flush, never commit: the view commits once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit
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
from app.errors import Forbidden, Unauthorized, ValidationFailed
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


MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "zc_"  # noqa: S105 - a prefix, not a secret


class LoginFailed(Unauthorized):
    """Wrong username or password. The view commits the failure counter before answering."""

    code = "invalid_credentials"
    message = "用户名或密码错误"


class AccountLocked(Forbidden):
    """Too many failures: the account is locked for a while."""

    code = "account_locked"
    message = "密码错误次数过多，账号已临时锁定，请稍后再试"


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


def hash_password(password: str) -> str:
    """argon2id hash, refusing passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(fields={"password": [f"密码至少需要{MIN_PASSWORD_LENGTH}个字符"]})
    return _hasher().hash(password)


def authenticate_staff(username: str, password: str) -> StaffUser:
    """Check a staff password, counting failures and locking the account after too many."""
    cfg = current_app.config
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    now = utcnow()
    if staff is None or not staff.is_active:
        with contextlib.suppress(VerificationError):
            _hasher().verify(current_app.extensions["argon2"]["dummy"], password)
        raise LoginFailed()
    if staff.locked_until is not None and staff.locked_until > now:
        raise AccountLocked()
    try:
        _hasher().verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        staff.failed_logins += 1
        if staff.failed_logins >= cfg["LOGIN_MAX_FAILURES"]:
            staff.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
            staff.failed_logins = 0
            audit.record("staff.locked", "staff", staff.id, actor_label="system")
            log.warning("staff account %s locked after repeated failures", staff.username)
        db.session.flush()
        raise LoginFailed() from None
    if _hasher().check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher().hash(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    audit.record("staff.login", "staff", staff.id, actor=staff)
    db.session.flush()
    return staff


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
        password_hash=hash_password(password),
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

    Created on first sign-in; linked to the same person's other app identity by unionid.
    """
    created = False
    for _attempt in range(2):
        identity = db.session.scalar(
            select(WechatIdentity).where(
                WechatIdentity.app_id == app_id, WechatIdentity.openid == openid
            )
        )
        if identity is not None:
            break
        user = None
        if unionid:
            user = db.session.scalar(select(User).where(User.unionid == unionid))
        try:
            with db.session.begin_nested():
                if user is None:
                    user = User(unionid=unionid)
                    db.session.add(user)
                identity = WechatIdentity(
                    user=user, app_kind=app_kind, app_id=app_id, openid=openid, unionid=unionid
                )
                db.session.add(identity)
            created = True
            break
        except IntegrityError:
            # A concurrent first sign-in of the same person won the race: read theirs.
            identity = None
            continue
    if identity is None:
        raise RuntimeError("could not create or find the WeChat identity")
    user = identity.user
    if unionid and identity.unionid != unionid:
        identity.unionid = unionid
    if unionid and user.unionid is None:
        holder = db.session.scalar(select(User.id).where(User.unionid == unionid))
        if holder is None:
            user.unionid = unionid
        elif holder != user.id:
            log.warning(
                "unionid already linked to user %s; identity %s left apart", holder, identity.id
            )
    if session_key is not None:
        identity.session_key = session_key
    now = utcnow()
    identity.last_seen_at = now
    user.last_login_at = now
    db.session.flush()
    return user, created
