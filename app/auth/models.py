"""Citizens, their WeChat identities, departments, staff accounts and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import enum_column, utcnow
from app.extensions import db


class Role(enum.StrEnum):
    """Staff roles. Labels are what staff read."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    REVIEWER = "reviewer"
    FINANCE = "finance"
    INSPECTOR = "inspector"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "系统管理员",
    Role.DISPATCHER: "派遣员",
    Role.HANDLER: "处置人员",
    Role.REVIEWER: "审核员",
    Role.FINANCE: "财务人员",
    Role.INSPECTOR: "监督员",
}


class WechatApp(enum.StrEnum):
    """Which of our WeChat apps an openid belongs to (openids differ per app)."""

    MINIPROGRAM = "miniprogram"
    MP = "mp"  # public account (公众号)


class TokenKind(enum.StrEnum):
    """Who a bearer token speaks for."""

    CITIZEN = "citizen"
    STAFF = "staff"


class User(db.Model):
    """A citizen. One person may have an openid in each app, linked by unionid."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    unionid: Mapped[str | None] = mapped_column(String(64), unique=True)
    nickname: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Set when the citizen deleted the account (app/privacy.py): the row stays, anonymised and
    # inactive, for the records that point at it (reports, rewards); it never signs in again.
    deleted_at: Mapped[datetime | None]

    identities: Mapped[list[WechatIdentity]] = relationship(back_populates="user")


class WechatIdentity(db.Model):
    """An openid of one of our WeChat apps. session_key stays on the server."""

    __tablename__ = "wechat_identities"
    __table_args__ = (UniqueConstraint("app_id", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    app_kind: Mapped[WechatApp] = mapped_column(enum_column(WechatApp, 16))
    app_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    session_key: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="identities")


class Department(db.Model):
    """A unit in the bureau's hierarchy (city bureau -> district 城管局 -> 街道 / units)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), default="bureau")
    # Department types of the categories it handles, comma-separated ("municipal,street").
    handles: Mapped[str] = mapped_column(String(200), default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side=[id])

    @property
    def handled_types(self) -> set[str]:
        return {t for t in self.handles.split(",") if t}

    def ancestor_ids(self) -> list[int]:
        """Ids from this department up to the root (itself first)."""
        ids, node, seen = [], self, set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            ids.append(node.id)
            node = node.parent
        return ids


class StaffUser(db.Model):
    """A staff account: argon2 password, roles, and a department scope (None = city-wide)."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Bumped on password change or deactivation: invalidates console sessions.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    department: Mapped[Department | None] = relationship()
    role_rows: Mapped[list[StaffRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[Role]:
        return {Role(r.role) for r in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        """True if the account holds any of ``roles`` (admins hold every role)."""
        mine = self.roles
        return Role.ADMIN in mine or any(r in mine for r in roles)


class StaffRole(db.Model):
    """A role held by a staff account."""

    __tablename__ = "staff_roles"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class ApiToken(db.Model):
    """A bearer token: only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (staff_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[TokenKind] = mapped_column(enum_column(TokenKind, 16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User | None] = relationship()
    staff: Mapped[StaffUser | None] = relationship()


def department_by_code(code: str) -> Department | None:
    """Look a department up by its code."""
    return db.session.scalar(select(Department).where(Department.code == code))
