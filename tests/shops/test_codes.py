"""Plate codes: shape, randomness, uniqueness, revoke and reissue with history, resolve."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import AuditLog
from app.auth.models import Role
from app.errors import Conflict
from app.extensions import db
from shops import codes
from shops.models import CodeStatus, Industry, Shop, ShopCode, ShopStatus

_serial = itertools.count(1)


@pytest.fixture
def new_shop(db_session):
    """Factory: a shop (flushed) in industry "catering", with no code yet."""

    def make(name: str = "老边饺子馆（中街店）", status: ShopStatus = ShopStatus.ACTIVE) -> Shop:
        industry = db.session.scalar(select(Industry).where(Industry.code == "qr-test"))
        if industry is None:
            industry = Industry(code="qr-test", name="餐饮")
            db.session.add(industry)
        n = next(_serial)
        shop = Shop(name=name, industry=industry, credit_code=f"91210100QRTEST{n:04d}",
                    address="沈阳市沈河区中街路1号", lat=41.8, lng=123.46, district_code=None,
                    owner_name="张三", owner_phone="13800000000", status=status)  # fmt: skip
        db.session.add(shop)
        db.session.flush()
        return shop

    return make


def test_code_shape_and_not_sequential():
    drawn = [codes.random_code() for _ in range(2000)]
    assert all(codes.CODE_RE.fullmatch(c) for c in drawn)
    assert len(set(drawn)) == len(drawn)
    assert not set("ILOU") & set("".join(drawn))
    as_ints = sorted(int(c, 36) for c in drawn[:50])
    assert len({b - a for a, b in itertools.pairwise(as_ints)}) > 40  # no fixed stride


def test_normalize_is_case_insensitive_with_aliases():
    assert codes.normalize(" ab1c2d3e ") == "AB1C2D3E"
    assert codes.normalize("oil0ABCD") == "0110ABCD"
    assert codes.normalize("ABC") is None
    assert codes.normalize("ABCDEFGU") is None


def test_plate_url_upper_case_when_the_base_allows(app):
    with app.test_request_context():
        assert codes.plate_url("AB12CD34") == "HTTP://LOCALHOST/S/AB12CD34"
        app.config["PUBLIC_BASE_URL"] = "https://cg.example.cn/zhcg"
        try:
            assert codes.plate_url("AB12CD34") == "https://cg.example.cn/zhcg/s/AB12CD34"
        finally:
            app.config["PUBLIC_BASE_URL"] = "http://localhost"


def test_issue_code_is_idempotent(new_shop):
    shop = new_shop()
    first = codes.issue_code(shop)
    assert first.status == CodeStatus.ACTIVE and codes.CODE_RE.fullmatch(first.code)
    assert codes.issue_code(shop).id == first.id


def test_collision_is_retried(new_shop, monkeypatch):
    taken = codes.issue_code(new_shop()).code
    draws = iter([taken, taken, "ZZZZ9999"])
    monkeypatch.setattr(codes, "random_code", lambda: next(draws))
    assert codes.issue_code(new_shop("另一家")).code == "ZZZZ9999"


def test_revoke_and_reissue_keeps_history(new_shop, make_staff):
    staff = make_staff("disp", roles=(Role.DISPATCHER,))
    shop = new_shop()
    first = codes.issue_code(shop)
    second = codes.revoke_and_reissue(shop, "铭牌损坏", staff)
    third = codes.revoke_and_reissue(shop, "店铺搬迁", staff)
    db.session.refresh(first)
    assert first.status == CodeStatus.REVOKED and first.replaced_by_id == second.id
    assert first.revoke_reason == "铭牌损坏" and first.revoked_at is not None
    assert second.replaced_by_id == third.id and third.status == CodeStatus.ACTIVE
    all_codes = db.session.scalars(select(ShopCode.code).where(ShopCode.shop_id == shop.id)).all()
    assert len(set(all_codes)) == 3
    audits = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "shop.code_reissued").order_by(AuditLog.id)
    ).all()
    assert [a.detail["new"] for a in audits] == [second.code, third.code]
    assert audits[0].detail["old"] == [first.code] and audits[0].actor_staff_id == staff.id


def test_the_database_allows_one_active_code_per_shop(new_shop):
    """Whatever a future code path forgets, the unique index on (shop_id, active) refuses a
    second active code; revoked codes (active NULL) are as many as history needs."""
    shop = new_shop()
    first = codes.issue_code(shop)
    assert first.active is True
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.add(ShopCode(code="ZZZZ0000", shop_id=shop.id, status=CodeStatus.ACTIVE))
        db.session.flush()
    for reason in ("丢失", "损坏", "搬迁"):
        codes.revoke_and_reissue(shop, reason)
    db.session.expire_all()
    assert [(c.status, c.active) for c in shop.codes] == [
        *[(CodeStatus.REVOKED, None)] * 3,
        (CodeStatus.ACTIVE, True),
    ]


def test_reissue_sees_a_shop_closed_after_it_was_read(new_shop):
    """The shop is re-read under the lock: a close committed in between is not missed."""
    shop = new_shop()
    codes.issue_code(shop)
    db.session.execute(
        Shop.__table__.update().where(Shop.id == shop.id).values(status=ShopStatus.CLOSED.value)
    )
    with pytest.raises(Conflict) as refused:
        codes.revoke_and_reissue(shop, "补发")
    assert refused.value.code == "shop_closed"


def test_reissue_refused_for_closed_shop(new_shop):
    shop = new_shop(status=ShopStatus.CLOSED)
    codes.issue_code(shop)
    with pytest.raises(Conflict):
        codes.revoke_and_reissue(shop, "x")


def test_resolve_tells_active_revoked_unknown(new_shop):
    shop = new_shop()
    old = codes.issue_code(shop).code
    new = codes.revoke_and_reissue(shop, "补发").code
    code, found = codes.resolve(new.lower())
    assert found.id == shop.id and code.status == CodeStatus.ACTIVE
    code, found = codes.resolve(old)
    assert found.id == shop.id and code.status == CodeStatus.REVOKED
    assert code.replaced_by.code == new
    assert codes.resolve("ZZZZZZZZ") is None
    assert codes.resolve("not a code!") is None


def test_issue_missing_bulk(new_shop):
    shops = [new_shop(f"店{i}") for i in range(30)]
    codes.issue_code(shops[0])
    assert codes.issue_missing([s.id for s in shops]) == 29
    active = db.session.scalars(
        select(ShopCode.code).where(ShopCode.shop_id.in_([s.id for s in shops]))
    ).all()
    assert len(active) == len(set(active)) == 30
    assert codes.issue_missing([s.id for s in shops]) == 0
