"""Engine-level settings that every connection needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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


def _may_write() -> bool:
    """True unless this is a GET/HEAD request. In WAL mode a transaction that read first cannot
    become a writer once another connection has committed (SQLITE_BUSY_SNAPSHOT, which the busy
    timeout does not cover): a double-clicked POST would get a 500. Transactions that may write
    take the write lock when they begin and wait their turn instead; reads stay concurrent."""
    from flask import has_request_context, request

    return not (has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"))
