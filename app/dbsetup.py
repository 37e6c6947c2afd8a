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
            conn.exec_driver_sql("BEGIN")
