"""/h5/report: the form a citizen fills in, and the API calls its script makes with the cookie."""

from __future__ import annotations

import io
import re

from shops import codes
from shops.models import ShopStatus
from tests.h5.test_home import BROWSER, csrf_token
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"


def test_the_form_has_photos_location_description_and_the_category_hook(client, citizen, sign_in):
    sign_in(citizen)
    resp = client.get("/h5/report", headers=BROWSER)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    photo_input = re.search(r'<input id="photo-input"[^>]*>', page).group(0)
    assert 'type="file"' in photo_input and 'accept="image/*"' in photo_input
    assert " multiple" in photo_input and "capture" not in photo_input  # camera or album
    assert "现场照片（1-9 张）" in page and 'id="upload-progress"' in page
    assert "weui-progress__inner-bar" in page and 'id="photo-list"' in page
    assert 'id="locate-btn">使用当前位置</button>' in page
    assert 'id="pick-btn">在地图上选点</button>' in page and 'id="pick-map"' in page
    assert 'name="address"' in page and "详细地址" in page
    textarea = re.search(r'<textarea[^>]*id="description"[^>]*>', page).group(0)
    assert 'name="description"' in textarea and 'maxlength="500"' in textarea
    assert 'id="description-count">0</span>/500' in page
    assert 'data-classify-url="/api/v1/reports/classify"' in page
    assert 'data-media-url="/api/v1/media"' in page and 'data-reports-url="/api/v1/reports"' in page
    assert 'id="category-chips"' in page and "由工作人员判断" in page
    assert 'id="submit-btn">提交上报</button>' in page
    assert "/static/reports/h5/report.js" in page and "/static/vendor/leaflet/leaflet.js" in page
    assert 'id="tab-report" class="weui-tabbar__item weui-bar__item_on"' in page
    assert 'id="shop-binding"' not in page


def test_the_map_uses_configured_tiles_or_only_the_boundaries(client, app, citizen, sign_in,
                                                              monkeypatch):  # fmt: skip
    sign_in(citizen)
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "")
    page = client.get("/h5/report", headers=BROWSER).get_data(as_text=True)
    assert "&#34;tileUrl&#34;: &#34;&#34;" in page or '"tileUrl": ""' in page
    assert "/api/v1/geo/boundaries" in page
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "/tiles/{z}/{x}/{y}.png")
    page = client.get("/h5/report", headers=BROWSER).get_data(as_text=True)
    assert "/tiles/{z}/{x}/{y}.png" in page


def test_the_script_downscales_uploads_with_progress_and_retries_with_the_same_key(client):
    script = client.get("/static/reports/h5/report.js").get_data(as_text=True)
    for hook in ("MAX_SIDE = 1600", "QUALITY = 0.8", '"image/jpeg"', "toBlob", "h5.upload(",
                 "SUGGEST_DELAY = 400", "getCurrentPosition", '"wgs84"', '"gcj02"',
                 "h5.submitReport(form", "key: idempotencyKey"):  # fmt: skip
        assert hook in script, hook
    helpers = client.get("/static/h5/h5.js").get_data(as_text=True)
    assert "XMLHttpRequest" in helpers and "xhr.upload.onprogress" in helpers
    # The shared submit sends the form's one key on every try and disables the button meanwhile.
    assert '{"Idempotency-Key": opts.key}' in helpers and "opts.button.disabled = on" in helpers


def test_a_shop_page_report_names_the_shop(client, citizen, sign_in, make_shop, make_report):
    sign_in(citizen)
    shop = make_shop(name="老四季抻面馆")
    code = codes.active_code(shop).code
    page = client.get(f"/h5/report?shop={code}", headers=BROWSER).get_data(as_text=True)
    assert 'id="shop-binding"' in page and "老四季抻面馆" in page and "反映店铺" in page
    assert f'name="shop_id" id="shop-id" value="{shop.id}"' in page
    assert "不关联店铺" in page
    initial = re.search(r"data-initial='([^']*)'", page).group(1)
    assert "店外经营" in initial and "雨水井盖" not in initial  # the shop categories as chips
    report = make_report(citizen, description="店门口占道经营，摆了很多桌椅", shop_id=shop.id)
    detail = client.get(f"/h5/reports/{report.number}", headers=BROWSER).get_data(as_text=True)
    assert 'id="report-shop">老四季抻面馆</span>' in detail


def test_an_inactive_or_unknown_shop_is_not_bound(client, citizen, sign_in, make_shop):
    sign_in(citizen)
    shop = make_shop(name="停业小店", status=ShopStatus.SUSPENDED)
    page = client.get(f"/h5/report?shop={codes.active_code(shop).code}",
                      headers=BROWSER).get_data(as_text=True)  # fmt: skip
    assert "停业小店" in page and "暂停营业，暂不受理针对该店铺的反映" in page
    assert 'name="shop_id"' not in page
    page = client.get("/h5/report?shop=ZZZZZZZZ", headers=BROWSER).get_data(as_text=True)
    assert "未找到该店铺" in page and 'name="shop_id"' not in page
    assert 'id="photo-input"' in page  # the citizen can still report the problem


def test_what_the_script_sends_creates_one_report_and_its_page_says_so(client, city, citizen,
                                                                       sign_in):  # fmt: skip
    """The page's own calls with the session cookie: upload, submit twice with one key."""
    sign_in(citizen)
    token = csrf_token(client.get("/h5/report", headers=BROWSER).get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    upload = client.post("/api/v1/media", data={"file": (io.BytesIO(jpeg_bytes()), "photo.jpg")},
                         content_type="multipart/form-data", headers=headers)  # fmt: skip
    assert upload.status_code == 201, upload.get_json()
    body = {"description": COVER, "photos": [upload.get_json()["id"]], "lat": INSIDE_WEST[0],
            "lng": INSIDE_WEST[1], "coord_sys": "gcj02", "category": "BJ0103"}  # fmt: skip
    keyed = headers | {"Idempotency-Key": "h5-form-1"}
    first = client.post("/api/v1/reports", json=body, headers=keyed)
    retry = client.post("/api/v1/reports", json=body, headers=keyed)
    assert (first.status_code, retry.status_code) == (201, 200)
    number = first.get_json()["number"]
    assert retry.get_json()["number"] == number
    page = client.get(f"/h5/reports/{number}?submitted=1", headers=BROWSER).get_data(as_text=True)
    assert "提交成功" in page and number in page and "已派遣" in page
    assert 'id="toast" role="status" aria-live="polite" hidden' not in page
    quiet = client.get(f"/h5/reports/{number}", headers=BROWSER).get_data(as_text=True)
    assert 'id="toast" role="status" aria-live="polite" hidden' in quiet


def test_field_errors_come_back_for_the_page_to_show(client, city, citizen, sign_in):
    sign_in(citizen)
    token = csrf_token(client.get("/h5/report", headers=BROWSER).get_data(as_text=True))
    for body, field in (({"description": "短", "address": "兴华南街"}, "description"),
                        ({"description": COVER}, "location")):  # fmt: skip
        resp = client.post("/api/v1/reports", json=body, headers={"X-CSRFToken": token})
        assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    page = client.get("/h5/report", headers=BROWSER).get_data(as_text=True)
    for field in ("photos", "location", "description", "category"):
        assert f'id="error-{field}"' in page, field
