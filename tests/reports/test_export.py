"""GET /api/v1/staff/reports/export.csv: the queue's filters and scope as a streamed CSV file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from app.audit import AuditLog
from app.extensions import db
from app.geo.models import Region
from reports import export
from reports.export import HEADER
from reports.models import Category, Report, ReportState
from tests.conftest import error_of

URL = "/api/v1/staff/reports/export.csv"
_numbers = count(1)
NOV = datetime(2026, 11, 10, 2, tzinfo=UTC)  # 10:00 in Shenyang


def row(**fields: Any) -> dict[str, Any]:
    """A plain reports row (created 2026-11-10 10:00 local unless told)."""
    created = fields.pop("created_at", NOV)
    base = {"number": f"E{next(_numbers):012d}", "channel": "miniprogram",
            "state": ReportState.DISPATCHED.value, "description": "小区门口雨水井盖破损",
            "lat": 41.80, "lng": 123.35, "coord_sys_in": "gcj02", "created_at": created,
            "updated_at": created, "rework_count": 0, "return_count": 0, "extension_count": 0,
            "version": 1}  # fmt: skip
    nullable = ("reporter_id", "contact_phone", "address", "region_id", "district_code",
                "category_id", "department_id", "registered_at", "dispatched_at", "due_at",
                "handled_at", "closed_at", "rating")  # fmt: skip
    return base | dict.fromkeys(nullable) | fields


def seed(rows: list[dict[str, Any]]) -> None:
    db.session.execute(insert(Report.__table__), rows)
    db.session.flush()


def parse(resp) -> list[list[str]]:
    """The file as the csv module reads it (after the BOM Excel needs)."""
    data = resp.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def cases(city, make_citizen) -> dict[str, Any]:
    """Cases of both districts: dispatched, closed late, and one from October."""
    west_region = db.session.scalar(select(Region).where(Region.code == "T-W"))
    east_region = db.session.scalar(select(Region).where(Region.code == "T-E"))
    manhole = db.session.scalar(select(Category).where(Category.name == "雨水井盖"))
    citizen = make_citizen("o-export-citizen")
    west = {"department_id": city.west.id, "district_code": "T-W", "region_id": west_region.id,
            "category_id": manhole.id}  # fmt: skip
    east = {"department_id": city.east.id, "district_code": "T-E", "region_id": east_region.id}
    due = NOV + timedelta(days=2)
    seed([
        row(number="E-WEST-OPEN", reporter_id=citizen.id, contact_phone="13912345678",
            registered_at=NOV, dispatched_at=NOV, due_at=due, address="铁西区小北一路", **west),
        row(number="E-WEST-LATE", state=ReportState.CLOSED.value, dispatched_at=NOV, due_at=due,
            closed_at=due + timedelta(hours=5), rating=4, **west),
        row(number="E-EAST-OPEN", dispatched_at=NOV, due_at=due, **east),
        row(number="E-WEST-OCT", created_at=datetime(2026, 10, 5, tzinfo=UTC), **west),
    ])  # fmt: skip
    return {"citizen": citizen, "manhole": manhole}


def test_export_is_the_filtered_queue_as_csv(client, city, cases, auth_header):
    headers = auth_header(city.dispatcher)
    query = {"from": "2026-11-01", "to": "2026-11-30"}
    resp = client.get(URL, query_string=query, headers=headers)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "text/csv" and resp.headers["Cache-Control"] == "no-store"
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="cases-')
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("案件导出-")
    rows = parse(resp)
    assert rows[0] == list(HEADER) and rows[0][:2] == ["案件编号", "状态"]
    queue = client.get("/api/v1/staff/reports", query_string=query | {"per_page": 100},
                       headers=headers).get_json()  # fmt: skip
    assert [r[0] for r in rows[1:]] == [i["number"] for i in queue["items"]]
    assert {r[0] for r in rows[1:]} == {"E-WEST-OPEN", "E-WEST-LATE", "E-EAST-OPEN"}


def test_columns_read_as_staff_read_them(client, city, cases, auth_header):
    resp = client.get(URL, query_string={"q": "E-WEST-LATE"}, headers=auth_header(city.dispatcher))
    header, line = parse(resp)
    got = dict(zip(header, line, strict=True))
    assert got["状态"] == "已结案" and got["上报渠道"] == "小程序"
    assert got["问题类别"] == cases["manhole"].full_name and got["区县"] == "测试一区"
    assert got["处置部门"] == "测试一区城管局" and got["上报时间"] == "2026-11-10 10:00:00"
    assert got["是否超期"] == "超期结案" and got["市民评价"] == "4"
    assert got["纬度(GCJ-02)"] == "41.8"


def test_reporter_identity_and_phone_are_never_exported(client, city, cases, auth_header):
    text = client.get(URL, headers=auth_header(city.dispatcher)).get_data(as_text=True)
    assert "E-WEST-OPEN" in text
    assert "13912345678" not in text and "o-export-citizen" not in text
    assert not any("电话" in h or "上报人" in h for h in HEADER)


def test_filters_are_the_queues(client, city, cases, auth_header):
    headers = auth_header(city.dispatcher)

    def numbers(**query) -> set[str]:
        return {r[0] for r in parse(client.get(URL, query_string=query, headers=headers))[1:]}

    assert numbers(district="T-E") == {"E-EAST-OPEN"}
    assert numbers(state="closed") == {"E-WEST-LATE"}
    assert numbers(category=cases["manhole"].code, to="2026-10-31") == {"E-WEST-OCT"}
    assert numbers(department_id=city.east.id) == {"E-EAST-OPEN"}
    bad = client.get(URL, query_string={"state": "lost"}, headers=headers)
    assert bad.status_code == 422 and "state" in bad.get_json()["error"]["fields"]


def test_a_department_exports_its_own_cases_only(client, city, cases, auth_header):
    headers = auth_header(city.east_handler)
    assert {r[0] for r in parse(client.get(URL, headers=headers))[1:]} == {"E-EAST-OPEN"}
    resp = client.get(URL, query_string={"department_id": city.west.id}, headers=headers)
    assert resp.status_code == 403
    assert error_of(resp) == {"code": "out_of_scope",
                                        "message": "只能导出本部门及下级单位的案件"}  # fmt: skip


def test_citizens_and_strangers_cannot_export(client, cases, auth_header):
    resp = client.get(URL, headers=auth_header(cases["citizen"]))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "staff_only"
    assert client.get(URL).status_code == 401


def test_formulas_are_neutralised(client, city, auth_header):
    seed([row(number="E-FORMULA", description='=HYPERLINK("http://evil","点我")',
              address="+86 铁西区", district_code="-1+1"),
          row(number="E-AT", description="@SUM(A1:A9) 井盖", address="\t=1+1")])  # fmt: skip
    rows = parse(client.get(URL, headers=auth_header(city.dispatcher)))
    got = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert got["E-FORMULA"]["问题描述"] == '\'=HYPERLINK("http://evil","点我")'
    assert got["E-FORMULA"]["地址"] == "'+86 铁西区" and got["E-FORMULA"]["区县"] == "'-1+1"
    assert got["E-AT"]["问题描述"] == "'@SUM(A1:A9) 井盖" and got["E-AT"]["地址"] == "'\t=1+1"
    assert got["E-AT"]["经度(GCJ-02)"] == "123.35"  # numbers are left alone


def test_row_cap_is_said_in_a_last_row(client, app, city, auth_header, monkeypatch):
    seed([row() for _ in range(5)])
    monkeypatch.setitem(app.config, "REPORT_EXPORT_MAX_ROWS", 3)
    resp = client.get(URL, headers=auth_header(city.dispatcher))
    rows = parse(resp)
    assert resp.headers["X-Export-Max-Rows"] == "3"
    assert len(rows) == 1 + 3 + 1 and rows[-1][0].startswith("# 仅导出前 3 条")
    monkeypatch.setitem(app.config, "REPORT_EXPORT_MAX_ROWS", 5)
    rows = parse(client.get(URL, headers=auth_header(city.dispatcher)))
    assert len(rows) == 1 + 5 and not rows[-1][0].startswith("#")


def test_the_export_is_audited(client, city, cases, auth_header):
    client.get(URL, query_string={"state": "dispatched", "from": "2026-11-01", "page": 3},
               headers=auth_header(city.dispatcher))  # fmt: skip
    [entry] = db.session.scalars(select(AuditLog).where(AuditLog.action == "report.export"))
    assert entry.actor_staff_id == city.dispatcher.id
    assert entry.detail["filters"] == {"state": "dispatched", "date_from": "2026-11-01"}


def test_an_empty_export_is_just_the_header(client, city, auth_header):
    rows = parse(client.get(URL, headers=auth_header(city.dispatcher)))
    assert rows == [list(HEADER)]


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (RuntimeError("secret internals"), 500, "internal_error"),
        (OperationalError(None, None, Exception("Can't connect to MySQL server")), 503,
         "database_unavailable"),
    ],
)  # fmt: skip
def test_a_failure_before_the_first_byte_is_an_error_in_the_one_shape(
    client, city, cases, auth_header, monkeypatch, failure, status, code
):
    def broken():
        raise failure

    monkeypatch.setattr(export, "Names", broken)
    resp = client.get(URL, headers=auth_header(city.dispatcher))
    assert resp.status_code == status and resp.mimetype == "application/json"
    assert resp.get_json()["error"]["code"] == code
    assert "secret" not in resp.get_data(as_text=True)


def test_a_failure_after_the_first_rows_ends_the_file_saying_so(
    client, city, auth_header, monkeypatch
):
    seed([row(number=f"E-MID-{i}") for i in range(5)])
    monkeypatch.setattr(export, "BATCH", 2)
    calls, csv_row = count(1), export.csv_row

    def fails_on_the_fourth(*args):
        if next(calls) == 4:
            raise RuntimeError("the connection dropped")
        return csv_row(*args)

    monkeypatch.setattr(export, "csv_row", fails_on_the_fourth)
    resp = client.get(URL, headers=auth_header(city.dispatcher))
    assert resp.status_code == 200  # sent with the first piece, before the failure
    rows = parse(resp)
    assert len(rows) == 1 + 2 + 1 and all(r[0].startswith("E-MID-") for r in rows[1:3])
    assert rows[3:] == [["# 导出中断：服务器出错，以上仅为前 2 条，文件不完整，请重新导出"]]
