"""Declarative base, column types and time helpers shared by every model."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MYSQL_TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (portable across SQLite and MariaDB), returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use app.db.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """An enum stored by its value as a short string (no native ENUM: migrations stay simple)."""
    return Enum(
        enum_cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        validate_strings=True,
        length=length,
    )


class Base(DeclarativeBase):
    """Base of every model: constraint naming convention and aware-UTC datetimes."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def apply_table_options(metadata: MetaData) -> None:
    """utf8mb4 tables on MariaDB, whatever the server's default (call once all models exist)."""
    for table in metadata.tables.values():
        for key, value in MYSQL_TABLE_OPTIONS.items():
            table.dialect_kwargs.setdefault(key, value)


# ---------------------------------------------------------------- optimistic versions (409)


def check_version(row: Any, version: int | None, message: str) -> None:
    """409 stale_version when the client sent the version it read and the row has moved on."""
    if version is not None and version != row.version:
        from app.errors import Conflict

        raise Conflict(message, code="stale_version")


def flush_versioned(message: str) -> None:
    """Flush; a concurrent edit caught by the version column (StaleDataError) is a 409 too."""
    from sqlalchemy.orm.exc import StaleDataError

    from app.errors import Conflict
    from app.extensions import db

    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(message, code="stale_version") from None
