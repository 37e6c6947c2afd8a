"""The staff queue as written for millions of cases (reports.queries, docs/benchmarks.md "Console
case lists at 1.34 million cases") answers what the plain query did: the same cases in the same
order on every page, whichever way a page is found (a short list read whole and sorted in Python,
a long one counted and paged in SQL); the total exact up to ``COUNT_CAP`` and ``COUNT_CAP + 1``
past it; a date range exact even where ids do not follow creation times; ``q`` finds a case
number at any age and description text in the last ``TEXT_SEARCH_DAYS`` days of the period."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from app.db import utcnow
from app.extensions import db
from app.geo.models import Region
from reports import queries
from reports.models import Attention, Report, ReportState
from tests.console.conftest import login_as

URL = "/api/v1/staff/reports"
LOCAL = ZoneInfo("Asia/Shanghai")
_numbers = count(1)
# The two ways a page is found: every list read whole (short), or none (each counted and paged).
PATHS = pytest.mark.parametrize("small_list", [1000, 0], ids=["read whole", "paged in SQL"])


def row(**fields: Any) -> dict[str, Any]:
    """A plain reports row, created a day ago unless told."""
    created = fields.pop("created_at", utcnow() - timedelta(days=1))
    base = {"number": f"Q{next(_numbers):012d}", "channel": "miniprogram",
            "state": ReportState.DISPATCHED.value, "description": "人行道上有垃圾",
            "lat": 41.80, "lng": 123.35, "coord_sys_in": "gcj02", "created_at": created,
            "updated_at": created, "rework_count": 0, "return_count": 0, "extension_count": 0,
            "version": 1}  # fmt: skip
    nullable = ("department_id", "region_id", "district_code", "category_id", "due_at",
                "attention")  # fmt: skip
    return base | dict.fromkeys(nullable) | fields


def seed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert the rows in this order (ids ascending); each row gets its id."""
    db.session.execute(insert(Report.__table__), rows)
    db.session.flush()
    ids = dict(db.session.execute(select(Report.number, Report.id)).all())
    for r in rows:
        r["id"] = ids[r["number"]]
    return rows


def local_day(moment: datetime) -> str:
    return moment.astimezone(LOCAL).date().isoformat()


@pytest.fixture
def west(city) -> dict[str, Any]:
    region = db.session.scalar(select(Region).where(Region.code == "T-W"))
    return {"department_id": city.west.id, "district_code": "T-W", "region_id": region.id}


@pytest.fixture
def listing(client, city, auth_header):
    """``listing(query, staff=dispatcher) -> every page's numbers, and the totals answered``."""

    def get(query: dict[str, Any], staff=None, per_page: int = 3) -> tuple[list[str], set[int]]:
        headers = auth_header(staff or city.dispatcher)
        numbers, totals, page = [], set(), 1
        while True:
            resp = client.get(URL, query_string=query | {"page": page, "per_page": per_page},
                              headers=headers)  # fmt: skip
            assert resp.status_code == 200, resp.get_json()
            data = resp.get_json()
            totals.add(data["total"])
            numbers += [i["number"] for i in data["items"]]
            if len(data["items"]) < per_page:
                return numbers, totals
            page += 1

    return get


@PATHS
def test_pages_and_totals_match_the_plain_query(listing, west, monkeypatch, small_list):
    """Newest first, page after page, through both ways of finding a page."""
    monkeypatch.setattr(queries, "SMALL_LIST", small_list)
    rows = seed([row(**west) for _ in range(8)] + [row(state="closed") for _ in range(3)])
    numbers, totals = listing({"state": "dispatched"})
    assert numbers == [r["number"] for r in sorted(rows[:8], key=lambda r: -r["id"])]
    assert totals == {8}
    assert listing({})[0] == [r["number"] for r in sorted(rows, key=lambda r: -r["id"])]


@PATHS
def test_the_total_stops_counting_past_the_cap(listing, client, city, auth_header, west,
                                               monkeypatch, small_list):  # fmt: skip
    monkeypatch.setattr(queries, "SMALL_LIST", small_list)
    monkeypatch.setattr(queries, "COUNT_CAP", 5)
    rows = seed([row(**west) for _ in range(7)] + [row(state="closed", **west) for _ in range(5)])
    numbers, totals = listing({"state": "dispatched"})
    assert totals == {6}  # COUNT_CAP + 1: more than five
    assert numbers == [r["number"] for r in sorted(rows[:7], key=lambda r: -r["id"])]
    assert listing({"state": "closed"})[1] == {5}  # exactly the cap: exact
    assert listing({"state": "closed"}, staff=city.east_handler) == ([], {0})
    beyond = client.get(URL, query_string={"state": "dispatched", "page": 9, "per_page": 3},
                        headers=auth_header(city.dispatcher)).get_json()  # fmt: skip
    assert beyond["items"] == [] and beyond["total"] == 6


@PATHS
def test_flagged_cases_first_then_newest(listing, west, monkeypatch, small_list):
    monkeypatch.setattr(queries, "SMALL_LIST", small_list)
    flags = [None, Attention.RETURNED, None, Attention.REOPENED, None, None, Attention.RETURNED]
    rows = seed([row(state="registered", attention=f and f.value, **west) for f in flags])
    expected = sorted(rows, key=lambda r: (r["attention"] is None, -r["id"]))
    assert listing({"state": "registered"})[0] == [r["number"] for r in expected]


