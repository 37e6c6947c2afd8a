"""/h5/report's location: what the page carries for the script to check the point as it moves
(the locate endpoint, the district names, the refusal), and a form opened from a shop's plate
that uses the shop's registered point and names its district (the browser side is in
tests/browser/test_report_location.py)."""

from __future__ import annotations

import json
import re

from shops import codes
from tests.h5.test_home import BROWSER
from tests.reports.conftest import INSIDE_WEST


def location_config(page: str) -> dict:
    raw = re.search(r'<script type="application/json" id="report-location-config">(.*?)</script>',
                    page, re.S).group(1)  # fmt: skip
    return json.loads(raw)


def map_config(page: str) -> dict:
    raw = re.search(r"data-config='([^']*)'", page).group(1)
    return json.loads(raw.replace("&#34;", '"').replace("&amp;", "&"))


def test_the_form_carries_what_checking_the_point_needs(client, city, citizen, sign_in):
    sign_in(citizen)
    page = client.get("/h5/report", headers=BROWSER).get_data(as_text=True)
    config = location_config(page)
    assert config["locate"] == "/api/v1/geo/locate"
    assert config["districtNames"] == ["测试一区", "测试二区"]  # app.geo.regions.district_names
    assert config["outside"] == "该位置不在本市范围内，请重新选择"
    assert re.search(r'<p class="h5-location-district" id="location-district"[^>]* hidden>', page)
    assert re.search(r'<p class="h5-location-outside" id="location-outside"[^>]* hidden>'
                     r"该位置不在本市范围内，请重新选择</p>", page)  # fmt: skip
    assert 'id="address-mismatch"' in page
    maps = map_config(page)
    assert maps["locate"] == "/api/v1/geo/locate" and maps["boundaries"] == "/api/v1/geo/boundaries"
    assert [d["name"] for d in maps["districts"]] == ["测试二区", "测试一区"]  # by code: T-E, T-W
    assert maps["districts"][1]["bbox"] == [41.75, 123.3, 41.85, 123.4]
    # Between the two squares, pulled towards the smaller (denser) east one.
    assert maps["centre"][0] == 41.8 and 123.41 < maps["centre"][1] < 123.42
    assert "/static/geomap.js" in page


def test_a_shop_form_uses_the_shops_point_and_names_its_district(client, city, citizen, sign_in,
                                                                 make_shop):  # fmt: skip
    sign_in(citizen)
    shop = make_shop(name="兴华小吃", lat=INSIDE_WEST[0], lng=INSIDE_WEST[1],
                     address="测试一区兴华街8号")  # fmt: skip
    page = client.get(f"/h5/report?shop={codes.active_code(shop).code}",
                      headers=BROWSER).get_data(as_text=True)  # fmt: skip
    assert "兴华小吃" in page and 'id="shop-district">所属区域：测试一区</p>' in page
    assert "已使用店铺登记的位置（测试一区兴华街8号），无需再选点" in page
    assert 'name="lat" id="lat" value="41.800000"' in page
    assert 'name="lng" id="lng" value="123.350000"' in page
    assert 'name="coord_sys" id="coord-sys" value="gcj02"' in page
    assert 'id="address" name="address"' in page and 'value="测试一区兴华街8号"' in page
    shown = re.search(r'<p class="h5-location-district" id="location-district"[^>]*>([^<]*)</p>',
                      page).group(1)  # fmt: skip
    assert shown == "此位置属于 测试一区"
    # The citizen may still move it: the buttons stay.
    assert (
        'id="locate-btn">使用当前位置</button>' in page
        and 'id="pick-btn">在地图上选点</button>' in page
    )


def test_a_form_without_a_shop_asks_for_a_point(client, city, citizen, sign_in):
    sign_in(citizen)
    page = client.get("/h5/report", headers=BROWSER).get_data(as_text=True)
    assert 'name="lat" id="lat">' in page and "shop-location" not in page
    assert "尚未选择位置" in page


def test_the_shop_page_says_its_location_is_used(client, city, make_shop):
    shop = make_shop(name="兴华小吃", lat=INSIDE_WEST[0], lng=INSIDE_WEST[1], district_code="T-W")
    page = client.get(f"/s/{codes.active_code(shop).code}", headers=BROWSER).get_data(as_text=True)
    assert "将自动使用店铺登记的位置（测试一区），无需再选点" in page
    assert f'href="/h5/report?shop={codes.active_code(shop).code}"' in page
