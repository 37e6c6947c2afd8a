"""CSV (UTF-8 with BOM, Excel-friendly) and XLSX files of leads and the monthly report.

Cells that a spreadsheet would run as a formula are neutralised (reports.export.safe_cell);
reporters are never exported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response
from openpyxl import Workbook

from reports.export import safe_cell
from reports.littering.models import LEAD_LABELS, Lead
from reports.littering.rules import yuan

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LEAD_HEADER = (
    "线索编号",
    "举报编号",
    "车牌号",
    "发生时间",
    "地址",
    "纬度(GCJ-02)",
    "经度(GCJ-02)",
    "区县编码",
    "证据数量",
    "状态",
    "立案编号",
    "罚款(元)",
    "备注",
)
MONTH_HEADER = (
    "月份",
    "收到举报",
    "有效举报",
    "其中重复",
    "获奖举报",
    "奖励金额(元)",
    "已发放(元)",
    "发放笔数",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(value) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def lead_rows(leads: Iterable[Lead]) -> list[tuple]:
    """One row per lead, as people read them."""
    return [
        (
            lead.id,
            lead.report.number,
            lead.plate,
            _local(lead.occurred_at),
            lead.report.address or "",
            lead.report.lat,
            lead.report.lng,
            lead.district_code or "",
            len(lead.report.evidence),
            LEAD_LABELS[lead.state],
            lead.case_number or "",
            yuan(lead.penalty_fen) if lead.penalty_fen else "",
            lead.note or "",
        )
        for lead in leads
    ]


def month_rows(rows: Sequence[dict[str, Any]]) -> list[tuple]:
    """One row per month of the monthly report."""
    return [
        (
            r["month"],
            r["received"],
            r["valid"],
            r["duplicate"],
            r["rewarded"],
            yuan(r["rewarded_fen"]),
            yuan(r["paid_fen"]),
            r["paid_count"],
        )
        for r in rows
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, name: str) -> Response:
    """A CSV or XLSX download of ``rows`` under ``header``."""
    if fmt == "xlsx":
        book = Workbook()
        sheet = book.active
        sheet.append(list(header))
        for row in rows:
            sheet.append([safe_cell(v) for v in row])
        buf = io.BytesIO()
        book.save(buf)
        body, mimetype, ext = buf.getvalue(), XLSX_TYPE, "xlsx"
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        body, mimetype, ext = ("\ufeff" + out.getvalue()).encode(), "text/csv", "csv"
    disposition = f"attachment; filename*=UTF-8''{quote(f'{name}.{ext}')}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


def leads(rows: Iterable[Lead], fmt: str) -> Response:
    """The leads file."""
    return table(LEAD_HEADER, lead_rows(rows), fmt, "车窗抛物违法线索")


def monthly(rows: Sequence[dict[str, Any]], fmt: str, year: str | None) -> Response:
    """The monthly report file."""
    return table(MONTH_HEADER, month_rows(rows), fmt, f"车窗抛物月报{year or ''}")
