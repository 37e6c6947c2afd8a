"""The console's management pages (shops, facilities, admin editors) as staff see them, and the
API calls their scripts make, sent the way zh.api sends them (session cookie, X-CSRFToken, JSON).

The page tests check what a browser would get: the menu by role, 403 for pages a role may not
open, the Chinese headings, the filter controls and element ids the scripts use, and assets that
resolve. The wiring tests read the API URL from the page's own configuration and the field names
from its form, then make the script's request for a role the API allows and one it refuses.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta

import pytest

from app.auth.models import Role
from app.geo.models import Region
from reports import admin_schemas
from services_nearby.schemas import FacilityCreateIn, FacilityUpdateIn
from shops.schemas import ShopCreateIn, ShopUpdateIn
from tests.nearby import conftest as nearby_fixtures
from tests.shops import conftest as shop_fixtures

# The shop and facility factories of those packages' tests, shared here.
industries, make_shop = shop_fixtures.industries, shop_fixtures.make_shop
kinds, make_facility = nearby_fixtures.kinds, nearby_fixtures.make_facility

PAGES = {  # url: (heading, ids the page's script uses)
    "/console/shops": ("店铺管理", ["shop-filters", "shop-q", "shop-industry", "shop-district",
                                   "shop-status", "shop-rows", "shop-pager", "shop-new",
                                   "shop-create-form", "new-map"]),
    "/console/facilities": ("便民设施", ["facility-filters", "facility-q", "facility-kind",
                                        "facility-district", "facility-status", "facility-rows",
                                        "facility-pager", "facility-new", "facility-form",
                                        "facility-edit-map", "facility-edit-opening_hours"]),
    "/console/admin/categories": ("类别管理", ["category-filters", "category-kind", "category-tree",
                                              "category-new", "category-form",
                                              "category-edit-department_type"]),
    "/console/admin/departments": ("部门管理", ["department-tree", "department-new",
                                               "department-form", "department-parent_id"]),
    "/console/admin/regions": ("区域管理", ["region-filters", "region-level", "region-rows",
                                           "region-pager", "region-form", "region-import-form",
                                           "import-file", "region-map"]),
    "/console/admin/calendar": ("工作日历", ["cal-grid", "cal-days", "cal-prev", "cal-next",
                                            "cal-month", "calendar-form", "cal-delete",
                                            "cal-rows"]),
}  # fmt: skip
ADMIN_PAGES = {
    "类别管理": "/console/admin/categories", "部门管理": "/console/admin/departments",
    "区域管理": "/console/admin/regions", "工作日历": "/console/admin/calendar",
}  # fmt: skip


@pytest.fixture
def admin(make_staff):
    return make_staff("m_admin", roles=(Role.ADMIN,))


@pytest.fixture
def signed_in(app, city, admin, console_login):
    """``signed_in(username) -> (client, csrf)``: a browser of its own, signed in."""

    def sign(username: str):
        client = app.test_client()
        return client, console_login(client, username)

    return sign


def html_of(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def menu(html: str) -> list[str]:
    nav = re.search(r'<nav class="side".*?</nav>', html, re.S).group(0)
    return re.findall(r">([^<>]+)</a>", nav)


def assert_unique_ids(html: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert not {i for i in ids if ids.count(i) > 1}, "element ids must be unique"


def config_of(html: str) -> dict:
    raw = re.search(
        r'<script type="application/json" id="manage-config">(.*?)</script>', html, re.S
    )
    return json.loads(raw.group(1))


def form_names(html: str, form_id: str) -> set[str]:
    form = re.search(rf'<form id="{form_id}".*?</form>', html, re.S).group(0)
    return set(re.findall(r'\sname="([a-z_]+)"', form))


def send(client, csrf: str, method: str, url: str, body=None):
    """A write as zh.api makes it."""
    headers = {"Accept": "application/json", "X-CSRFToken": csrf}
    return client.open(url, method=method, json=body, headers=headers)


# -- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [*PAGES, "/console/shops/1"])
def test_signed_out_staff_are_sent_to_the_login_form(client, url):
    resp = client.get(url)
    assert resp.status_code == 302
    assert "/console/login?next=" in resp.headers["Location"]


@pytest.mark.parametrize("username", ["west_handler", "inspector"])
def test_handlers_and_inspectors_get_neither_admin_editors_nor_the_shop_registry(
    signed_in, username
):
    client, _ = signed_in(username)
    for url in [*ADMIN_PAGES.values(), "/console/shops", "/console/shops/1"]:
        assert client.get(url).status_code == 403, url
    html = html_of(client, "/console/facilities")
    assert "便民设施" in menu(html)
    assert not set(menu(html)) & {*ADMIN_PAGES, "店铺管理"}
    assert 'id="facility-new"' not in html  # reading only: the API refuses their writes
    assert "仅派遣员和系统管理员可以新增或修改设施" in html


def test_a_dispatcher_manages_shops_and_facilities_but_no_reference_data(signed_in):
    client, _ = signed_in("dispatcher")
    for url in ADMIN_PAGES.values():
        assert client.get(url).status_code == 403, url
    html = html_of(client, "/console/shops")
    assert {"店铺管理", "便民设施"} <= set(menu(html))
    assert not set(menu(html)) & set(ADMIN_PAGES)
    assert 'id="industry-form"' not in html  # industries are the admins'
    assert 'id="facility-new"' in html_of(client, "/console/facilities")


def test_an_admin_sees_every_management_page_in_menu_order(signed_in):
    client, _ = signed_in("m_admin")
    items = menu(html_of(client, "/console/facilities"))
    wanted = ["店铺管理", "便民设施", "类别管理", "部门管理", "区域管理", "工作日历"]
    assert [i for i in items if i in wanted] == wanted
    assert 'id="industry-form"' in html_of(client, "/console/shops")


@pytest.mark.parametrize("url", PAGES)
def test_each_page_renders_its_heading_controls_and_assets(signed_in, url):
    client, _ = signed_in("m_admin")
    html = html_of(client, url)
    heading, ids = PAGES[url]
    assert re.search(rf"<h1>\s*{heading}", html)
    for element_id in ids:
        assert f'id="{element_id}"' in html, element_id
    assert_unique_ids(html)
    assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    assert any("console/manage.js" in a for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert config_of(html)["tileUrl"] == ""  # no tiles configured: boundaries instead


def test_the_shop_page_offers_edit_status_and_plate_actions(signed_in, make_shop):
    shop = make_shop()
    client, _ = signed_in("dispatcher")
    html = html_of(client, f"/console/shops/{shop.id}")
    for text in ("店铺详情", "保存修改", "暂停营业", "恢复营业", "关闭店铺", "下载 PNG", "下载 SVG",
                 "作废旧码并重新生成", "门前三包责任"):  # fmt: skip
        assert text in html, text
    assert_unique_ids(html)
    cfg = config_of(html)
    assert client.get(cfg["qrPng"]).mimetype == "image/png"
    assert client.get(cfg["qrSvg"]).mimetype == "image/svg+xml"
    shown = client.get(cfg["shop"]).get_json()
    assert shown["owner_phone"] == "13800138000"  # staff see what the staff API returns


def test_required_fields_are_marked_for_the_browser(signed_in):
    client, _ = signed_in("m_admin")
    html = html_of(client, "/console/facilities")
    for name in ("kind", "name", "lat", "lng"):
        assert re.search(rf'id="facility-edit-{name}" name="{name}"[^>]* required', html), name
    assert html.count('class="req"') >= 4
    assert 'data-error-for="opening_hours"' in html


# -- the scripts' API calls ----------------------------------------------------------------------


def test_form_fields_are_what_the_apis_accept(signed_in):
    client, _ = signed_in("m_admin")
    pages = {url: html_of(client, url) for url in PAGES}
    shop_fields = set(ShopCreateIn().fields) | set(ShopUpdateIn().fields)
    assert form_names(pages["/console/shops"], "shop-create-form") <= shop_fields
    facility_fields = set(FacilityCreateIn().fields) | set(FacilityUpdateIn().fields)
    assert form_names(pages["/console/facilities"], "facility-form") <= facility_fields
    categories = pages["/console/admin/categories"]
    assert form_names(categories, "category-form") <= set(admin_schemas.CategoryCreateIn().fields)
    departments = pages["/console/admin/departments"]
    assert form_names(departments, "department-form") <= set(
        admin_schemas.DepartmentCreateIn().fields
    )
    regions = pages["/console/admin/regions"]
    assert form_names(regions, "region-form") <= set(admin_schemas.RegionUpdateIn().fields)
    assert form_names(regions, "region-import-form") <= set(admin_schemas.RegionImportForm().fields)
    calendar = pages["/console/admin/calendar"]
    assert form_names(calendar, "calendar-form") <= {"day", *admin_schemas.CalendarDayIn().fields}
    options = set(re.findall(r'<option value="(\w+)">', departments))
    assert set(admin_schemas.DEPARTMENT_KINDS) <= options


def test_shop_edit_status_and_reissue_calls(signed_in, make_shop):
    shop = make_shop()
    client, csrf = signed_in("dispatcher")
    cfg = config_of(html_of(client, f"/console/shops/{shop.id}"))
    body = {"name": "老四季抻面馆（太原街店）", "version": shop.version}
    resp = send(client, csrf, "PATCH", cfg["shop"], body)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "老四季抻面馆（太原街店）"
    stale = send(client, csrf, "PATCH", cfg["shop"], body)  # the version read is now old
    assert stale.status_code == 409
    assert "请刷新后重试" in stale.get_json()["error"]["message"]
    resp = send(client, csrf, "POST", cfg["shop"] + "/suspend", {"reason": "无照经营整改"})
    assert resp.get_json()["status_label"] == "暂停营业"
    resp = send(client, csrf, "POST", cfg["reissue"], {"reason": "牌子损坏"})
    assert resp.status_code == 200 and resp.get_json()["replaced"]
    assert client.open(cfg["shop"], method="PATCH", json=body).status_code == 400  # no CSRF

    handler, handler_csrf = signed_in("west_handler")
    assert send(handler, handler_csrf, "PATCH", cfg["shop"], body).status_code == 403


def test_industry_editor_calls_are_for_admins(signed_in, industries):
    client, csrf = signed_in("m_admin")
    cfg = config_of(html_of(client, "/console/shops"))
    resp = send(client, csrf, "POST", cfg["industries"], {"code": "pet_shop", "name": "宠物店"})
    assert resp.status_code == 201, resp.get_json()
    renamed = send(client, csrf, "PATCH", f"{cfg['industries']}/{resp.get_json()['id']}",
                   {"name": "宠物用品"})  # fmt: skip
    assert renamed.get_json()["name"] == "宠物用品"
    dispatcher, d_csrf = signed_in("dispatcher")
    refused = send(dispatcher, d_csrf, "POST", cfg["industries"], {"code": "tea", "name": "茶饮"})
    assert refused.status_code == 403


def test_facility_edit_and_remove_calls(signed_in, make_facility):
    facility = make_facility(name="太原街公厕")
    client, csrf = signed_in("dispatcher")
    cfg = config_of(html_of(client, "/console/facilities"))
    url = f"{cfg['facilities']}/{facility.id}"
    bad = send(client, csrf, "PATCH", url, {"opening_hours": "早八点到晚六点", "version": 1})
    assert bad.status_code == 422
    assert "opening_hours" in bad.get_json()["error"]["fields"]  # shown next to that field
    body = {"name": "太原街公共厕所", "opening_hours": "Mo-Su 06:00-22:00", "fee": "免费",
            "version": facility.version}  # fmt: skip
    resp = send(client, csrf, "PATCH", url, body)
    assert resp.status_code == 200, resp.get_json()
    version = resp.get_json()["version"]
    resp = send(client, csrf, "POST", url + "/remove", {"reason": "拆除", "version": version})
    assert resp.get_json()["status_label"] == "已撤销"

    inspector, i_csrf = signed_in("inspector")
    assert inspector.get(cfg["facilities"]).status_code == 200  # reading is allowed
    assert send(inspector, i_csrf, "POST", url + "/restore", {"reason": ""}).status_code == 403


def test_category_and_department_edit_calls(signed_in, city):
    client, csrf = signed_in("m_admin")
    cats = config_of(html_of(client, "/console/admin/categories"))
    category = next(c for c in client.get(cats["categories"]).get_json() if c["code"] == "BJ0103")
    url = f"{cats['categories']}/{category['id']}"
    resp = send(client, csrf, "PATCH", url, {"time_limit": 3, "time_unit": "days"})
    assert resp.get_json()["time_limit_label"] == "3个工作日"
    depts = config_of(html_of(client, "/console/admin/departments"))
    url = f"{depts['departments']}/{city.west_sanitation.id}"
    resp = send(
        client, csrf, "PATCH", url, {"name": "测试一区环境卫生中心", "handles": ["sanitation"]}
    )
    assert resp.status_code == 200 and resp.get_json()["name"] == "测试一区环境卫生中心"

    dispatcher, d_csrf = signed_in("dispatcher")
    assert send(dispatcher, d_csrf, "PATCH", url, {"is_active": False}).status_code == 403
    assert send(dispatcher, d_csrf, "GET", cats["categories"]).status_code == 403


def test_region_edit_and_import_calls(signed_in, city, db_session):
    client, csrf = signed_in("m_admin")
    cfg = config_of(html_of(client, "/console/admin/regions"))
    west = db_session.query(Region).filter_by(code="T-W").one()
    url = f"{cfg['regions']}/{west.id}"
    resp = send(client, csrf, "PATCH", url, {"department_id": city.west_sanitation.id})
    assert resp.get_json()["department"]["name"] == "测试一区环卫中心"
    ring = [[123.31, 41.76], [123.32, 41.76], [123.32, 41.77], [123.31, 41.77], [123.31, 41.76]]
    feature = {"type": "Feature", "properties": {"adcode": "T-W-01", "name": "测试街道"},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip
    geojson = {"type": "FeatureCollection", "features": [feature]}
    form = {"level": "street", "coord_sys": "gcj02", "code_prop": "adcode", "name_prop": "name",
            "parent_code": "T-W"}  # fmt: skip

    def upload(c, token):
        data = dict(form, file=(io.BytesIO(json.dumps(geojson).encode()), "streets.geojson"))
        return c.post(cfg["importUrl"], data=data, headers={"X-CSRFToken": token})

    resp = upload(client, csrf)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["created"] == ["T-W-01"]
    dispatcher, d_csrf = signed_in("dispatcher")
    assert send(dispatcher, d_csrf, "PATCH", url, {"is_active": False}).status_code == 403
    assert upload(dispatcher, d_csrf).status_code == 403


def test_calendar_day_calls(signed_in):
    client, csrf = signed_in("m_admin")
    cfg = config_of(html_of(client, "/console/admin/calendar"))
    saturday = date(2026, 10, 10)
    monday = saturday + timedelta(days=2)
    resp = send(
        client,
        csrf,
        "PUT",
        f"{cfg['calendar']}/{saturday}",
        {"kind": "workday", "name": "国庆调休"},
    )
    assert resp.status_code == 200, resp.get_json()
    refused = send(
        client, csrf, "PUT", f"{cfg['calendar']}/{monday}", {"kind": "workday", "name": ""}
    )
    assert refused.status_code == 422 and "kind" in refused.get_json()["error"]["fields"]
    year = client.get(cfg["calendar"] + "?year=2026").get_json()
    assert {"day": "2026-10-10", "kind": "workday", "name": "国庆调休"} in year["days"]

    dispatcher, d_csrf = signed_in("dispatcher")
    assert send(dispatcher, d_csrf, "DELETE", f"{cfg['calendar']}/{saturday}").status_code == 403
    assert send(client, csrf, "DELETE", f"{cfg['calendar']}/{saturday}").status_code == 204


def test_maps_use_the_configured_tiles(signed_in, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "/tiles/{z}/{x}/{y}.png")
    client, _ = signed_in("dispatcher")
    cfg = config_of(html_of(client, "/console/facilities"))
    assert cfg["tileUrl"] == "/tiles/{z}/{x}/{y}.png"
    assert client.get(cfg["boundaries"]).status_code == 200  # the fallback stays reachable
