"""Engine-level settings that every connection needs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_installed = False


def install_engine_hooks() -> None:
    """SQLite: foreign keys on, and real transactions so SAVEPOINTs work (SQLAlchemy recipe)."""
    global _installed
    if _installed:
        return
    _installed = True

    @event.listens_for(Engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):  # pragma: no cover - trivial
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")  # several gunicorn workers share the file
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    @event.listens_for(Engine, "begin")
    def _sqlite_begin(conn):  # pragma: no cover - trivial
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


_WRITER: ContextVar[bool] = ContextVar("zhcg_sqlite_writer", default=False)


@contextmanager
def writer() -> Iterator[None]:
    """Mark the work inside (a worker round, say) as a writer: on SQLite its transactions take
    the write lock when they begin (see ``_may_write``)."""
    token = _WRITER.set(True)
    try:
        yield
    finally:
        _WRITER.reset(token)


def _may_write() -> bool:
    """True for a request that may write (not GET/HEAD/OPTIONS) and inside ``writer()``. In WAL
    mode a transaction that read first cannot become a writer once another connection has
    committed (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not cover): a double-clicked
    POST would get a 500. Such transactions take the write lock when they begin and wait their
    turn instead. Reads, including background threads that read for a long time (cache
    prefills), stay concurrent and never hold the write lock."""
    if _WRITER.get():
        return True
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
