"""Open311 over real HTTP, on a database whose transactions really commit (one per module): the
third-party client ``georeport`` (PyPI) lists the services and reads a posted request back, in
JSON and in XML (every XML answer valid against the GeoReport v2 XSD); and N parallel posts of
one request with the same idempotency key make one case, with no 5xx.

georeport 0.3.1 has no call to post a request, so the post is the standard's form POST sent with
``requests``, as a client app would send it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests
from georeport import GeoReport
from sqlalchemy import func, insert, select
from werkzeug.serving import make_server

from app.auth import service as auth_service
from app.auth.models import Role
from app.extensions import db
from app.geo.models import Region
from reports.models import Channel, Report
from reports.open311 import service
from reports.open311.models import Open311Request
from tests.conftest import REAL_SESSION, committed_app, scratch_database
from tests.reports.conftest import WEST, load_categories, square
from tests.reports.open311.conftest import CODE, add_questions, form, valid_xml

N = 8


@dataclass
class Live:
    root: str  # .../open311/v2
    key: str
    app: object


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """An app on its own committed database (categories, a district, a client), served by a
    werkzeug server on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("open311_live")
    with pytest.MonkeyPatch.context() as mp, scratch_database(tmp, "open311") as url:
        mp.setattr(db, "session", REAL_SESSION)
        app = committed_app(url, tmp)
        with app.app_context():
            load_categories()
            add_questions()
            lat1, lng1, lat2, lng2 = WEST
            db.session.execute(insert(Region), [{
                "code": "T-W", "name": "测试一区", "level": "district", "geometry": square(WEST),
                "min_lat": lat1, "min_lng": lng1, "max_lat": lat2, "max_lng": lng2,
                "area_m2": 1.0, "source": "test"}])  # fmt: skip
            admin = auth_service.create_staff("o311_live_admin", "live-password-0",
                                              [Role.ADMIN.value], actor_label="test")  # fmt: skip
            _, key = service.create_client(
                {"name": "实时测试应用", "rate_count": 1000, "rate_period": "minute"}, admin
            )
            db.session.commit()
            db.session.remove()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Live(f"http://127.0.0.1:{server.server_port}/open311/v2", key, app)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture(autouse=True)
def real_session(db_session, monkeypatch):
    """The served app commits for real: the app's session, not the suite's rolled-back one."""
    monkeypatch.setattr(db, "session", REAL_SESSION)


def test_a_third_party_client_lists_services_and_reads_a_posted_request(live):
    client = GeoReport(live.root, jurisdiction="zhcg")
    services = client.get_service_list()
    assert CODE in {s["service_code"] for s in services}
    definition = client.get_service_definition(CODE)
    assert definition["attributes"][0]["code"] == "missing"

    resp = requests.post(f"{live.root}/requests.json", data=form(live.key), timeout=30)
    assert resp.status_code == 201, resp.text
    number = resp.json()[0]["service_request_id"]

    one = client.get_service_request(number)
    assert one["service_request_id"] == number and one["status"] == "open"
    listed = client.get_service_requests(service_request_id=number, status="open")
    assert [r["service_request_id"] for r in listed] == [number]

    as_xml = GeoReport(live.root, jurisdiction="zhcg", output_format="xml")
    assert CODE in {s["service_code"] for s in as_xml.get_service_list()}
    assert as_xml.get_service_request(number)["service_code"] == CODE
    for path in ("services.xml", f"services/{CODE}.xml", f"requests/{number}.xml",
                 "requests.xml?status=open", "services.xml?jurisdiction_id=elsewhere"):  # fmt: skip
        answer = requests.get(f"{live.root}/{path}", timeout=30)
        assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
        valid_xml(answer.content)
    with pytest.raises(requests.HTTPError) as refused:
        GeoReport(live.root, jurisdiction="elsewhere").get_service_list()
    assert refused.value.response.status_code == 404


def test_parallel_posts_with_one_idempotency_key_make_one_case(live):
    headers = {"Idempotency-Key": "parallel-retry-1"}

    def send(_):
        return requests.post(f"{live.root}/requests.json", data=form(live.key), headers=headers,
                             timeout=60)  # fmt: skip

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(send, range(N)))
    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: 1, 200: N - 1}, [(r.status_code, r.text) for r in results]
    assert len({r.json()[0]["service_request_id"] for r in results}) == 1
    with live.app.app_context():
        keyed = (
            select(func.count())
            .select_from(Report)
            .where(
                Report.channel == Channel.OPEN311, Report.idempotency_key.like("%parallel-retry-1")
            )
        )
        assert db.session.scalar(keyed) == 1
        assert db.session.scalar(
            select(func.count()).select_from(Open311Request)
            .join(Report, Report.id == Open311Request.report_id)
            .where(Report.idempotency_key.like("%parallel-retry-1"))) == 1  # fmt: skip
        db.session.remove()
