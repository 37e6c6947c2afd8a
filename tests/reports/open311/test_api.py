"""The Open311 GeoReport v2 interface in process: services and their attributes, posting a request
(a case of the normal workflow), reading it back as the public may see it, the standard's errors,
idempotency, each client's rate limit, and the admins' keys."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import event, func, select

from app.auth import keys
from app.auth.models import Role
from app.extensions import db
from app.geo import coords
from app.media import privacy
from reports.models import Channel, Report, ReportState
from reports.open311 import service
from reports.open311.models import Open311Request
from tests.reports.conftest import INSIDE_WEST, OUTSIDE, jpeg_bytes
from tests.reports.open311.conftest import CODE, WGS84_WEST, client_row, form, valid_xml

V2 = "/open311/v2"


def post(client, data, fmt="json", **kwargs):
    return client.post(f"{V2}/requests.{fmt}", data=data, **kwargs)


def test_services_list_the_categories_and_their_questions(client, o311):
    services = client.get(f"{V2}/services.json").get_json()
    cover = next(s for s in services if s["service_code"] == CODE)
    assert cover["service_name"] == "上水井盖" and cover["metadata"] is True
    assert cover["type"] == "realtime" and cover["group"] == "部件/公用设施"
    doc = valid_xml(client.get(f"{V2}/services.xml").data)
    assert len(doc.findall("service")) == len(services)

    definition = client.get(f"{V2}/services/{CODE}.json").get_json()
    missing = definition["attributes"][0]
    assert missing["code"] == "missing" and missing["required"] is True
    assert missing["datatype"] == "singlevaluelist" and missing["order"] == 1
    assert [v["key"] for v in missing["values"]] == ["是", "否"]
    doc = valid_xml(client.get(f"{V2}/services/{CODE}.xml?jurisdiction_id=zhcg").data)
    assert doc.findtext("attributes/attribute/description") == missing["description"]


def test_a_posted_request_is_a_case_and_reads_back_without_personal_data(client, o311, db_session):
    data = form(o311.key, phone="139-0000-1234", first_name="张", last_name="三",
                email="zhangsan@example.com", device_id="device-1")  # fmt: skip
    resp = post(client, data, fmt="xml")
    assert resp.status_code == 201, resp.data.decode()
    posted = valid_xml(resp.data).find("request")
    number, token = posted.findtext("service_request_id"), posted.findtext("token")
    assert posted.findtext("service_notice") == "已受理，处置时限2个工作日"

    report = db_session.scalar(select(Report).where(Report.number == number))
    assert report.channel == Channel.OPEN311 and report.category.code == CODE
    assert report.urgent and report.contact_phone == "13900001234"
    lat, lng = coords.to_canonical(*WGS84_WEST, "wgs84")
    assert (report.lat, report.lng) == pytest.approx((lat, lng)) and report.region_id
    assert report.coord_sys_in == "wgs84" and report.timeline[0].action == "submit"

    resp = client.get(f"{V2}/requests/{number}.json")
    [shown] = resp.get_json()
    assert shown["service_request_id"] == number and shown["status"] == "open"
    assert shown["service_code"] == CODE and report.state == ReportState.DISPATCHED  # routed
    assert shown["status_notes"] == "已派遣至测试一区城管局处置"
    assert shown["agency_responsible"] == "测试一区城管局" and shown["expected_datetime"]
    assert (shown["lat"], shown["long"]) == pytest.approx(WGS84_WEST, abs=1e-6)
    assert shown["description"] is None and shown["address"] == "测试一区"
    body = resp.get_data(as_text=True)
    for secret in ("张", "13900001234", "1234", "zhangsan", "device-1", "井口敞开"):
        assert secret not in body
    doc = valid_xml(client.get(f"{V2}/requests/{number}.xml").data)
    assert doc.findtext("request/status") == "open"
    doc = valid_xml(client.get(f"{V2}/tokens/{token}.xml").data)
    assert doc.findtext("request/service_request_id") == number


def test_a_photo_upload_is_stored_and_shown_as_its_public_copy(client, o311, db_session):
    data = form(o311.key, media_url="http://169.254.169.254/latest/meta-data/")
    data["media"] = (io.BytesIO(jpeg_bytes()), "cover.jpg")
    resp = post(client, data, content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    number = resp.get_json()[0]["service_request_id"]
    [media] = [p.media for p in db_session.scalar(
        select(Report).where(Report.number == number)).photos]  # fmt: skip
    assert media.public_state == "pending"  # public at once: the worker blurs it
    [view] = client.get(f"{V2}/requests/{number}.json").get_json()
    assert view["media_url"] is None  # never the original meanwhile
    assert privacy.publish_pending() == 1
    [view] = client.get(f"{V2}/requests/{number}.json").get_json()
    assert f"public/{media.public_id}" in str(privacy.public_key_for(media))
    assert view["media_url"] == privacy.public_url_if_ready(media)
    assert media.storage_key.split("/")[-1] not in view["media_url"]
    # The link sent is kept for staff, never fetched nor published.
    assert (
        service.request_for_case(number)["media_url"] == "http://169.254.169.254/latest/meta-data/"
    )


def test_errors_are_the_standards_list_in_the_format_asked(client, o311, db_session):
    cases = [
        (post(client, form("o311_wrong"), fmt="xml"), 403, "api_key"),
        (post(client, form(o311.key, service_code="ZZ0000")), 400, "service_code"),
        (post(client, form(o311.key, lat="", long="")), 400, "lat"),
        (post(client, form(o311.key, **{"attribute[missing]": ""})), 400, "attribute[missing]"),
        (post(client, form(o311.key, **{"attribute[missing]": "也许"})), 400, "是、否"),
        (post(client, form(o311.key, lat=str(OUTSIDE[0]), long=str(OUTSIDE[1]))), 400, "本市"),
        (client.post(f"{V2}/requests.json?api_key={o311.key}", json=form(o311.key)), 400, "表单"),
        (client.get(f"{V2}/services.json?jurisdiction_id=elsewhere"), 404, "jurisdiction_id"),
        (client.get(f"{V2}/services/ZZ0000.xml"), 404, "ZZ0000"),
        (client.get(f"{V2}/requests/20000101-000001.json"), 404, "20000101-000001"),
        (client.get(f"{V2}/services.html"), 404, ".json"),
        (client.get("/open311/v3/anything.json"), 404, "discovery"),
        (client.get(f"{V2}/requests.json?start_date=2026-01-01T00:00:00Z"
                    "&end_date=2026-06-01T00:00:00Z"), 400, "90"),
        (client.get(f"{V2}/requests.json?page_size=501"), 400, "page_size"),
        (client.get(f"{V2}/requests.json?status=pending"), 400, "status"),
        (client.put(f"{V2}/services.json"), 405, ""),
    ]  # fmt: skip
    for resp, status, named in cases:
        assert resp.status_code == status, (resp.request.path, resp.data)
        if resp.mimetype == "text/xml":
            error = valid_xml(resp.data).find("error")
            code, description = int(error.findtext("code")), error.findtext("description")
        else:
            [error] = resp.get_json()
            code, description = error["code"], error["description"]
        assert code == status and named in description, (resp.request.path, description)
    assert cases[-1][0].headers["Allow"] == "GET"
    assert db_session.scalar(select(func.count()).select_from(Report)) == 0


def test_a_revoked_key_is_refused_and_a_new_one_works(client, o311):
    service.revoke_client(o311.client, o311.admin)
    assert post(client, form(o311.key)).status_code == 403
    new_key = service.reissue_key(o311.client, o311.admin)
    assert post(client, form(o311.key)).status_code == 403
    assert post(client, form(new_key)).status_code == 201
    assert o311.client.key_hash == keys.digest(new_key) and new_key not in o311.client.key_hash


def test_a_retry_with_the_same_key_returns_the_first_request(client, o311, db_session):
    headers = {"Idempotency-Key": "retry-1"}
    first = post(client, form(o311.key), headers=headers)
    again = post(client, form(o311.key), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    other = post(client, form(o311.key, description="另一处井盖也不见了，请尽快处理"),
                 headers=headers)  # fmt: skip
    assert other.status_code == 400 and "Idempotency-Key" in other.get_json()[0]["description"]
    by_param = post(client, form(o311.key, idempotency_key="retry-1"))
    assert by_param.status_code == 200
    assert db_session.scalar(select(func.count()).select_from(Open311Request)) == 1


def test_each_client_has_its_own_rate_limit(client, o311, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", True)
    slow, slow_key = service.create_client(
        {"name": "限流应用", "rate_count": 2, "rate_period": "minute"}, o311.admin
    )
    statuses = [post(client, form(slow_key), fmt="xml") for _ in range(3)]
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert statuses[2].headers["Retry-After"]
    assert int(valid_xml(statuses[2].data).findtext("error/code")) == 429
    assert post(client, form(o311.key)).status_code == 201  # another client's budget


def test_requests_list_public_cases_by_status_code_and_ids(client, o311, make_citizen, photo,
                                                          auth_header, db_session):  # fmt: skip
    citizen = make_citizen()
    body = {"description": "太原街人行道有暴露垃圾堆积", "category": "SJ0102",
            "lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1], "photos": [photo(citizen)],
            "answers": {"amount": "几袋"}}  # fmt: skip
    resp = client.post("/api/v1/reports", json=body, headers=auth_header(citizen))
    assert resp.status_code == 201, resp.get_json()
    public = resp.get_json()["number"]
    mine = post(client, form(o311.key)).get_json()[0]["service_request_id"]
    closed = db_session.scalar(select(Report).where(Report.number == mine))
    closed.state, closed.closed_at = ReportState.CLOSED, closed.created_at
    rejected = db_session.scalar(select(Report).where(Report.number == public))
    db_session.flush()

    def ids(query: str) -> list[str]:
        resp = client.get(f"{V2}/requests.json?{query}")
        assert resp.status_code == 200, resp.get_json()
        return [r["service_request_id"] for r in resp.get_json()]

    assert ids("") == [mine, public]
    assert ids("status=closed") == [mine] and ids("status=open") == [public]
    assert ids(f"service_code={CODE}") == [mine]
    assert ids(f"service_request_id={public},{mine}&status=open") == [mine, public]
    assert ids("page_size=1&page=2") == [public]
    photo_row = rejected.photos[0].media
    privacy.publish(photo_row)  # as the worker does for a case's photos
    listed = client.get(f"{V2}/requests.json?service_request_id={public}").get_json()[0]
    assert listed["description"] is None and "太原街" not in str(listed)
    assert listed["media_url"] == privacy.public_url_if_ready(photo_row)  # the blurred copy
    rejected.state = ReportState.REJECTED  # 不予立案: no longer public
    db_session.flush()
    assert ids("") == [mine]
    assert client.get(f"{V2}/requests/{public}.json").status_code == 404
    assert statements(client) == statements(client, more=(client, o311.key))  # no N+1


def statements(client, more=None) -> int:
    """SQL statements of one list of requests (after posting two more requests if asked)."""
    if more is not None:
        for n in range(2):
            post(*more[:1], form(more[1], description=f"又一处井盖缺失，第{n}处"))
    client.get(f"{V2}/requests.json")  # warm: the regions are read once per process
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert client.get(f"{V2}/requests.json").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(seen)


def test_admins_issue_keys_shown_once_and_manage_clients(client, o311, make_staff, auth_header):
    admin = auth_header(o311.admin)
    resp = client.post(
        "/api/v1/admin/open311/clients",
        headers=admin,
        json={"name": "城市服务平台", "rate_count": 30, "rate_period": "hour"},
    )
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    key = created["api_key"]
    assert key.startswith("o311_") and created["rate_label"] == "每小时30次"
    row = client_row("城市服务平台")
    assert row.key_hash == keys.digest(key) and key not in str(vars(row))
    listed = client.get("/api/v1/admin/open311/clients", headers=admin).get_json()["items"]
    assert "api_key" not in str(listed) and created["key_hint"] == key[:9]
    assert post(client, form(key)).status_code == 201
    resp = client.patch(f"/api/v1/admin/open311/clients/{row.id}", headers=admin,
                        json={"rate_count": 5})  # fmt: skip
    assert resp.get_json()["rate_limit"] == "5/hour"
    assert client.post(f"/api/v1/admin/open311/clients/{row.id}/revoke",
                       headers=admin).get_json()["is_active"] is False  # fmt: skip
    assert post(client, form(key)).status_code == 403
    resp = client.post("/api/v1/admin/open311/clients", headers=admin, json={"name": "测试应用"})
    assert resp.status_code == 409
    dispatcher = auth_header(make_staff("o311_dispatcher", roles=(Role.DISPATCHER,)))
    assert client.get("/api/v1/admin/open311/clients", headers=dispatcher).status_code == 403


def test_the_console_page_and_the_case_block_speak_chinese(client, o311, auth_header):
    admin = auth_header(o311.admin)
    page = client.get("/console/admin/open311", headers=admin).get_data(as_text=True)
    assert "测试应用" in page and "每分钟100次" in page and o311.key not in page
    number = post(client, form(o311.key, media_url="https://img.example/a.jpg")).get_json()[0][
        "service_request_id"]  # fmt: skip
    case = client.get(f"/console/cases/{number}", headers=admin).get_data(as_text=True)
    assert "Open311来源" in case and "测试应用" in case and "https://img.example/a.jpg" in case


def test_open311_is_announced_by_discovery_not_in_the_openapi_spec(client):
    spec = client.get("/api/openapi.json").get_json()
    assert not [p for p in spec["paths"] if p.startswith("/open311")]
    assert "/api/v1/admin/open311/clients" in spec["paths"]
    doc = valid_xml(client.get("/open311/discovery.xml").data)
    assert doc.findtext("endpoints/endpoint/url").endswith("/open311/v2")
    assert client.get("/open311/discovery.json").get_json()["endpoints"][0]["formats"] == [
        "text/xml", "application/json"]  # fmt: skip
