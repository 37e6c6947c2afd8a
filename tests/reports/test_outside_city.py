"""A report whose point lies outside the city: refused before anything is stored where the sender
can choose another point (citizens, a dispatcher taking a call), kept for a dispatcher to correct
where nobody can (patrol findings, devices' detections). "Outside" is app.geo.regions' one rule."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from reports.ingest_api import create_device
from reports.models import Channel, Report
from tests.h5.test_home import BROWSER, csrf_token
from tests.reports.conftest import INSIDE_WEST, OUTSIDE, jpeg_bytes
from tests.reports.test_channels import stored_files

COVER = "小区门口一处雨水井盖严重破损，车辆经过很危险"
REFUSAL = "该位置不在本市范围内，请重新选择"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def refused(resp) -> None:
    """The one error shape: 422, code outside_city, the message on the field ``lat``."""
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "outside_city"
    assert error["message"] == REFUSAL and error["fields"] == {"lat": [REFUSAL]}


def test_a_citizens_point_outside_the_city_is_refused(client, city, make_citizen, auth_header,
                                                      photo):  # fmt: skip
    citizen = make_citizen("o-far-away")
    body = {"description": COVER, "photos": [photo(citizen)], "lat": OUTSIDE[0],
            "lng": OUTSIDE[1], "category": "BJ0103"}  # fmt: skip
    refused(client.post("/api/v1/reports", json=body, headers=auth_header(citizen)))
    assert count(Report) == 0
    # The same report at a point in the city goes through.
    body |= {"lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1]}
    assert (
        client.post("/api/v1/reports", json=body, headers=auth_header(citizen)).status_code == 201
    )


def test_the_point_is_judged_in_its_own_system(client, city, make_citizen, auth_header, photo):
    """A WGS-84 point just inside 测试一区's west edge lies ~500 m further west once read as
    GCJ-02: judged in the system the client names, it is inside."""
    from app.geo import coords

    citizen = make_citizen("o-wgs")
    edge = (41.80, 123.3001)  # GCJ-02, 10 m inside the west edge
    wgs = coords.from_canonical(*edge, "wgs84")
    body = {"description": COVER, "photos": [photo(citizen)], "lat": wgs[0], "lng": wgs[1],
            "coord_sys": "wgs84", "category": "BJ0103"}  # fmt: skip
    assert (
        client.post("/api/v1/reports", json=body, headers=auth_header(citizen)).status_code == 201
    )
    body["coord_sys"] = "gcj02"
    body["photos"] = [photo(citizen)]
    refused(client.post("/api/v1/reports", json=body, headers=auth_header(citizen)))


def test_photos_sent_along_are_not_even_stored(client, app, city, make_citizen, auth_header,
                                               monkeypatch):  # fmt: skip
    from app.media import service as media_service

    stores = []
    real_store = media_service.store_upload
    monkeypatch.setattr(media_service, "store_upload",
                        lambda *a, **k: stores.append(1) or real_store(*a, **k))  # fmt: skip
    citizen = make_citizen("o-far-multipart")
    before, media = stored_files(app), count(Media)
    data = {"description": COVER, "lat": str(OUTSIDE[0]), "lng": str(OUTSIDE[1]),
            "photos": [(io.BytesIO(jpeg_bytes()), "a.jpg")]}  # fmt: skip
    resp = client.post("/api/v1/reports", data=data, content_type="multipart/form-data",
                       headers=auth_header(citizen))  # fmt: skip
    refused(resp)
    assert stores == []  # refused before the photo was stored (not stored, then discarded)
    assert stored_files(app) == before and count(Media) == media and count(Report) == 0


def test_the_h5_form_hears_the_same(client, city, make_citizen):
    """What the form's script sends with the session cookie (channel mp_h5)."""
    citizen = make_citizen("o-h5-far")
    with client.session_transaction() as sess:
        sess["citizen_id"] = citizen.id
    token = csrf_token(client.get("/h5/report", headers=BROWSER).get_data(as_text=True))
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    upload = client.post("/api/v1/media", data={"file": (io.BytesIO(jpeg_bytes()), "p.jpg")},
                         content_type="multipart/form-data", headers=headers)  # fmt: skip
    body = {"description": COVER, "photos": [upload.get_json()["id"]], "lat": OUTSIDE[0],
            "lng": OUTSIDE[1], "coord_sys": "gcj02"}  # fmt: skip
    refused(client.post("/api/v1/reports", json=body, headers=headers))
    assert count(Report) == 0


def test_a_hotline_call_placed_outside_is_refused(client, city, auth_header):
    body = {"channel": "hotline", "description": "市民来电：某路口雨水井盖丢失", "lat": OUTSIDE[0],
            "lng": OUTSIDE[1], "category": "BJ0103", "contact_phone": "13800138000"}  # fmt: skip
    refused(client.post("/api/v1/staff/reports", json=body, headers=auth_header(city.dispatcher)))
    assert count(Report) == 0


def test_a_patrol_finding_outside_waits_for_a_dispatcher(client, city, auth_header, photo):
    body = {"channel": "inspector", "description": "巡查发现道路两侧暴露垃圾", "lat": OUTSIDE[0],
            "lng": OUTSIDE[1], "category": "SJ0102", "photos": [photo(city.inspector)]}  # fmt: skip
    resp = client.post("/api/v1/staff/reports", json=body, headers=auth_header(city.inspector))
    assert resp.status_code == 201, resp.get_json()
    number = resp.get_json()["number"]
    seen = client.get(f"/api/v1/staff/reports/{number}", headers=auth_header(city.dispatcher))
    case = seen.get_json()
    assert case["state"] == "reported" and case["triage_reason"] == "outside_regions"
    assert case["triage_label"] == "位置在本市范围外，请核实"


def test_a_detection_outside_waits_for_a_dispatcher(client, city):
    _, key = create_device("界外摄像头")
    data = {"category": "SJ0503", "confidence": "0.95", "event_id": "far-1",
            "lat": str(OUTSIDE[0]), "lng": str(OUTSIDE[1]),
            "evidence": (io.BytesIO(jpeg_bytes()), "frame.jpg")}  # fmt: skip
    resp = client.post("/api/v1/ingest/detections", data=data, content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["triage_reason"] == "outside_regions"
    assert db.session.scalar(select(Report.channel)) == Channel.MACHINE


def test_a_city_without_regions_refuses_nothing(client, make_citizen, auth_header, db_session):
    """No regions yet (a fresh install): nothing is known to be outside; the case waits."""
    from tests.reports.conftest import load_categories

    load_categories()
    citizen = make_citizen("o-no-regions")
    from app.media import service as media_service

    photo_id = media_service.store_upload(jpeg_bytes(), citizen).public_id
    body = {"description": COVER, "photos": [photo_id], "lat": OUTSIDE[0], "lng": OUTSIDE[1]}
    resp = client.post("/api/v1/reports", json=body, headers=auth_header(citizen))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["state"] == "reported"
