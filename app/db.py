"""Declarative base, column types and time helpers shared by every model."""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, TypeDecorator, event, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app.errors import Conflict

log = logging.getLogger(__name__)

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
        raise Conflict(message, code="stale_version")


def flush_versioned(message: str) -> None:
    """Flush; a concurrent edit caught by the version column (StaleDataError) is a 409 too."""
    from app.extensions import db  # app.extensions imports this module (Base)

    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(message, code="stale_version") from None


# ---------------------------------------------------------------- one transaction boundary

HOOKS = "zhcg.tx_hooks"


def _hooks(session: Any = None) -> dict[str, list[Callable[[], None]]]:
    from app.extensions import db  # app.extensions imports this module (Base)

    info = (session or db.session).info
    return info.setdefault(HOOKS, {"commit": [], "rollback": []})


def on_commit(fn: Callable[[], None]) -> None:
    """Run ``fn`` once the current transaction has committed (side effects that must not
    happen for work that is rolled back)."""
    _hooks()["commit"].append(fn)


def on_rollback(fn: Callable[[], None]) -> None:
    """Run ``fn`` if the current transaction does not commit: rolled back, or left uncommitted
    when the request or command ends (a stored file whose row will never exist, say)."""
    _hooks()["rollback"].append(fn)


def commit(keep_loaded: bool = False) -> None:
    """Commit the request's one transaction; a concurrent edit caught by a version column is a
    409, and any failure rolls back (running the rollback hooks) before it is raised.
    ``keep_loaded``: the objects keep the values this transaction wrote instead of being read
    again on their next use (for a response that shows what was just written), as the
    database keeps them (:func:`as_stored`)."""
    from app.extensions import db  # app.extensions imports this module (Base)

    session = db.session()  # the request's session behind the scoped proxy
    expiring = session.expire_on_commit
    session.expire_on_commit = expiring and not keep_loaded
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict("数据已被他人更新，请刷新后重试", code="stale_version") from None
    except Exception:
        db.session.rollback()
        raise
    finally:
        session.expire_on_commit = expiring
    if keep_loaded:
        as_stored(session)


def as_stored(session: Session) -> None:
    """The loaded datetimes as the database holds them: MariaDB's DATETIME columns keep whole
    seconds (it drops the fraction), SQLite keeps microseconds."""
    if session.get_bind().dialect.name != "mysql":
        return
    for obj in list(session.identity_map.values()):
        state = inspect(obj)
        for key in _datetime_keys(state.mapper):
            value = state.dict.get(key)
            if value is not None and value.microsecond:
                set_committed_value(obj, key, value.replace(microsecond=0))


@functools.cache
def _datetime_keys(mapper: Any) -> tuple[str, ...]:
    return tuple(attr.key for attr in mapper.column_attrs
                 if isinstance(attr.columns[0].type, DateTime | UTCDateTime))  # fmt: skip


def _run(hooks: list[Callable[[], None]], what: str) -> None:
    for fn in hooks:
        try:
            fn()
        except Exception:  # noqa: BLE001 - one failing hook must not stop the others
            log.exception("%s hook %r failed", what, fn)


_listening = False


def install_transaction_hooks(app: Any) -> None:
    """Run the hooks after a commit, after the outermost rollback, and for work left
    uncommitted when the app context ends (the session is then discarded)."""
    from app.extensions import db  # app.extensions imports this module (Base)

    @app.teardown_appcontext
    def _uncommitted(_exc: BaseException | None) -> None:
        session = db.session
        hooks = session.info.pop(HOOKS, None) if session.registry.has() else None
        if hooks:
            _run(hooks["rollback"], "on_rollback")
        # Discard the session here: rolling back on a connection whose server died (kill -9,
        # a failover) raises, and from Flask-SQLAlchemy's own teardown that escaped the request.
        try:
            session.remove()
        except DBAPIError as err:
            log.warning("session discarded after its connection failed: %s", err.orig)
            session.registry.clear()

    global _listening
    if _listening:
        return
    _listening = True

    @event.listens_for(Session, "after_commit")
    def _committed(session: Session) -> None:
        hooks = session.info.pop(HOOKS, None)
        if hooks:
            _run(hooks["commit"], "on_commit")

    @event.listens_for(Session, "after_soft_rollback")
    def _rolled_back(session: Session, previous: Any) -> None:
        if previous.parent is not None:
            return  # a savepoint: the transaction goes on
        hooks = session.info.pop(HOOKS, None)
        if hooks:
            _run(hooks["rollback"], "on_rollback")
