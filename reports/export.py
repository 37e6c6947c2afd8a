"""CSV export of the staff case list: the queue's filters and scope, streamed, Excel-friendly.

GET /api/v1/staff/reports/export.csv takes exactly the query string of GET /api/v1/staff/reports
(reports.schemas.QueueArgs, built by reports.queries.queue_query), so a link from the filtered
list exports what the list shows, in the same order, across every page. Rows are streamed in
batches (``yield_per``): the table is never held in memory. Cells that a spreadsheet would run as
a formula are neutralised; the reporter's identity and phone are never exported.

The first piece (header and first batch) is made before the response starts, so a failure there
is an error response in the one JSON shape; a failure after it cannot change the status any
more, so the file ends with a line saying it is incomplete rather than stopping silently.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, current_app, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import Select, select

from app import audit
from app.apispec import document_errors
from app.auth import scope
from app.auth.current import staff_required
from app.auth.models import Department, StaffUser
from app.db import commit, utcnow
from app.errors import Forbidden
from app.extensions import db
from app.geo.models import Region
from reports import queries
from reports.models import CHANNEL_LABELS, OPEN_STATES, Category, Report, ReportState
from reports.schemas import QueueArgs

log = logging.getLogger(__name__)

blp = Blueprint("reports_export", __name__, url_prefix="/api/v1/staff/reports",
                description="案件导出（工作人员）")  # fmt: skip

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
BATCH = 1000
CAP_NOTE = "# 仅导出前 {} 条，结果不完整，请缩小筛选范围后分批导出"
INTERRUPTED_NOTE = "# 导出中断：服务器出错，以上仅为前 {} 条，文件不完整，请重新导出"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("案件编号", "状态", "上报渠道", "问题类别", "类别编码", "问题描述", "区县", "街道/区域",
          "地址", "纬度(GCJ-02)", "经度(GCJ-02)", "处置部门", "上报时间", "立案时间", "派遣时间",
          "应结时间", "处置完成时间", "结案时间", "是否超期", "返工次数", "延期次数",
          "市民评价")  # fmt: skip
COLUMNS = (Report.number, Report.state, Report.channel, Report.category_id, Report.description,
           Report.district_code, Report.region_id, Report.address, Report.lat, Report.lng,
           Report.department_id, Report.created_at, Report.registered_at, Report.dispatched_at,
           Report.due_at, Report.handled_at, Report.closed_at, Report.rework_count,
           Report.extension_count, Report.rating)  # fmt: skip
FILTER_KEYS = ("state", "department_id", "district", "category", "channel", "overdue", "triage",
               "q", "date_from", "date_to")  # fmt: skip


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _overdue(state: ReportState, due_at, closed_at, now: datetime) -> str:
    """超期未结 (open past its deadline, as in the queue), 超期结案 (closed after it), or 否."""
    if due_at is None:
        return ""
    if state in OPEN_STATES and state != ReportState.HANDLED and now > due_at:
        return "超期未结"
    if closed_at is not None and closed_at > due_at:
        return "超期结案"
    return "否"


class Names:
    """Names of the small reference tables, read once per export (no join, no lazy load)."""

    def __init__(self) -> None:
        categories = db.session.scalars(select(Category))
        self.categories = {c.id: (c.full_name, c.code) for c in categories}
        self.departments = dict(db.session.execute(select(Department.id, Department.name)).all())
        regions = db.session.execute(select(Region.id, Region.code, Region.name)).all()
        self.regions = {rid: name for rid, _, name in regions}
        self.region_codes = {code: name for _, code, name in regions}


def csv_row(r: Any, names: Names, now: datetime) -> list[Any]:
    """One case as the header's columns."""
    category, code = names.categories.get(r.category_id, ("", ""))
    return [safe_cell(v) for v in (
        r.number, r.state.label, CHANNEL_LABELS.get(r.channel, str(r.channel)), category, code,
        r.description, names.region_codes.get(r.district_code, r.district_code or ""),
        names.regions.get(r.region_id, ""), r.address or "", r.lat, r.lng,
        names.departments.get(r.department_id, ""), _local(r.created_at),
        _local(r.registered_at), _local(r.dispatched_at), _local(r.due_at), _local(r.handled_at),
        _local(r.closed_at), _overdue(r.state, r.due_at, r.closed_at, now), r.rework_count,
        r.extension_count, r.rating if r.rating is not None else "",
    )]  # fmt: skip


def csv_chunks(query: Select, max_rows: int) -> Iterator[bytes]:
    """The file in pieces: BOM and header, then a batch of rows at a time; a final comment row
    says so if the cap cut the list short, or if a failure after the first piece ended it (a
    failure before it is raised: nothing has been sent yet)."""
    names, now = Names(), utcnow()
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(HEADER)
    stmt = query.with_only_columns(*COLUMNS).limit(max_rows + 1)
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    written = sent = 0
    started = False
    try:
        for batch in result.partitions():
            for row in batch:
                if written == max_rows:  # the extra row fetched: there is more than the cap
                    writer.writerow([CAP_NOTE.format(max_rows)])
                    break
                writer.writerow(csv_row(row, names, now))
                written += 1
            yield buf.getvalue().encode("utf-8")
            started, sent = True, written
            buf.seek(0)
            buf.truncate()
    except Exception:
        if not started:
            raise
        log.exception("case export failed after %d rows", sent)
        buf.seek(0)
        buf.truncate()
        writer.writerow([INTERRUPTED_NOTE.format(sent)])
        yield buf.getvalue().encode("utf-8")  # before closing the result, which may fail too
        return
    finally:
        result.close()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def started_stream(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces, the first one made now: a failure before any byte is sent is raised here,
    in the view, and answered as an error."""
    first = next(pieces, b"")

    def stream() -> Iterator[bytes]:
        yield first
        yield from pieces

    return stream()


def content_disposition(today: str) -> str:
    """An ASCII name for old clients and the Chinese one (RFC 5987 ``filename*``)."""
    return (f'attachment; filename="cases-{today}.csv"; '
            f"filename*=UTF-8''{quote(f'案件导出-{today}.csv')}")  # fmt: skip


def _audit_filters(args: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in args.items() if k in FILTER_KEYS and v not in (None, "", False)}
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in kept.items()}


@blp.route("/export.csv")
class CaseExport(MethodView):
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, description="CSV, UTF-8 with BOM: one row per case, Chinese header")
    @document_errors(blp, 401, 403, 422)
    @staff_required()
    def get(self, args: dict[str, Any], staff: StaffUser):
        """The filtered case list as CSV: the filters, order and scope of GET
        /api/v1/staff/reports (``page``/``per_page`` ignored), at most 200,000 rows (a last
        row says when the list was cut). A department outside the account's scope is 403.
        Audited."""
        wanted = args.get("department_id")
        if wanted and not scope.covers(staff, department_id=wanted):
            raise Forbidden("只能导出本部门及下级单位的案件", code="out_of_scope")
        query = queries.queue_query(staff, args)
        max_rows = int(current_app.config["REPORT_EXPORT_MAX_ROWS"])
        audit.record("report.export", "report", "csv", actor=staff,
                     filters=_audit_filters(args), max_rows=max_rows)  # fmt: skip
        commit()
        today = datetime.now(UTC).astimezone(LOCAL_TZ).strftime("%Y%m%d")
        headers = {"Content-Disposition": content_disposition(today), "Cache-Control": "no-store",
                   "X-Export-Max-Rows": str(max_rows)}  # fmt: skip
        body = stream_with_context(started_stream(csv_chunks(query, max_rows)))
        return Response(body, mimetype="text/csv", headers=headers)
