"""Fixtures shared by every shop test: industries, the Shenyang regions, a shop factory."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from app.extensions import db
from shops import credit_code
from shops.models import Industry, Shop, ShopStatus
from shops.service import default_duties, seed_industries

# A GCJ-02 point on 太原街, 和平区 (inside the real district polygon).
TAIYUAN_JIE = (41.7930, 123.4080)
_serial = itertools.count(1)


def new_credit_code(division: str = "210102") -> str:
    """A valid, unused-in-tests 统一社会信用代码 (个体工商户 of the division)."""
    n = next(_serial)
    body = "MA" + "".join(credit_code.ALPHABET[(n // 31**i) % 31] for i in range(6))
    return credit_code.build("9", "2", division, body)


@pytest.fixture
def industries(db_session) -> dict[str, Industry]:
    """The industries of shops/data/industries.csv, by code."""
    seed_industries()
    return {i.code: i for i in db.session.query(Industry)}


@pytest.fixture
def shenyang_regions(db_session) -> None:
    """The demo departments, the real Shenyang city and district polygons, synthetic streets."""
    from reports.seed import seed_demo_departments, seed_demo_regions

    seed_demo_departments()
    seed_demo_regions()


@pytest.fixture
def make_shop(industries):
    """Factory: a shop in 和平区 (flushed, not committed), with a plate code when the QR feature
    is installed (``with_code=False`` to skip). Any column can be overridden."""

    def make(with_code: bool = True, industry: str = "catering", **overrides: Any) -> Shop:
        values: dict[str, Any] = {
            "name": "老四季抻面馆",
            "industry": industries[industry],
            "credit_code": new_credit_code(),
            "address": "沈阳市和平区太原街1号",
            "lat": TAIYUAN_JIE[0],
            "lng": TAIYUAN_JIE[1],
            "district_code": "210102",
            "owner_name": "张三丰",
            "owner_phone": "13800138000",
            "business_hours": "10:00-22:00",
            "status": ShopStatus.ACTIVE,
            "duties": default_duties(),
            "source": "import",
        }
        shop = Shop(**(values | overrides))
        db.session.add(shop)
        db.session.flush()
        if with_code:
            try:
                from shops import codes
            except ImportError:
                return shop
            codes.issue_code(shop)
        return shop

    return make
