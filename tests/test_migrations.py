"""The migrations build exactly the schema the models describe, on SQLite and MariaDB."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.extensions import db


def test_models_and_migrations_agree(app, db_session):
    connection = db_session.connection()
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; run `make migrate-regen`: {diff}"


def test_every_table_is_utf8mb4_on_mariadb(app, db_session, is_mariadb):
    if not is_mariadb:
        pytest.skip("MariaDB only (set TEST_DATABASE_URL)")
    rows = db_session.execute(
        text(
            "SELECT table_name, table_collation FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
        )
    ).all()
    assert rows
    assert {collation.split("_")[0] for _, collation in rows} == {"utf8mb4"}


def test_chinese_and_emoji_round_trip(app, db_session, make_department):
    dept = make_department("EMOJI", "铁西区城管局 🚧 井盖")
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(type(dept), dept.id).name == "铁西区城管局 🚧 井盖"
