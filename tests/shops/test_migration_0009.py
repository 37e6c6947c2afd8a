"""Migration 0009 (one active plate code per shop) on a database that already holds the
duplicates concurrent reissues left: the newest code stays, the others are revoked as replaced
by it, and the unique index is in place afterwards."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from app import create_app
from app.extensions import db
from shops.models import CodeStatus, Industry, Shop, ShopCode


@pytest.fixture
def old_app(live_db_url, tmp_path):
    """An app on a committed database migrated up to 0008 only."""
    app = create_app(
        "testing",
        {"SQLALCHEMY_DATABASE_URI": live_db_url, "CHANGES_FILE": str(tmp_path / "seq.bin")},
    )
    with app.app_context():
        upgrade(revision="0008")
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _old_rows() -> None:
    """Shop 1 with three active codes (a race), shop 2 with one revoked and one active."""
    db.session.execute(insert(Industry.__table__).values(id=1, code="catering", name="餐饮"))
    for shop_id in (1, 2):
        db.session.execute(
            text(
                "INSERT INTO shops (id, name, industry_id, credit_code, address, lat, lng,"
                " coord_sys_in, owner_name, owner_phone, business_hours, status, duties,"
                " source, created_at, updated_at, version) VALUES (:id, '店', 1, :credit,"
                " '地址', 41.8, 123.4, 'gcj02', '张三', '13800000000', '', 'active', '[]',"
                " 'import', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
            ),
            {"id": shop_id, "credit": f"9121010000000000{shop_id}"},
        )
    rows = [(1, "AAAA0001", 1, "active"), (2, "AAAA0002", 1, "active"),
            (3, "AAAA0003", 1, "active"), (4, "BBBB0001", 2, "revoked"),
            (5, "BBBB0002", 2, "active")]  # fmt: skip
    for id_, code, shop_id, status in rows:
        db.session.execute(
            text(
                "INSERT INTO shop_codes (id, code, shop_id, status, issued_at)"
                " VALUES (:id, :code, :shop, :status, '2026-01-01 00:00:00')"
            ),
            {"id": id_, "code": code, "shop": shop_id, "status": status},
        )
    db.session.commit()


def test_upgrade_keeps_the_newest_active_code_and_adds_the_index(old_app):
    _old_rows()
    upgrade()
    found = {c.code: c for c in db.session.scalars(select(ShopCode))}
    assert {code: (c.status, c.active) for code, c in found.items()} == {
        "AAAA0001": (CodeStatus.REVOKED, None),
        "AAAA0002": (CodeStatus.REVOKED, None),
        "AAAA0003": (CodeStatus.ACTIVE, True),
        "BBBB0001": (CodeStatus.REVOKED, None),
        "BBBB0002": (CodeStatus.ACTIVE, True),
    }
    for code in ("AAAA0001", "AAAA0002"):
        assert found[code].replaced_by_id == found["AAAA0003"].id
        assert found[code].revoked_at is not None and "重复" in found[code].revoke_reason
    assert found["BBBB0001"].revoked_at is None  # untouched
    db.session.add(ShopCode(code="CCCC0001", shop_id=1, status=CodeStatus.ACTIVE))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    downgrade(revision="0008")
    assert db.session.scalar(text("SELECT count(*) FROM shop_codes WHERE status = 'active'")) == 2
    db.session.commit()
    upgrade()
    assert db.session.get(Shop, 1) is not None
