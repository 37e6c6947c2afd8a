"""GET /api/v1/stats/cases: the indicators bureaus publish, their periods, groups and scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import insert

from app.auth.models import Role
from app.extensions import db
from reports.models import Category, Region, Report, ReportState

URL = "/api/v1/stats/cases"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30", "as_of": "2026-12-15T00:00:00+08:00"}
_numbers = count(1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def case(registered: datetime | None, **fields: Any) -> dict[str, Any]:
    """A plain row for the reports table: created and registered at ``registered``."""
    created = fields.pop("created_at", registered)
    row = {
        "number": f"T{next(_numbers):012d}", "channel": "miniprogram",
        "state": ReportState.REGISTERED.value, "description": "路面有积水", "lat": 41.8,
        "lng": 123.4, "coord_sys_in": "gcj02", "created_at": created,
        "registered_at": registered, "dispatched_at": None, "due_at": None,
        "handled_at": None, "closed_at": None, "updated_at": created, "rework_count": 0,
        "return_count": 0, "extension_count": 0, "version": 1, "department_id": None,
        "district_code": None, "category_id": None,
    }  # fmt: skip
    row.update(fields)
    return row


def dispatched(registered: datetime, due_days: float, **fields: Any) -> dict[str, Any]:
    """A case dispatched an hour after registration, due ``due_days`` after dispatch."""
    at = registered + timedelta(hours=1)
    base = {"state": ReportState.DISPATCHED.value, "dispatched_at": at,
            "due_at": at + timedelta(days=due_days)}  # fmt: skip
    return case(registered, **{**base, **fields})


def closed(registered: datetime, due_days: float, after_days: float, **fields: Any) -> dict:
    """A case closed ``after_days`` after dispatch (on time when after_days <= due_days)."""
    row = dispatched(registered, due_days, state=ReportState.CLOSED.value, **fields)
    row["handled_at"] = row["closed_at"] = row["dispatched_at"] + timedelta(days=after_days)
    return row


def seed(rows: list[dict[str, Any]]) -> None:
    """Insert plain rows in one executemany (fast enough for half a million cases)."""
    db.session.execute(insert(Report.__table__), rows)
    db.session.flush()


@pytest.fixture
def dispatcher(make_staff, auth_header):
    """A city-wide dispatcher's Authorization header."""
    return auth_header(make_staff("city-dispatcher", (Role.DISPATCHER,)))


@pytest.fixture
def categories(db_session) -> dict[str, Category]:
    """Three categories in two top classes."""
    made = {}
    for code, kind, major, major_name, name in (
        ("BJ0103", "部件", "01", "公用设施", "雨水井盖"),
        ("BJ0110", "部件", "01", "公用设施", "路灯"),
        ("SJ0102", "事件", "01", "市容环境", "暴露垃圾"),
    ):
        made[code] = Category(code=code, kind=kind, major_code=major, major_name=major_name,
                              minor_code=code[-2:], name=name, time_limit=2, time_unit="days",
                              department_type="municipal")  # fmt: skip
        db.session.add(made[code])
    db.session.flush()
    return made


