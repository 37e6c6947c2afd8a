"""Detection devices (路长慧眼): the algorithm catalogue, routing by each algorithm's threshold,
the cool-down (also under parallel posts), false positives and precision, and the channels in
the statistics."""

from __future__ import annotations

import csv
import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from reports import detection
from reports.detection import DetectionAlgorithm, DetectionEvent
from reports.ingest_api import create_device
from reports.models import CHANNEL_LABELS, Category, Channel, Report, ReportState
from reports.seed import seed_reference
from tests.conftest import committed_app
from tests.console.conftest import login_as
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes

N = 8
METRE = 1 / 111_320  # degrees of latitude


@pytest.fixture
def algorithms(city):
    """The shipped catalogue on the test city's categories."""
    detection.seed_algorithms()


@pytest.fixture
def device_key(algorithms):
    return create_device("铁西区北二路3号杆摄像头")[1]


def detect(client, key, algorithm="ALG07", confidence="0.93", event_id="e-1", point=INSIDE_WEST,
           **fields):  # fmt: skip
    data = {"algorithm": algorithm, "confidence": confidence, "event_id": event_id,
            "lat": str(point[0]), "lng": str(point[1]),
            "evidence": (io.BytesIO(jpeg_bytes()), "frame.jpg")} | fields  # fmt: skip
    data = {k: v for k, v in data.items() if v is not None}
    return client.post("/api/v1/ingest/detections", data=data, content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def report(number: str) -> Report:
    return db.session.scalar(select(Report).where(Report.number == number))


def north(metres: float) -> tuple[float, float]:
    return INSIDE_WEST[0] + metres * METRE, INSIDE_WEST[1]


def test_the_catalogue_has_21_algorithms_on_existing_categories_and_seeds_idempotently(city):
    path = detection.ALGORITHMS_CSV
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len({r["code"] for r in rows}) == 21
    known = set(db.session.scalars(select(Category.code)))
    assert {r["category_code"] for r in rows} <= known
    assert all(0 < float(r["threshold"]) <= 1 and int(r["cooldown_seconds"]) >= 0 for r in rows)
    assert detection.seed_algorithms() == {"created": 21, "updated": 0, "unchanged": 0}
    exposed = detection.algorithm_by_code("ALG07")
    exposed.threshold, exposed.is_active = 0.5, False  # an admin's edits
    assert detection.seed_algorithms(keep_existing=True)["unchanged"] == 21
    assert detection.seed_algorithms()["updated"] == 1  # the file's threshold is back ...
    assert (exposed.threshold, exposed.is_active) == (0.8, False)  # ... the admin's switch stays
    assert exposed.category.name == "暴露垃圾"


def test_the_algorithms_threshold_decides_direct_registration(client, device_key):
    # 暴露垃圾 registers at 0.80: 0.85 is dispatched at once
    sure = detect(client, device_key, "ALG07", "0.85", "e-sure")
    assert sure.status_code == 201, sure.get_json()
    assert sure.get_json()["state"] == "dispatched"
    case = report(sure.get_json()["number"])
    assert case.category.name == "暴露垃圾" and case.channel == Channel.MACHINE
    assert case.description == "智能识别：暴露垃圾（铁西区北二路3号杆摄像头）"
    # 机动车违停 needs 0.90: the same 0.85 waits for a dispatcher
    unsure = detect(client, device_key, "ALG12", "0.85", "e-unsure", point=north(500))
    assert unsure.status_code == 201
    assert unsure.get_json() | {"number": None} == {
        "number": None, "state": "reported", "triage_reason": "low_confidence"}  # fmt: skip
    # algorithm decides when a device also sends the old category field
    both = detect(client, device_key, "ALG07", "0.95", "e-both", point=north(900),
                  category="SJ0503")  # fmt: skip
    assert report(both.get_json()["number"]).category.name == "暴露垃圾"


def test_unknown_inactive_or_missing_algorithms_are_422_naming_the_field(client, device_key):
    assert detect(client, device_key, "ALG99").get_json()["error"]["fields"].keys() == {"algorithm"}
    detection.algorithm_by_code("ALG03").is_active = False
    db.session.flush()
    assert detect(client, device_key, "ALG03").status_code == 422
    missing = detect(client, device_key, None)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"algorithm": ["请填写识别算法编码"]}
    assert db.session.scalar(select(func.count(Report.id))) == 0


def test_a_repeat_within_the_cool_down_is_recorded_on_the_earlier_case(client, device_key):
    first = detect(client, device_key, event_id="e-1")
    assert first.status_code == 201
    number = first.get_json()["number"]
    # 暴露垃圾: 3600 s, 30 m. 12 m away, other event: the same case
    again = detect(client, device_key, event_id="e-2", point=north(12), confidence="0.88")
    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert (body["number"], body["repeat"], body["repeats"]) == (number, True, 1)
    assert "冷却期内的重复识别" in body["message"] and number in body["message"]
    retry = detect(client, device_key, event_id="e-2", point=north(12))  # a retry: counted once
    assert retry.status_code == 200 and retry.get_json()["repeats"] == 1
    assert detection.sightings(report(number).id).repeats == 1
    # farther than the radius, another device, or another algorithm: new cases
    assert detect(client, device_key, event_id="e-3", point=north(80)).status_code == 201
    other_key = create_device("铁西区北二路5号杆摄像头")[1]
    assert detect(client, other_key, event_id="e-1").status_code == 201
    assert detect(client, device_key, "ALG08", event_id="e-4").status_code == 201
    # once the cool-down has passed, the same place opens a new case
    for event in db.session.scalars(select(DetectionEvent)):
        event.detected_at -= timedelta(seconds=3601)
    db.session.flush()
    later = detect(client, device_key, event_id="e-5")
    assert later.status_code == 201 and later.get_json()["number"] != number
    assert db.session.scalar(select(func.count(Report.id))) == 5


