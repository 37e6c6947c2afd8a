"""Input a client should not send but will: a reused Idempotency-Key, a blank description, empty
files, and a GET where a POST was expected. Each is refused (or served) with a clear answer in
the one error shape, and leaves no report behind."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from reports.ingest_api import create_device
from reports.models import Report
from tests.h5.test_home import BROWSER, csrf_token
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"
BLANKS = ("      ", "\u3000\u3000\u3000\u3000\u3000", " \t \n  \r\n ")  # ASCII, 全角 and mixed


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-hostile")


def reports() -> int:
    return db.session.scalar(select(func.count()).select_from(Report))


def media() -> int:
    return db.session.scalar(select(func.count()).select_from(Media))


def body(photo_ids, **extra):
    return {"description": COVER, "lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1],
            "category": "BJ0103", "photos": photo_ids} | extra  # fmt: skip


def form(*photos: bytes, **extra):
    files = [(io.BytesIO(p), f"{i}.jpg") for i, p in enumerate(photos)]
    return {"description": COVER, "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
            "category": "BJ0103", "photos": files} | extra  # fmt: skip


def assert_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    err = resp.get_json()["error"]
    assert err["code"] == code and err["message"]
    return err


# ---------------------------------------------------------------- Idempotency-Key reused


def test_a_key_reused_with_other_content_is_refused_and_a_true_retry_is_served(
    client, city, citizen, auth_header, photo
):
    headers = auth_header(citizen) | {"Idempotency-Key": "form-1"}
    ids = [photo(citizen)]
    first = client.post("/api/v1/reports", json=body(ids), headers=headers)
    assert first.status_code == 201, first.get_json()
    retry = client.post("/api/v1/reports", json=body(ids), headers=headers)
    assert retry.status_code == 200 and retry.get_json()["number"] == first.get_json()["number"]

    for changed in (body(ids, description="测试一区另一处路灯不亮了，晚上很黑"),
                    body(ids, lat=INSIDE_WEST[0] + 0.01), body(ids, category="BJ0101"),
                    body([*ids, photo(citizen, (1, 2, 3))])):  # fmt: skip
        resp = client.post("/api/v1/reports", json=changed, headers=headers)
        err = assert_error(resp, 422, "idempotency_key_reused")
        assert "Idempotency-Key" in err["message"] and "内容不同" in err["message"]
        assert "Idempotency-Key" in err["fields"]
    assert reports() == 1
    again = client.post("/api/v1/reports", json=body(ids), headers=headers)
    assert again.status_code == 200 and again.get_json()["number"] == first.get_json()["number"]


def test_a_multipart_retry_sends_the_same_photos_and_stores_none_again(
    client, city, citizen, auth_header
):
    headers = auth_header(citizen) | {"Idempotency-Key": "multipart-1"}

    def post(data):
        return client.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                           headers=headers)  # fmt: skip

    first = post(form(jpeg_bytes()))
    assert first.status_code == 201, first.get_json()
    stored = media()
    retry = post(form(jpeg_bytes()))
    assert retry.status_code == 200 and retry.get_json()["number"] == first.get_json()["number"]
    other_photo = post(form(jpeg_bytes((9, 9, 9))))
    assert_error(other_photo, 422, "idempotency_key_reused")
    assert (reports(), media()) == (1, stored)


def test_staff_entry_with_a_reused_key_is_refused_too(client, city, auth_header):
    headers = auth_header(city.dispatcher) | {"Idempotency-Key": "call-1"}
    call = {"channel": "hotline", "description": "市民来电：测试一区某路口雨水井盖丢失",
            "lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1], "category": "BJ0103"}  # fmt: skip
    first = client.post("/api/v1/staff/reports", json=call, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert client.post("/api/v1/staff/reports", json=call, headers=headers).status_code == 200
    other = call | {"contact_phone": "13800138000"}
    assert_error(client.post("/api/v1/staff/reports", json=other, headers=headers), 422,
                 "idempotency_key_reused")  # fmt: skip
    assert reports() == 1
    # The fingerprint that tells the two apart is the service's own: not in the case's timeline.
    number = first.get_json()["number"]
    case = client.get(f"/api/v1/staff/reports/{number}", headers=headers).get_json()
    assert case["timeline"] and "fingerprint" not in str(case["timeline"])


# ---------------------------------------------------------------- blank descriptions


@pytest.mark.parametrize("blank", BLANKS)
def test_a_description_of_only_spaces_is_refused_everywhere(
    client, city, citizen, auth_header, photo, blank
):
    def refused(resp) -> None:
        err = assert_error(resp, 422, "validation_failed")
        assert err["fields"]["description"] == ["请填写问题描述（不能只有空格）"]

    # the mini-program's JSON
    refused(client.post("/api/v1/reports", json=body([photo(citizen)], description=blank),
                        headers=auth_header(citizen)))  # fmt: skip
    # staff entering a hotline call
    call = {"channel": "hotline", "description": blank, "lat": INSIDE_WEST[0],
            "lng": INSIDE_WEST[1]}  # fmt: skip
    refused(client.post("/api/v1/staff/reports", json=call, headers=auth_header(city.dispatcher)))
    # the H5 form, signed in by cookie, as JSON and as multipart
    with client.session_transaction() as sess:
        sess["citizen_id"] = citizen.id
    token = csrf_token(client.get("/h5/report", headers=BROWSER).get_data(as_text=True))
    h5 = {"X-CSRFToken": token, "Accept": "application/json"}
    refused(client.post("/api/v1/reports", json=body([photo(citizen)], description=blank),
                        headers=h5))  # fmt: skip
    refused(client.post("/api/v1/reports", data=form(jpeg_bytes(), description=blank),
                        content_type="multipart/form-data", headers=h5))  # fmt: skip
    assert reports() == 0


def test_spaces_do_not_make_a_short_description_long_enough(client, city, citizen, auth_header,
                                                            photo):  # fmt: skip
    resp = client.post("/api/v1/reports", json=body([photo(citizen)], description="  井盖坏  "),
                       headers=auth_header(citizen))  # fmt: skip
    err = assert_error(resp, 422, "validation_failed")
    assert err["fields"]["description"] == ["请用至少5个字描述问题"]
    ok = client.post("/api/v1/reports", json=body([photo(citizen)], description=f"  {COVER}  "),
                     headers=auth_header(citizen))  # fmt: skip
    assert ok.status_code == 201 and ok.get_json()["description"] == COVER


# ---------------------------------------------------------------- empty files


def test_an_empty_file_is_422_empty_file_on_every_upload_route(client, city, citizen,
                                                                auth_header):  # fmt: skip
    empty = (io.BytesIO(b""), "empty.jpg")

    def refused(resp, field: str) -> None:
        err = assert_error(resp, 422, "empty_file")
        assert err["message"] == "上传的文件是空的（0 字节），请重新选择"
        assert field in err["fields"]

    multipart = {"content_type": "multipart/form-data"}
    refused(client.post("/api/v1/media", data={"file": empty}, headers=auth_header(citizen),
                        **multipart), "file")  # fmt: skip
    refused(client.post("/api/v1/reports", data=form(jpeg_bytes(), b""),
                        headers=auth_header(citizen), **multipart), "photos")  # fmt: skip
    patrol = form(b"", channel="inspector")
    refused(client.post("/api/v1/staff/reports", data=patrol, headers=auth_header(city.inspector),
                        **multipart), "photos")  # fmt: skip
    _, key = create_device("铁西3号路口摄像头")
    detection = {"category": "SJ0503", "confidence": "0.93", "event_id": "cam-empty",
                 "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
                 "evidence": (io.BytesIO(b""), "frame.jpg")}  # fmt: skip
    device = {"Authorization": f"Bearer {key}"}
    refused(client.post("/api/v1/ingest/detections", data=detection, headers=device,
                        **multipart), "evidence")  # fmt: skip
    assert (reports(), media()) == (0, 0)


def test_staff_multipart_entry_keeps_its_photos(client, city, auth_header):
    patrol = form(jpeg_bytes(), channel="inspector")
    resp = client.post("/api/v1/staff/reports", data=patrol, content_type="multipart/form-data",
                       headers=auth_header(city.inspector))  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert [p["stage"] for p in resp.get_json()["photos"]] == ["report"]


# ---------------------------------------------------------------- classify next to /<number>


def test_classify_answers_get_and_post_and_report_numbers_still_resolve(
    client, city, citizen, auth_header, photo
):
    text = "小区门口雨水井盖破损"
    got = client.get("/api/v1/reports/classify", query_string={"description": text})
    posted = client.post("/api/v1/reports/classify", json={"description": text})
    assert got.status_code == posted.status_code == 200, got.get_data(as_text=True)
    assert got.get_json() == posted.get_json()
    assert got.get_json()[0]["code"] == "BJ0103"
    err = assert_error(client.get("/api/v1/reports/classify"), 422, "validation_failed")
    assert "description" in err["fields"]

    number = client.post("/api/v1/reports", json=body([photo(citizen)]),
                         headers=auth_header(citizen)).get_json()["number"]  # fmt: skip
    mine = client.get(f"/api/v1/reports/{number}", headers=auth_header(citizen))
    assert mine.status_code == 200 and mine.get_json()["number"] == number
    assert client.get(f"/api/v1/reports/{number}").status_code == 401


def test_a_multipart_part_without_a_name_is_not_a_500(client, city, citizen, auth_header):
    body = (b'--B\r\nContent-Disposition: form-data; name="\n"\r\n\r\nnull\r\n'
            b'--B\r\nContent-Disposition: form-data\r\n\r\nnull\r\n--B--\r\n')  # fmt: skip
    resp = client.post("/api/v1/reports", data=body, headers=auth_header(citizen),
                       content_type="multipart/form-data; boundary=B")  # fmt: skip
    err = assert_error(resp, 422, "validation_failed")
    assert set(err["fields"]) == {"description"}
