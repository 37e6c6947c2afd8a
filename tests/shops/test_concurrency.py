"""Plate reissues, for real: N requests at once against a database whose transactions really
commit (a migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL). However
many staff press "reissue" at once, a shop ends with exactly one active plate code, every old
plate is revoked, and nobody gets a 5xx."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.auth import service as auth_service
from app.auth.models import Role
from app.extensions import db
from shops import codes
from shops.models import CodeStatus, Industry, Shop, ShopCode, ShopStatus
from tests.conftest import committed_app

N = 10


@dataclass
class Live:
    app: object
    token: str
    shop_id: int
    first_code: str

    def reissue(self, body: dict):
        client = self.app.test_client()
        return client.post(
            f"/api/v1/staff/shops/{self.shop_id}/codes/reissue",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def parallel(self, body: dict, n: int = N):
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda _: self.reissue(body), range(n)))
        return Counter(r.status_code for r in results), results

    def codes(self) -> list[ShopCode]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(ShopCode).order_by(ShopCode.id)))
            db.session.expunge_all()
            return rows

    def audits(self) -> int:
        with self.app.app_context():
            return db.session.scalar(
                select(func.count(AuditLog.id)).where(AuditLog.action == "shop.code_reissued")
            )


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A second app on its own committed database: one shop with its plate, one dispatcher."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        shop = Shop(name="老边饺子馆", industry=Industry(code="catering", name="餐饮"),
                    credit_code="91210100RACE00001", address="沈阳市沈河区中街路1号", lat=41.8,
                    lng=123.46, owner_name="张三", owner_phone="13800000000",
                    status=ShopStatus.ACTIVE)  # fmt: skip
        first = codes.issue_code(shop)
        staff = auth_service.create_staff(
            "dispatcher", "correct-horse-battery", [Role.DISPATCHER.value], actor_label="test"
        )
        token = auth_service.issue_token(staff=staff)[0]
        db.session.commit()
        live = Live(app, token, shop.id, first.code)
    try:
        yield live
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_parallel_reissues_leave_exactly_one_active_code(live):
    statuses, results = live.parallel({"reason": "牌子丢失"})
    assert statuses == {200: N}, [r.json for r in results]
    rows = live.codes()
    active = [c for c in rows if c.status == CodeStatus.ACTIVE]
    assert len(active) == 1, [(c.code, c.status) for c in rows]
    # The reissues ran one after the other: every code but the last was replaced by the next one,
    # and each answer names exactly the code it revoked.
    assert len(rows) == N + 1
    assert all(c.replaced_by_id == rows[i + 1].id for i, c in enumerate(rows[:-1]))
    replaced = sorted(code for r in results for code in r.json["replaced"])
    assert replaced == sorted(c.code for c in rows[:-1])
    assert live.audits() == N


def test_parallel_reissues_of_one_plate_reissue_it_once(live):
    """A double click (or two staff at once) naming the plate they replace: one reissue, the
    others are told the plate was just replaced."""
    statuses, results = live.parallel({"reason": "牌子丢失", "replaces": live.first_code})
    assert statuses == {200: 1, 409: N - 1}, [r.json for r in results]
    refused = [r.json["error"] for r in results if r.status_code == 409]
    assert {e["code"] for e in refused} == {"code_already_replaced"}
    assert all("已重新生成" in e["message"] for e in refused)
    winner = next(r.json for r in results if r.status_code == 200)
    assert winner["replaced"] == [live.first_code]
    rows = live.codes()
    assert [(c.code, c.status) for c in rows] == [
        (live.first_code, CodeStatus.REVOKED),
        (winner["code"], CodeStatus.ACTIVE),
    ]
    assert live.audits() == 1