def test_parallel_posts_of_one_problem_open_one_case(live_db_url, tmp_path):
    app = committed_app(live_db_url, tmp_path)
    try:
        with app.app_context():
            seed_reference()
            key = create_device("并发测试摄像头")[1]
            db.session.commit()

        def post(i: int):
            return detect(app.test_client(), key, event_id=f"par-{i}", point=north(i))

        with ThreadPoolExecutor(N) as pool:
            results = list(pool.map(post, range(N)))
        statuses = Counter(r.status_code for r in results)
        assert statuses == {201: 1, 200: N - 1}, [(r.status_code, r.get_json()) for r in results]
        assert len({r.get_json()["number"] for r in results}) == 1
        assert sorted(r.get_json().get("repeats", 0) for r in results) == list(range(N))
        with app.app_context():
            assert db.session.scalar(select(func.count(Report.id))) == 1
            events = db.session.scalars(select(DetectionEvent)).all()
            assert sorted(e.is_repeat for e in events) == [False] + [True] * (N - 1)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_rejections_count_as_false_positives_and_precision_follows(
    client, city, device_key, auth_header
):
    def case(event_id, metres, confidence):
        resp = detect(client, device_key, event_id=event_id, point=north(metres),
                      confidence=confidence)  # fmt: skip
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["number"]

    def act(number, action, **body):
        resp = client.post(f"/api/v1/staff/reports/{number}/actions/{action}", json=body,
                           headers=auth_header(city.dispatcher))  # fmt: skip
        assert resp.status_code == 200, resp.get_json()

    confirmed = case("p-1", 0, "0.95")  # dispatched by the system
    act(case("p-2", 100, "0.50"), "reject", reason="invalid")  # 无效信息: a false positive
    act(case("p-3", 200, "0.50"), "reject", reason="duplicate")  # 重复上报: neither
    case("p-4", 300, "0.50")  # waits in triage
    act(case("p-5", 400, "0.95"), "void", note="现场核实无垃圾")  # 作废: a false positive
    detect(client, device_key, event_id="p-6", point=north(5))  # a repeat of the first
    assert report(confirmed).state == ReportState.DISPATCHED

    resp = client.get("/api/v1/stats/detections", headers=auth_header(city.dispatcher))
    assert resp.status_code == 200, resp.get_json()
    rows = {a["code"]: a for a in resp.get_json()["algorithms"]}
    assert len(rows) == 21
    exposed = rows["ALG07"]
    assert {k: exposed[k] for k in ("name", "detections", "repeats", "confirmed",
                                     "false_positives", "duplicates", "pending", "precision")} == {
        "name": "暴露垃圾", "detections": 5, "repeats": 1, "confirmed": 1, "false_positives": 2,
        "duplicates": 1, "pending": 1, "precision": 33.33}  # fmt: skip
    assert rows["ALG12"]["precision"] is None and rows["ALG12"]["detections"] == 0
    assert "误报" in resp.get_json()["definitions"]["false_positives"]

    # the dashboard shows the same row; the case page names the algorithm
    login_as(client, city.dispatcher.username)
    html = client.get("/console/stats").get_data(as_text=True)
    assert "智能识别算法准确率" in html
    row = html.split('data-code="ALG07"', 1)[1].split("</tr>", 1)[0]
    assert "暴露垃圾" in row and "33.33%" in row
    page = client.get(f"/console/cases/{confirmed}").get_data(as_text=True)
    assert 'id="case-algorithm" data-code="ALG07">暴露垃圾' in page
    assert "95%" in page and "冷却期内重复识别 1 次" in page


def test_admins_edit_the_catalogue(client, city, algorithms, make_staff, auth_header):
    admin = auth_header(make_staff("det-admin2", roles=(Role.ADMIN,)))
    url = "/api/v1/admin/detection-algorithms"
    listed = client.get(url, headers=admin).get_json()
    assert len(listed) == 21 and listed[6]["category"] == "SJ0102"
    changed = client.patch(f"{url}/ALG07", json={"threshold": 0.95, "cooldown_seconds": 600},
                           headers=admin)  # fmt: skip
    assert changed.status_code == 200 and changed.get_json()["threshold"] == 0.95
    new = {"code": "ALG22", "name": "道路积雪", "category": "SJ0406", "threshold": 0.8,
           "cooldown_seconds": 3600, "cooldown_radius_m": 100}  # fmt: skip
    assert client.post(url, json=new, headers=admin).status_code == 201
    assert client.post(url, json=new, headers=admin).status_code == 409
    bad = client.post(url, json=new | {"code": "ALG23", "category": "XX99"}, headers=admin)
    assert bad.status_code == 422 and "category" in bad.get_json()["error"]["fields"]
    assert db.session.scalar(select(func.count(DetectionAlgorithm.id))) == 22


def test_the_statistics_list_every_channel_by_its_chinese_label(client, city, auth_header):
    for i, channel in enumerate(Channel):
        db.session.add(Report(number=f"20261202-9{i:05d}", channel=channel, description="渠道统计",
                              state=ReportState.REPORTED))  # fmt: skip
    db.session.flush()
    resp = client.get("/api/v1/stats/cases?group_by=channel",
                      headers=auth_header(city.dispatcher))  # fmt: skip
    labels = {g["label"]: g["accepted"] for g in resp.get_json()["groups"]}
    assert set(CHANNEL_LABELS.values()) <= set(labels)
    assert {"公众号对话", "网络舆情", "智能识别"} <= set(labels)
    assert all(labels[name] == 1 for name in CHANNEL_LABELS.values())