@PATHS
def test_overdue_by_due_time_then_newest(listing, west, monkeypatch, small_list):
    monkeypatch.setattr(queries, "SMALL_LIST", small_list)
    now = utcnow().replace(microsecond=0)
    dues = [3, 1, 3, 2, 1, 5]  # hours ago, with ties
    rows = seed([row(due_at=now - timedelta(hours=h), **west) for h in dues]
                + [row(due_at=now + timedelta(hours=2), **west),  # not yet due
                   row(state="handled", due_at=now - timedelta(hours=9), **west)])  # fmt: skip
    expected = sorted(rows[:6], key=lambda r: (r["due_at"], -r["id"]))
    assert listing({"overdue": 1})[0] == [r["number"] for r in expected]


@PATHS
def test_a_date_range_is_exact_where_ids_do_not_follow_creation(listing, west, monkeypatch,
                                                                small_list):  # fmt: skip
    """Ids bound the range only as a shortcut: a case entered late with an early creation time,
    and one entered early with a late one, are still in (or out of) the range by their time."""
    monkeypatch.setattr(queries, "SMALL_LIST", small_list)
    day = datetime(2026, 3, 10, 4, tzinfo=UTC)  # 12:00 in Shenyang
    times = [day, day - timedelta(days=3), day + timedelta(days=1), day + timedelta(days=40),
             day - timedelta(days=30), day + timedelta(hours=2)]  # fmt: skip
    rows = seed([row(created_at=t, **west) for t in times])
    query = {"from": "2026-03-07", "to": "2026-03-11"}
    inside = [r for r in rows if datetime(2026, 3, 6, 16, tzinfo=UTC) <= r["created_at"]
              < datetime(2026, 3, 11, 16, tzinfo=UTC)]  # fmt: skip
    assert listing(query)[0] == [r["number"] for r in sorted(inside, key=lambda r: -r["id"])]
    assert listing({"from": "2026-03-12", "to": "2026-03-20"}) == ([], {0})
    assert listing({"to": "2026-03-09"})[0] == [rows[4]["number"], rows[1]["number"]]


def test_a_case_number_is_found_at_any_age(listing, client, west):
    old = seed([row(created_at=utcnow() - timedelta(days=800), **west)])[0]
    assert listing({"q": old["number"]}) == ([old["number"]], {1})
    assert listing({"q": old["number"], "to": "2020-01-01"}) == ([], {0})  # other filters hold


def test_description_text_is_searched_in_the_last_90_days(listing, west):
    now = utcnow()
    rows = seed([row(description=f"桥下井盖缺失，{d}天前", created_at=now - timedelta(days=d),
                     **west) for d in (1, 30, 89, 91, 400)])  # fmt: skip
    assert queries.TEXT_SEARCH_DAYS == 90
    found, totals = listing({"q": "井盖缺失"})
    assert found == [r["number"] for r in reversed(rows[:3])] and totals == {3}  # newest id first
    # A period in the past: its last 90 days.
    start, end = now - timedelta(days=420), now - timedelta(days=60)
    found, _ = listing({"q": "井盖缺失", "from": local_day(start), "to": local_day(end)})
    # 91 and 89 days ago; 400 days ago is in the period but before its last 90 days.
    assert found == [rows[3]["number"], rows[2]["number"]]
    found, _ = listing({"q": "井盖缺失", "from": local_day(now - timedelta(days=480)),
                        "to": local_day(now - timedelta(days=350))})  # fmt: skip
    assert found == [rows[4]["number"]]  # 400 days ago: in the last 90 days of this period


def test_text_search_keeps_the_queue_filters_and_scope(listing, city, west):
    rows = seed([row(description="占道经营，水果摊", **west),
                 row(description="占道经营，烧烤摊", department_id=city.east.id,
                     district_code="T-E"),
                 row(description="占道经营", state="closed", **west)])  # fmt: skip
    numbers = [r["number"] for r in rows]
    assert listing({"q": "占道经营", "state": "dispatched"})[0] == [numbers[1], numbers[0]]
    assert listing({"q": "占道经营"}, staff=city.west_handler)[0] == [numbers[2], numbers[0]]
    assert listing({"q": "烧烤"}, staff=city.west_handler) == ([], {0})


def test_the_case_list_page_states_the_limits_the_queries_use(client, city):
    login_as(client, city.dispatcher.username)
    html = client.get("/console/cases").get_data(as_text=True)
    limits = json.loads(re.search(r'<script id="case-limits" type="application/json">(.*?)'
                                  r"</script>", html, re.S).group(1))  # fmt: skip
    assert limits == {"count_cap": queries.COUNT_CAP, "text_search_days": queries.TEXT_SEARCH_DAYS}
    note = re.search(r'<p class="muted" id="q-scope">(.*?)</p>', html).group(1)
    assert "完整的案件编号可查任何时间的案件" in note and "最近 90 天" in note


def test_the_console_home_says_more_than_the_cap(client, city, west, monkeypatch):
    """A to-do count past the cap reads "5+" (1万+ at the real cap), not a made-up 6."""
    from reports.pages import more_than

    monkeypatch.setattr(queries, "COUNT_CAP", 5)
    seed([row(state="registered", **west) for _ in range(7)])
    login_as(client, city.dispatcher.username)
    html = client.get("/console/").get_data(as_text=True)
    counts = re.findall(r'<div class="v[^"]*">([^<]*)</div>', html)
    assert "5+" in counts and "6" not in counts and "7" not in counts
    assert more_than(10_000) == "1万+" and more_than(500) == "500+"
