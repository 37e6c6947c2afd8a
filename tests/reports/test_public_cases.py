"""身边案件: the public cases near a point (anonymised), and "我也遇到了" (follow / unfollow)."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from app.db import utcnow
from app.extensions import db
from app.geo.coords import from_canonical
from app.geo.models import Region
from app.media import privacy as media_privacy
from app.media import service as media_service
from reports import follows
from reports.models import (
    Category,
    Channel,
    PhotoStage,
    Report,
    ReportPhoto,
    ReportState,
    TimelineEntry,
)
from tests.conftest import error_of
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes, square

URL = "/api/v1/reports/nearby"
BASE = INSIDE_WEST  # (41.80, 123.35), GCJ-02, in 测试一区
M_PER_DEG_LAT = 111_195.08  # metres per degree of latitude (mean Earth radius)
PRIVATE = (
    "井盖被偷走了，我家就住在旁边三楼",
    "兴华南街12号3单元",
    "13800138000",
    "内部备注：联系人张三",
)
_serial = itertools.count(1)


def north(metres: float, east: float = 0.0) -> tuple[float, float]:
    """A point ``metres`` north (and ``east`` metres east) of BASE."""
    lat = BASE[0] + metres / M_PER_DEG_LAT
    return lat, BASE[1] + east / (M_PER_DEG_LAT * 0.7459)  # cos(41.8 deg)


@pytest.fixture
def street(city):
    """A street (兴华街道) inside 测试一区 covering BASE."""
    west = db.session.scalar(select(Region).where(Region.code == "T-W"))
    box = (41.78, 123.33, 41.83, 123.37)
    region = Region(code="T-W-XH", name="兴华街道", level="street", parent_id=west.id,
                    geometry=square(box), min_lat=box[0], min_lng=box[1], max_lat=box[2],
                    max_lng=box[3], area_m2=1e7, source="test")  # fmt: skip
    db.session.add(region)
    db.session.flush()
    return region


@pytest.fixture
def make_case(city, make_citizen):
    """Factory: a case at a point, in a state, with an optional category and photo (flushed).
    Every case carries personal data that must never be shown publicly."""
    default_reporter = make_citizen("o-public-reporter")

    def make(point, state=ReportState.IN_PROGRESS, *, category=None, reporter=None,
             closed_days_ago=None, photo=False, region=None, created_at=None,
             channel=Channel.MINIPROGRAM, **extra):  # fmt: skip
        now = utcnow()
        closed_at = now - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
        report = Report(
            number=f"20261205-{next(_serial):06d}", channel=channel, state=state,
            reporter=reporter or default_reporter, description=PRIVATE[0], address=PRIVATE[1],
            contact_phone=PRIVATE[2], lat=point[0] if point else None,
            lng=point[1] if point else None, region_id=region.id if region else None,
            category_id=_category_id(category) if category else None, closed_at=closed_at,
            created_at=created_at or now - timedelta(hours=1), **extra,
        )  # fmt: skip
        db.session.add(report)
        db.session.flush()
        if photo:
            owner = reporter or default_reporter
            first = media_service.store_upload(jpeg_bytes((10, 200, 30)), owner)
            second = media_service.store_upload(jpeg_bytes((200, 10, 30)), owner)
            report.photos.append(ReportPhoto(media=second, stage=PhotoStage.REPORT, position=1))
            report.photos.append(ReportPhoto(media=first, stage=PhotoStage.REPORT, position=0))
            db.session.flush()
        return report

    return make


def _category_id(name: str) -> int:
    return db.session.scalar(select(Category.id).where(Category.name == name).limit(1))


def nearby(client, point=BASE, headers=None, **params):
    resp = client.get(URL, query_string={"lat": point[0], "lng": point[1], **params},
                      headers=headers or {})  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    return resp


def numbers(resp) -> list[str]:
    return [item["number"] for item in resp.get_json()["items"]]


# ---------------------------------------------------------------- the nearby list


def test_open_and_recently_closed_cases_nearest_first_anonymised(client, make_case, street):
    reported = make_case(north(100), ReportState.REPORTED, region=street, photo=True)
    working = make_case(north(200), ReportState.IN_PROGRESS, category="暴露垃圾", region=street)
    closed = make_case(north(-150), ReportState.CLOSED, category="雨水井盖", closed_days_ago=5,
                       region=street)  # fmt: skip
    archived = make_case(north(250), ReportState.ARCHIVED, category="雨水井盖", closed_days_ago=20)
    assert nearby(client).get_json()["items"][0]["photo_url"] is None  # no blurred copy yet
    assert media_privacy.publish_pending() == 2  # the worker makes it (both report photos)

    resp = nearby(client)
    body = resp.get_json()
    assert numbers(resp) == [reported.number, closed.number, working.number, archived.number]
    assert body["radius"] == 300 and body["coord_sys"] == "gcj02" and body["closed_days"] == 30
    assert body["origin"] == {"lat": BASE[0], "lng": BASE[1]}
    first, second, third, fourth = body["items"]
    assert set(first) == {"number", "category", "state", "state_label", "phase", "phase_label",
                          "created_on", "distance_m", "place", "lat", "lng", "followers",
                          "following", "own", "photo_url"}  # fmt: skip
    assert (first["category"], first["state_label"], first["phase_label"]) == (
        "待分类", "已上报", "处理中")  # fmt: skip
    assert (second["category"], second["state_label"], second["phase"], second["phase_label"]) == (
        "雨水井盖", "已结案", "closed", "已办结")  # fmt: skip
    assert (third["category"], third["state_label"], third["phase"]) == (
        "暴露垃圾",
        "处置中",
        "open",
    )
    assert fourth["state_label"] == "已归档" and fourth["phase_label"] == "已办结"
    assert [i["distance_m"] for i in body["items"]] == [100, 150, 200, 250]
    assert first["place"] == "测试一区 · 兴华街道"
    assert fourth["place"] == "测试一区 · 兴华街道"  # no region stored: located from its point
    assert (
        first["created_on"]
        == (utcnow() - timedelta(hours=1) + timedelta(hours=8)).date().isoformat()
    )  # the day in 沈阳, nothing finer
    assert first["followers"] == 0 and first["following"] is None  # anonymous caller
    assert first["own"] is None
    # the first report photo's public copy, as a short-lived link that serves the picture
    assert second["photo_url"] is None
    shown = client.get(first["photo_url"])
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    red, green, _ = Image.open(io.BytesIO(shown.data)).convert("RGB").getpixel((5, 5))
    assert green > 150 > red  # the green photo at position 0, not the red one after it


def test_personal_data_never_leaves(client, make_case, make_citizen, auth_header, street):
    reporter = make_citizen("o-private-person")
    reporter.nickname = "张三丰"
    open_case = make_case(north(50), ReportState.REGISTERED, reporter=reporter, photo=True,
                          region=street, attention_note="市民要求重新办理：仍有异味")  # fmt: skip
    closed = make_case(north(60), ReportState.CLOSED, reporter=reporter, closed_days_ago=1,
                       rating=2, rating_comment="处理太慢了，李四不接电话")  # fmt: skip
    for case, note in ((open_case, PRIVATE[3]), (closed, "内部：现场联系人王五")):
        entry = TimelineEntry(
            report_id=case.id,
            action="register",
            actor_kind="staff",
            to_state="registered",
            note=note,
            public_note="已安排人员查看",
        )
        db.session.add(entry)
    db.session.flush()
    for headers in ({}, auth_header(make_citizen("o-viewer"))):
        text = nearby(client, headers=headers).get_data(as_text=True)
        assert len(nearby(client, headers=headers).get_json()["items"]) == 2
        for secret in (*PRIVATE, "张三丰", "o-private-person", "仍有异味", "李四", "王五",
                       "已安排人员查看", "description", "address", "reporter", "phone", "note",
                       "rating"):  # fmt: skip
            assert secret not in text


def test_voided_rejected_merged_suspended_and_old_cases_never_appear(client, make_case):
    shown = make_case(north(10), ReportState.DISPATCHED)
    survivor = make_case(north(40), ReportState.HANDLED)
    for state in (ReportState.VOIDED, ReportState.REJECTED, ReportState.SUSPENDED):
        make_case(north(20), state)
    make_case(north(25), ReportState.MERGED, merged_into_id=survivor.id)
    make_case(north(30), ReportState.CLOSED, closed_days_ago=31)  # past the 30-day window
    make_case(None, ReportState.IN_PROGRESS)  # no point: cannot be placed
    assert numbers(nearby(client)) == [shown.number, survivor.number]


def test_the_closed_window_follows_the_setting(app, client, make_case, monkeypatch):
    recent = make_case(north(10), ReportState.CLOSED, closed_days_ago=2)
    older = make_case(north(20), ReportState.ARCHIVED, closed_days_ago=5)
    assert numbers(nearby(client)) == [recent.number, older.number]
    monkeypatch.setitem(app.config, "PUBLIC_CLOSED_DAYS", 3)
    resp = nearby(client)
    assert numbers(resp) == [recent.number] and resp.get_json()["closed_days"] == 3


def test_radius_default_300_up_to_2000(client, make_case):
    near = make_case(north(290))
    mid = make_case(north(0, east=310))
    far = make_case(north(1990))
    beyond = make_case(north(2050))
    assert numbers(nearby(client)) == [near.number]
    assert numbers(nearby(client, radius=500)) == [near.number, mid.number]
    assert numbers(nearby(client, radius=2000)) == [near.number, mid.number, far.number]
    assert beyond.number not in numbers(nearby(client, radius=2000))
    for bad in ("2001", "0", "abc"):
        resp = client.get(URL, query_string={"lat": BASE[0], "lng": BASE[1], "radius": bad})
        assert resp.status_code == 422
        assert set(error_of(resp)["fields"]) == {"radius"}
    resp = client.get(URL, query_string={"lng": BASE[1], "coord_sys": "mars"})
    assert resp.status_code == 422 and set(error_of(resp)["fields"]) == {"lat", "coord_sys"}


def test_at_most_twenty_nearest(client, make_case):
    made = [make_case(north(10 * i + 5)) for i in range(25)]
    resp = nearby(client)
    assert numbers(resp) == [r.number for r in made[:20]]


def test_the_nearest_twenty_within_a_wide_radius(client, make_case):
    """Searched in growing circles, the answer is still the nearest twenty of the whole one."""
    near = [make_case(north(40 * i + 20)) for i in range(5)]  # 20-180 m
    far = [make_case(north(0, east=600 + 30 * i)) for i in range(30)]  # 600-1470 m
    south = make_case(north(-1900), ReportState.CLOSED, closed_days_ago=1)
    resp = nearby(client, radius=2000)
    assert numbers(resp) == [r.number for r in near + far[:15]]
    distances = [i["distance_m"] for i in resp.get_json()["items"]]
    assert distances == sorted(distances) and abs(distances[-1] - 1020) <= 2
    # fewer than twenty in the circle: everything in it, out to its edge
    assert numbers(nearby(client, radius=1000)) == [r.number for r in near + far[:14]]
    # from 1.8 km south, the closed case 100 m away comes first, then the others within 2 km
    resp = nearby(client, point=north(-1800), radius=2000)
    distances = [i["distance_m"] for i in resp.get_json()["items"]]
    assert numbers(resp)[:2] == [south.number, near[0].number]
    assert distances[:2] == [100, 1820] and distances == sorted(distances)
    assert max(distances) <= 2000 and len(distances) == 1 + 5 + 10  # east up to 870 m: in 2 km


def test_a_browser_position_in_wgs84_is_answered_in_gcj02(client, make_case):
    case = make_case(north(120))
    wgs = from_canonical(*BASE, "wgs84")
    body = nearby(client, point=wgs, coord_sys="wgs84").get_json()
    assert [i["number"] for i in body["items"]] == [case.number]
    assert body["items"][0]["distance_m"] == 120
    assert body["origin"] == pytest.approx({"lat": BASE[0], "lng": BASE[1]}, abs=1e-5)
    assert body["items"][0]["lat"] == pytest.approx(north(120)[0], abs=1e-6)


def test_a_devices_evidence_photo_is_not_public(client, make_case):
    case = make_case(north(10), ReportState.REGISTERED, channel=Channel.MACHINE)
    evidence = media_service.store_upload(jpeg_bytes(), None)  # a camera's: owned by nobody
    case.photos.append(ReportPhoto(media=evidence, stage=PhotoStage.REPORT, position=0))
    db.session.flush()
    assert nearby(client).get_json()["items"][0]["photo_url"] is None


def test_the_query_count_does_not_grow_with_the_cases(client, make_case, make_citizen,
                                                      auth_header):  # fmt: skip
    headers = auth_header(make_citizen("o-counter"))

    def statements() -> int:
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            nearby(client, headers=headers)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    make_case(north(10), photo=True)
    statements()  # warm: the regions are read once per process
    few = statements()
    for i in range(15):
        make_case(north(20 + i), photo=True)
    assert statements() == few


def test_nearby_is_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PUBLIC", "3/minute")
    query = {"lat": BASE[0], "lng": BASE[1]}
    codes = [client.get(URL, query_string=query).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = client.get(URL, query_string=query)
    assert error_of(resp) == {"code": "rate_limited", "message": "操作过于频繁，请稍后再试"}
    assert resp.headers["Retry-After"]


# ---------------------------------------------------------------- 我也遇到了


def follow_url(report) -> str:
    return f"/api/v1/reports/{report.number}/follow"


def test_follow_and_unfollow(client, make_case, make_citizen, auth_header):
    case = make_case(north(30), ReportState.DISPATCHED)
    alice, bob = make_citizen("o-alice"), make_citizen("o-bob")
    as_alice, as_bob = auth_header(alice), auth_header(bob)

    resp = client.post(follow_url(case), headers=as_alice)
    assert resp.status_code == 200
    assert resp.get_json() == {"number": case.number, "following": True, "followers": 1}
    again = client.post(follow_url(case), headers=as_alice)  # idempotent: still one follow
    assert again.get_json() == {"number": case.number, "following": True, "followers": 1}
    assert client.post(follow_url(case), headers=as_bob).get_json()["followers"] == 2
    assert follows.follower_count(case.id) == 2

    item = nearby(client, headers=as_alice).get_json()["items"][0]
    assert (item["followers"], item["following"]) == (2, True)
    item = nearby(client).get_json()["items"][0]
    assert (item["followers"], item["following"]) == (2, None)
    item = nearby(client, headers=auth_header(make_citizen("o-carol"))).get_json()["items"][0]
    assert (item["followers"], item["following"]) == (2, False)

    resp = client.delete(follow_url(case), headers=as_alice)
    assert resp.get_json() == {"number": case.number, "following": False, "followers": 1}
    again = client.delete(follow_url(case), headers=as_alice)
    assert again.status_code == 200 and again.get_json()["followers"] == 1
    assert nearby(client, headers=as_alice).get_json()["items"][0]["following"] is False


def test_following_your_own_case_is_409(client, make_case, make_citizen, auth_header):
    reporter = make_citizen("o-own")
    own = make_case(north(10), reporter=reporter)
    # the list tells the reporter which case is theirs (the page offers no button there)
    item = nearby(client, headers=auth_header(reporter)).get_json()["items"][0]
    assert (item["number"], item["own"], item["following"]) == (own.number, True, False)
    item = nearby(client, headers=auth_header(make_citizen("o-other"))).get_json()["items"][0]
    assert item["own"] is False
    resp = client.post(follow_url(own), headers=auth_header(reporter))
    assert resp.status_code == 409
    assert error_of(resp) == {
        "code": "own_report",
        "message": "这是您本人上报的问题，可在“我的上报”中查看办理进度",
    }
    # a case your own report was merged into is yours to follow in 我的上报 already
    other = make_case(north(20))
    make_case(north(21), ReportState.MERGED, reporter=reporter, merged_into_id=other.id)
    resp = client.post(follow_url(other), headers=auth_header(reporter))
    assert resp.status_code == 409 and error_of(resp)["code"] == "own_report"
    assert "合并办理" in error_of(resp)["message"]
    assert follows.follower_count(own.id) == follows.follower_count(other.id) == 0


def test_only_public_cases_can_be_followed(client, make_case, make_citizen, auth_header):
    headers = auth_header(make_citizen("o-follower"))
    hidden = [
        make_case(north(10), ReportState.VOIDED),
        make_case(north(10), ReportState.REJECTED),
        make_case(north(10), ReportState.SUSPENDED),
        make_case(north(10), ReportState.CLOSED, closed_days_ago=45),
        make_case(None, ReportState.IN_PROGRESS),
    ]
    for case in hidden:
        resp = client.post(follow_url(case), headers=headers)
        assert resp.status_code == 404, case.state
        assert error_of(resp) == {"code": "report_not_found", "message": "未找到该问题"}
    resp = client.post("/api/v1/reports/20990101-999999/follow", headers=headers)
    assert resp.status_code == 404
    assert client.delete(follow_url(hidden[0]), headers=headers).status_code == 404


def test_a_followed_case_that_left_the_list_can_still_be_unfollowed(
    app, client, make_case, make_citizen, auth_header, monkeypatch
):
    case = make_case(north(10), ReportState.CLOSED, closed_days_ago=10)
    headers = auth_header(make_citizen("o-leaver"))
    assert client.post(follow_url(case), headers=headers).status_code == 200
    monkeypatch.setitem(app.config, "PUBLIC_CLOSED_DAYS", 5)  # now past the window
    assert client.post(follow_url(case), headers=headers).status_code == 404
    resp = client.delete(follow_url(case), headers=headers)
    assert resp.status_code == 200 and resp.get_json()["following"] is False


def test_follow_needs_a_citizen(client, make_case, make_staff, auth_header):
    case = make_case(north(10))
    resp = client.post(follow_url(case), json={"ignored": 1})
    assert resp.status_code == 401 and error_of(resp)["code"] == "unauthorized"
    resp = client.post(follow_url(case), headers=auth_header(make_staff("desk")))
    assert resp.status_code == 403 and error_of(resp)["code"] == "citizen_only"
    assert client.delete(follow_url(case)).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(follows.ReportFollow)) == 0


def test_the_spec_documents_the_public_case_api(client):
    spec = client.get("/api/openapi.json").get_json()
    op = spec["paths"]["/api/v1/reports/nearby"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["lat"]["required"] and params["lng"]["required"]
    assert params["radius"]["schema"]["default"] == 300
    assert params["radius"]["schema"]["maximum"] == 2000
    assert {"200", "422", "429"} <= set(op["responses"])
    follow = spec["paths"]["/api/v1/reports/{number}/follow"]
    assert {"200", "401", "404", "409"} <= set(follow["post"]["responses"])
    assert {"200", "401", "404"} <= set(follow["delete"]["responses"])


# ---------------------------------------------------------------- the page and the home entry


def test_the_map_page_is_public_and_on_the_home_grid(client):
    page = client.get("/h5/cases/map")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "身边案件" in html and 'id="cases-map"' in html
    assert '"signedIn": false' in html and "/api/v1/reports/nearby" in html
    assert (
        "/static/reports/h5/cases_map.js" in html and "/static/reports/h5/nearby_cases.js" in html
    )
    home = client.get("/h5/").get_data(as_text=True)
    assert 'id="entry-cases_map" href="/h5/cases/map"' in home
    for script in ("h5/cases_map.js", "h5/nearby_cases.js"):
        assert client.get(f"/static/reports/{script}").status_code == 200