def get_stats(client, headers, **params) -> dict[str, Any]:
    query = {k: v for k, v in {**NOVEMBER, **params}.items() if v is not None}
    resp = client.get(URL, query_string=query, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# --- Xiangtan's published figures ------------------------------------------------------------


def xiangtan_rows() -> list[dict[str, Any]]:
    """557,939 cases registered in March 2025, built so that our definitions give Xiangtan's
    published figures. Xiangtan's 派遣率 99.92% is 557,471 / 557,939: over every accepted case,
    so here every accepted case is registered (受理数 = 立案数) and 468 wait for dispatch.
    Of the 557,471 dispatched, 552,779 are closed, 4,500 are past their deadline and open
    (应结案数 557,279 = 552,779 + 4,500), 192 are within their deadline."""
    t0 = utc(2025, 3, 1, 1)
    plan = [(552_779, "closed"), (4_500, "overdue"), (192, "running"), (468, "waiting")]
    rows: list[dict[str, Any]] = []
    for n, kind in plan:
        for _ in range(n):
            registered = t0 + timedelta(seconds=4 * len(rows))  # spread over ~26 days
            if kind == "closed":
                rows.append(closed(registered, 5, 1))
            elif kind == "overdue":
                rows.append(dispatched(registered, 2))
            elif kind == "running":
                rows.append(dispatched(registered, 400))
            else:
                rows.append(case(registered))
    return rows


def test_reproduces_xiangtans_published_figures(client, dispatcher):
    seed(xiangtan_rows())
    body = get_stats(client, dispatcher, **{"from": "2025-03-01", "to": "2025-03-31",
                                             "as_of": "2025-06-01T00:00:00+08:00"})  # fmt: skip
    totals = body["totals"]
    assert totals["accepted"] == 557_939
    assert totals["registered"] == 557_939
    assert totals["dispatched"] == 557_471
    assert totals["dispatch_rate"] == 99.92
    assert totals["due"] == 557_279
    assert totals["closed"] == 552_779
    # Published "99.20%": 552,779 / 557,279 is 99.1925%, i.e. 99.2% to one decimal; to two
    # decimals, as this API answers, it is 99.19%.
    assert totals["closure_rate"] == 99.19
    assert totals["overdue_open"] == 4_500


# --- each indicator on hand-made cases --------------------------------------------------------


def test_every_indicator_on_hand_made_cases(client, dispatcher):
    d = utc(2026, 11, 10, 2)
    seed([
        closed(d, 5, 1),  # closed on time
        closed(d, 5, 1, state=ReportState.ARCHIVED.value, rework_count=1),  # archived, reworked
        closed(d, 2, 3, extension_count=1),  # closed late, had an extension
        dispatched(d, 2, extension_count=2),  # overdue and open (as of Dec 15)
        dispatched(d, 2, state=ReportState.HANDLED.value, handled_at=d + timedelta(days=1)),
        dispatched(d, 60),  # still within its deadline
        dispatched(d, 2, state=ReportState.SUSPENDED.value),  # suspended past its deadline
        case(d),  # registered, waiting for dispatch
        case(None, created_at=d, state=ReportState.REPORTED.value),  # accepted, not registered
        case(None, created_at=d, state=ReportState.REJECTED.value),  # accepted, never a case
        case(d, state=ReportState.VOIDED.value),  # accepted, voided: out of the cohort
        case(d, state=ReportState.MERGED.value),  # a duplicate: not counted at all
        closed(d, 5, 1, created_at=d - timedelta(days=30)),  # reported in October
    ])  # fmt: skip
    totals = get_stats(client, dispatcher)["totals"]
    assert totals == {
        "accepted": 11, "registered": 9, "dispatched": 8, "dispatch_rate": 88.89,
        "disposed": 5, "disposal_rate": 62.5, "due": 7, "closed": 4, "closure_rate": 57.14,
        "closed_on_time": 3, "on_time_rate": 42.86, "reworked": 1, "rework_rate": 25.0,
        "extended": 2, "extension_rate": 25.0, "overdue_open": 3,
    }  # fmt: skip


def test_as_of_counts_only_what_had_happened(client, dispatcher):
    d = utc(2026, 11, 10, 2)
    seed([closed(d, 5, 10), dispatched(d, 3)])  # closed Nov 20 (late); due Nov 13
    early = get_stats(client, dispatcher, as_of="2026-11-12T00:00:00+08:00")["totals"]
    late = get_stats(client, dispatcher)["totals"]
    assert (early["due"], early["closed"], early["overdue_open"]) == (0, 0, 0)
    assert early["closure_rate"] is None and early["on_time_rate"] is None
    assert (late["due"], late["closed"], late["overdue_open"]) == (2, 1, 1)


def test_empty_period_gives_zeros_and_null_rates(client, dispatcher):
    body = get_stats(client, dispatcher)
    assert body["totals"]["accepted"] == 0 and body["totals"]["registered"] == 0
    rates = ("dispatch_rate", "disposal_rate", "closure_rate", "on_time_rate", "rework_rate",
             "extension_rate")  # fmt: skip
    assert all(body["totals"][r] is None for r in rates)
    assert body["groups"] == [] and body["top_categories"] == []


# --- periods in Asia/Shanghai ----------------------------------------------------------------


def test_period_boundaries_are_shanghai_local_days(client, dispatcher):
    seed([
        case(utc(2026, 10, 31, 15, 59)),  # 2026-10-31 23:59 local: October
        case(utc(2026, 10, 31, 16, 0)),  # 2026-11-01 00:00 local: November
        case(utc(2026, 11, 30, 15, 30)),  # 2026-11-30 23:30 local: November
        case(utc(2026, 11, 30, 16, 0)),  # 2026-12-01 00:00 local: December
    ])  # fmt: skip
    body = get_stats(client, dispatcher)
    assert body["totals"]["registered"] == 2
    assert body["period"]["start"] == "2026-11-01T00:00:00+08:00"
    assert body["period"]["end"] == "2026-12-01T00:00:00+08:00"
    days = get_stats(client, dispatcher, group_by="day")["groups"]
    assert [(g["key"], g["registered"]) for g in days] == [("2026-11-01", 1), ("2026-11-30", 1)]
    single = get_stats(client, dispatcher, **{"from": "2026-12-01", "to": "2026-12-01"})
    assert single["totals"]["registered"] == 1


def test_default_period_is_the_current_month(client, dispatcher):
    body = get_stats(client, dispatcher, **{"from": None, "to": None, "as_of": None})
    today = datetime.now(UTC) + timedelta(hours=8)
    assert body["period"]["from"] == today.strftime("%Y-%m-01")
    assert body["period"]["to"][:7] == today.strftime("%Y-%m")


# --- groups ----------------------------------------------------------------------------------


def test_group_by_department_district_category_and_channel(
    client, dispatcher, make_department, categories
):
    city = make_department("XT", "湘潭市城市管理和综合执法局")
    yuhu = make_department("XT-YH", "雨湖区城管局", parent=city)
    db.session.add(Region(code="430302", name="雨湖区", level="district", geometry={},
                          min_lat=0, min_lng=0, max_lat=1, max_lng=1, area_m2=1))  # fmt: skip
    d, rain, trash = utc(2026, 11, 5, 3), categories["BJ0103"].id, categories["SJ0102"].id
    seed([
        closed(d, 5, 1, department_id=yuhu.id, district_code="430302", category_id=rain),
        dispatched(d, 1, department_id=yuhu.id, district_code="430302", category_id=trash,
                   channel="hotline"),
        case(d, category_id=trash, channel="hotline"),
    ])  # fmt: skip
    by_dept = get_stats(client, dispatcher, group_by="department")["groups"]
    assert [(g["label"], g["registered"], g["closed"]) for g in by_dept] == [
        ("雨湖区城管局", 2, 1), ("未派遣", 1, 0)]  # fmt: skip
    by_district = get_stats(client, dispatcher, group_by="district")["groups"]
    assert [(g["key"], g["label"], g["accepted"]) for g in by_district] == [
        ("430302", "雨湖区", 2), (None, "未定位", 1)]  # fmt: skip
    by_cat = get_stats(client, dispatcher, group_by="category")["groups"]
    assert [(g["label"], g["accepted"], g["dispatch_rate"]) for g in by_cat] == [
        ("事件/市容环境/暴露垃圾", 2, 50.0), ("部件/公用设施/雨水井盖", 1, 100.0)]  # fmt: skip
    by_major = get_stats(client, dispatcher, group_by="major_category")["groups"]
    assert [(g["key"], g["label"]) for g in by_major] == [("事件/01", "事件/市容环境"),
                                                          ("部件/01", "部件/公用设施")]  # fmt: skip
    by_channel = get_stats(client, dispatcher, group_by="channel")["groups"]
    assert [(g["label"], g["accepted"]) for g in by_channel] == [("热线", 2), ("小程序", 1)]


def test_group_by_month_and_top_categories(client, dispatcher, categories):
    rain, lamp = categories["BJ0103"].id, categories["BJ0110"].id
    seed([case(utc(2026, 10, 5), category_id=rain), case(utc(2026, 11, 5), category_id=rain),
          case(utc(2026, 11, 6), category_id=rain), case(utc(2026, 11, 7), category_id=lamp),
          case(utc(2026, 11, 8))])  # fmt: skip
    months = get_stats(client, dispatcher, group_by="month", **{"from": "2026-10-01"})["groups"]
    assert [(g["key"], g["label"], g["accepted"]) for g in months] == [
        ("2026-10", "2026年10月", 1), ("2026-11", "2026年11月", 4)]  # fmt: skip
    top = get_stats(client, dispatcher)["top_categories"]
    assert [(t["code"], t["accepted"], t["share"]) for t in top] == [
        ("BJ0103", 2, 50.0), ("BJ0110", 1, 25.0)]  # fmt: skip


def test_category_and_district_filters(client, dispatcher, categories):
    d = utc(2026, 11, 5)
    seed([case(d, category_id=categories["BJ0103"].id, district_code="430302"),
          case(d, category_id=categories["BJ0110"].id, district_code="430304")])  # fmt: skip
    assert get_stats(client, dispatcher, category="BJ0103")["totals"]["accepted"] == 1
    assert get_stats(client, dispatcher, district="430304")["totals"]["registered"] == 1


# --- who may see what ------------------------------------------------------------------------


def test_handler_sees_only_their_department_subtree(
    client, make_department, make_staff, auth_header
):
    city = make_department("XT", "湘潭市城市管理和综合执法局")
    yuhu = make_department("XT-YH", "雨湖区城管局", parent=city)
    street = make_department("XT-YH-CP", "城正街街道", parent=yuhu)
    yuetang = make_department("XT-YT", "岳塘区城管局", parent=city)
    d = utc(2026, 11, 5)
    seed([dispatched(d, 2, department_id=yuhu.id), dispatched(d, 2, department_id=street.id),
          dispatched(d, 2, department_id=yuetang.id), case(d)])  # fmt: skip
    handler = auth_header(make_staff("yuhu-handler", (Role.HANDLER,), department=yuhu))
    body = get_stats(client, handler, group_by="department")
    assert body["totals"]["registered"] == 2
    assert {g["label"] for g in body["groups"]} == {"雨湖区城管局", "城正街街道"}
    assert get_stats(client, handler, department_id=street.id)["totals"]["registered"] == 1
    resp = client.get(URL, query_string={**NOVEMBER, "department_id": yuetang.id},
                      headers=handler)  # fmt: skip
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"


def test_needs_a_staff_token(client, make_citizen, auth_header):
    resp = client.get(URL)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    resp = client.get(URL, headers=auth_header(make_citizen()))
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "from"),
        ({"group_by": "weekday"}, "group_by"),
        ({"category": "XX9999"}, "category"),
        ({"department_id": 999999}, "department_id"),
        ({"from": "2020-01-01", "to": "2026-11-30"}, "to"),
    ],
)
def test_bad_arguments_are_422_with_the_field(client, dispatcher, params, field):
    resp = client.get(URL, query_string={**NOVEMBER, **params}, headers=dispatcher)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["fields"]
