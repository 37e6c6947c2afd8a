"""The public shop page /s/{code}, its JSON for the mini-program, masking, limits, shop reports."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from app.errors import ValidationFailed
from app.extensions import db
from app.geo.models import Region
from reports.models import Category, Channel, Report, ReportState
from shops import codes, lookup, service
from shops.credit_code import check_char
from shops.errors import ShopCodeReplaced, ShopSuspended
from shops.models import SHOPS_TOPIC, Industry, Shop, ShopStatus
from tests.conftest import error_of
from tests.reports.conftest import load_categories

OWNER, PHONE = "欧阳建国", "13912345678"
_serial = itertools.count(1)


def credit_code(n: int) -> str:
    first17 = f"92210106MA{n:07d}"
    return first17 + check_char(first17)


@pytest.fixture
def town(db_session):
    """An industry, the 铁西区 district and the categories from the CSV."""
    load_categories()
    industry = Industry(code="catering", name="餐饮")
    db.session.add(industry)
    ring = [[123.3, 41.7], [123.4, 41.7], [123.4, 41.8], [123.3, 41.8], [123.3, 41.7]]
    box = {"min_lat": 41.7, "min_lng": 123.3, "max_lat": 41.8, "max_lng": 123.4}
    geometry = {"type": "Polygon", "coordinates": [ring]}
    db.session.add(Region(code="210106", name="铁西区", level="district", area_m2=1e8,
                          geometry=geometry, source="test", **box))  # fmt: skip
    db.session.flush()
    return industry


@pytest.fixture
def make_public_shop(town):
    """Factory: a shop with an active plate code; returns (shop, code)."""

    def make(name="老王烧烤", status=ShopStatus.ACTIVE, owner=OWNER, phone=PHONE):
        shop = Shop(name=name, industry_id=town.id, credit_code=credit_code(next(_serial)),
                    address="铁西区兴华南街12号", lat=41.79, lng=123.35, district_code="210106",
                    owner_name=owner, owner_phone=phone, business_hours="10:00-22:00",
                    status=status, source="generated",
                    duties=[{"name": "包市容整洁", "detail": "门前无乱堆放"},
                            "包秩序良好"])  # fmt: skip
        db.session.add(shop)
        db.session.flush()
        code = codes.issue_code(shop).code
        db.session.commit()  # what other requests see (the cache follows commits)
        return shop, code

    return make


def set_status(shop: Shop, status: ShopStatus) -> None:
    shop.status = status
    db.session.commit()


# ---------------------------------------------------------------- active shops


def test_page_shows_the_shop_card_with_masked_owner(client, make_public_shop):
    shop, code = make_public_shop()
    resp = client.get(f"/s/{code}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    expected = ("老王烧烤", "餐饮", "铁西区兴华南街12号", "铁西区", "10:00-22:00", "正常营业",
                shop.credit_code, "欧**", "139****5678", "包市容整洁", "门前无乱堆放",
                "包秩序良好", "反映该店铺问题", f'href="/h5/report?shop={code}"',
                "小程序")  # fmt: skip
    for text in expected:
        assert text in page, text
    assert '<meta name="viewport" content="width=device-width' in page


def test_json_gives_the_same_shop_with_report_categories(client, make_public_shop):
    shop, code = make_public_shop()
    body = client.get(f"/api/v1/shops/{code}").get_json()
    assert body["shop_id"] == shop.id and body["code"] == code
    assert body["name"] == "老王烧烤" and body["industry"] == {"code": "catering", "name": "餐饮"}
    assert body["district"] == {"code": "210106", "name": "铁西区"}
    assert body["owner_name"] == "欧**" and body["owner_phone"] == "139****5678"
    assert body["credit_code"] == shop.credit_code and body["status"] == "active"
    assert body["duties"][1] == {"name": "包秩序良好", "detail": ""}
    assert body["report_url"] == f"/h5/report?shop={code}"
    got = {c["code"] for c in body["report_categories"]}
    related = {c.code for c in db.session.query(Category).filter_by(shop_related=True)}
    assert got == related and "SJ0604" in got and "BJ0101" not in got


def test_codes_are_accepted_in_any_letter_case_and_upper_path(client, make_public_shop):
    _, code = make_public_shop()
    for path in (f"/S/{code}", f"/s/{code.lower()}", f"/S/{code.lower()}"):
        assert client.get(path).status_code == 200, path
    assert client.get(f"/api/v1/shops/{code.lower()}").get_json()["code"] == code


# ---------------------------------------------------------------- unknown, replaced, inactive


def test_unknown_code_is_a_404_page_and_json(client, town):
    resp = client.get("/s/ZZZZZZZZ")
    assert resp.status_code == 404 and "未找到该店铺二维码" in resp.get_data(as_text=True)
    assert client.get("/s/not-a-code!").status_code == 404
    resp = client.get("/api/v1/shops/ZZZZZZZZ")
    assert resp.status_code == 404
    assert error_of(resp) == {"code": "shop_code_unknown", "message": "未找到该店铺二维码"}


def test_revoked_code_says_replaced_and_never_shows_the_shop(client, make_public_shop):
    shop, old = make_public_shop()
    new = codes.revoke_and_reissue(shop, "牌子损坏", actor_label="test").code
    resp = client.get(f"/s/{old}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 410 and "该二维码已更换，请扫描店铺最新二维码" in page
    assert "老王烧烤" not in page and shop.address not in page
    resp = client.get(f"/api/v1/shops/{old}")
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "shop_code_replaced"
    assert "shop_id" not in resp.get_data(as_text=True)
    assert client.get(f"/s/{new}").status_code == 200


def test_suspended_shop_shows_a_clear_page_without_details(client, make_public_shop):
    shop, code = make_public_shop(status=ShopStatus.SUSPENDED)
    resp = client.get(f"/s/{code}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "暂停营业" in page and "老王烧烤" in page
    assert shop.credit_code not in page and "139****5678" not in page
    assert "反映该店铺问题" not in page and "/h5/report" not in page
    body = client.get(f"/api/v1/shops/{code}").get_json()
    assert body["error"]["code"] == "shop_suspended" and "老王烧烤" in body["error"]["message"]


def test_closed_shop_is_gone(client, make_public_shop):
    _, code = make_public_shop(status=ShopStatus.CLOSED)
    resp = client.get(f"/s/{code}")
    assert resp.status_code == 410 and "已关闭" in resp.get_data(as_text=True)
    resp = client.get(f"/api/v1/shops/{code}")
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "shop_closed"


def test_a_status_change_reaches_the_cached_view(client, make_public_shop):
    shop, code = make_public_shop()
    assert client.get(f"/api/v1/shops/{code}").status_code == 200
    set_status(shop, ShopStatus.SUSPENDED)
    assert client.get(f"/api/v1/shops/{code}").status_code == 403
    set_status(shop, ShopStatus.ACTIVE)
    shop.name = "老王烤串"
    db.session.commit()
    assert client.get(f"/api/v1/shops/{code}").get_json()["name"] == "老王烤串"


def test_the_cache_checks_the_database_at_most_once_per_interval(app, monkeypatch):
    probes = []
    monkeypatch.setattr("app.changes.value", lambda topic: probes.append(topic) or len(probes))
    watch = lookup.PublicCache(10).watch
    clock = iter([100.0, 100.5, 101.2, 101.3])
    monkeypatch.setattr("app.changes.time.monotonic", lambda: next(clock))
    assert [watch.current(1.0) for _ in range(4)] == [1, 1, 2, 2]
    assert probes == [SHOPS_TOPIC] * 2


def test_prefill_builds_the_same_lookups_in_bulk(app, make_public_shop):
    shop, old = make_public_shop()
    codes.revoke_and_reissue(shop, "换牌", actor_label="test")
    suspended, _ = make_public_shop(name="暂停店", status=ShopStatus.SUSPENDED)
    for days in range(12):
        add_report(shop, ReportState.CLOSED, days)
    cache = lookup._cache(app)
    generation, refs = cache.sync()
    assert lookup.prefill(cache, generation) == 3
    plates = [c.code for s in (shop, suspended) for c in s.codes]
    assert sorted(cache.entries) == sorted(plates)
    for code in plates:
        assert cache.get(code) == lookup._build(code, refs), code
    assert cache.get(old).error is ShopCodeReplaced


# ---------------------------------------------------------------- masking and limits


def test_no_public_response_leaks_the_owner(client, make_public_shop):
    shops = [make_public_shop(status=s, owner=f"{OWNER}{i}", phone=f"1391234567{i}")
             for i, s in enumerate(ShopStatus)]  # fmt: skip
    shop, old = shops[0]
    codes.revoke_and_reissue(shop, "换牌", actor_label="test")
    urls = [f"{prefix}{code}" for _, code in shops for prefix in ("/s/", "/S/", "/api/v1/shops/")]
    urls += [f"/s/{old}", f"/api/v1/shops/{old}", f"/s/{codes.active_code(shop).code}",
             "/api/v1/shops/heatmap", "/api/v1/shops/heatmap?cell=100"]  # fmt: skip
    for url in urls:
        body = client.get(url).get_data(as_text=True)
        for s, _ in shops:
            assert s.owner_phone not in body and s.owner_name not in body, url
            assert OWNER not in body and s.owner_phone[3:7] not in body, url


def test_lookups_are_rate_limited_per_client(client, app, make_public_shop, monkeypatch):
    _, code = make_public_shop()
    monkeypatch.setitem(app.config, "RATELIMIT_SHOP_LOOKUP", "3/minute")
    assert [client.get(f"/api/v1/shops/{code}").status_code for _ in range(3)] == [200] * 3
    resp = client.get(f"/api/v1/shops/{code}")
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "rate_limited"
    assert resp.headers["Retry-After"]
    assert client.get(f"/s/{code}").status_code == 429
    other = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get(f"/api/v1/shops/{code}", environ_base=other).status_code == 200


# ---------------------------------------------------------------- recent resolved reports


def add_report(shop: Shop, state: ReportState, days_ago: int, category: str = "SJ0604") -> Report:
    cat = db.session.query(Category).filter_by(code=category).one()
    closed = datetime.now(UTC) - timedelta(days=days_ago)
    report = Report(number=f"T{next(_serial):08d}", channel=Channel.MINIPROGRAM, state=state,
                    description="门口油污很多，请处理", shop_id=shop.id, category_id=cat.id,
                    contact_phone="13700001111", address="兴华南街",
                    closed_at=closed if state in lookup.RESOLVED else None)  # fmt: skip
    db.session.add(report)
    db.session.flush()
    return report


def test_recent_resolved_reports_are_listed_without_reporter_data(client, make_public_shop):
    shop, code = make_public_shop()
    for days in range(12):
        add_report(shop, ReportState.CLOSED if days % 2 else ReportState.ARCHIVED, days + 1)
    add_report(shop, ReportState.IN_PROGRESS, 0, category="SJ0502")
    add_report(shop, ReportState.CLOSED, 0, category="SJ0502")
    body = client.get(f"/api/v1/shops/{code}").get_json()
    recent = body["recent_reports"]
    assert len(recent) == 10 and recent[0]["category"] == "店外经营"
    assert [r["closed_on"] for r in recent] == sorted(
        (r["closed_on"] for r in recent), reverse=True
    )
    assert {r["state_label"] for r in recent} == {"已结案", "已归档"}
    page = client.get(f"/s/{code}").get_data(as_text=True)
    assert "商户卫生脏乱" in page and "店外经营" in page and recent[-1]["closed_on"] in page
    for secret in ("13700001111", "门口油污很多"):
        assert secret not in page and secret not in str(body)


def test_the_page_says_when_nothing_was_reported(client, make_public_shop):
    _, code = make_public_shop()
    assert "暂无已办结的问题记录" in client.get(f"/s/{code}").get_data(as_text=True)


# ---------------------------------------------------------------- shop-bound reports


def test_shop_for_report_accepts_only_trading_shops(make_public_shop):
    active, _ = make_public_shop()
    assert service.shop_for_report(active.id) is active
    for status, code in ((ShopStatus.SUSPENDED, "shop_suspended"),
                         (ShopStatus.CLOSED, "shop_closed")):  # fmt: skip
        shop, _ = make_public_shop(status=status)
        with pytest.raises(ValidationFailed) as err:
            service.shop_for_report(shop.id)
        assert err.value.status == 422 and err.value.code == code
        assert "shop_id" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        service.shop_for_report(10**9)
    assert err.value.code == "shop_unknown"


def test_leaflet_assets_are_served_locally(client):
    resp = client.get("/static/vendor/leaflet/leaflet.js")
    assert resp.status_code == 200 and b"Leaflet" in resp.data[:400]
    assert client.get("/static/vendor/leaflet/leaflet.css").status_code == 200
    assert client.get("/static/vendor/leaflet/LICENSE").status_code == 200


def test_a_newly_closed_report_shows_without_rebuilding_the_cache(client, app, make_public_shop,
                                                                  monkeypatch):  # fmt: skip
    shop, code = make_public_shop()
    other, other_code = make_public_shop(name="隔壁店")
    assert client.get(f"/api/v1/shops/{code}").get_json()["recent_reports"] == []
    client.get(f"/api/v1/shops/{other_code}")
    cache = lookup._cache(app)
    generation = cache.generation
    monkeypatch.setitem(app.config, "CACHE_CHECK_SECONDS", 3600.0)  # no counter read
    add_report(shop, ReportState.CLOSED, 0)
    db.session.commit()
    recent = client.get(f"/api/v1/shops/{code}").get_json()["recent_reports"]
    assert [r["category"] for r in recent] == ["商户卫生脏乱"]
    assert cache.generation == generation  # only that shop's entry was dropped and rebuilt
    assert other_code in cache.entries


def test_warm_fills_every_plate_before_any_request(app, make_public_shop):
    shop, code = make_public_shop()
    suspended, suspended_code = make_public_shop(name="暂停店", status=ShopStatus.SUSPENDED)
    db.session.commit()
    app.extensions.pop("shops_public", None)
    assert lookup.warm(app) == 2
    cache = lookup._cache(app)
    assert cache.get(code).error is None and b"\\u" not in cache.get(code).body
    assert cache.get(suspended_code).error is ShopSuspended
