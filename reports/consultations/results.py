"""A project's results for staff (per phase: participation by day, each question's tally,
comments by status) and their export as CSV (UTF-8 with BOM) or XLSX.

Exports carry no personal data: a response is named by its number, a comment by its text.
Cells a spreadsheet would run as a formula are neutralised (``reports.export.safe_cell``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response
from openpyxl import Workbook
from sqlalchemy import func, select

from app.extensions import db
from reports.consultations import questions as qs
from reports.consultations.models import (
    PHASE_ORDER,
    ConsultationComment,
    ConsultationPhase,
    ConsultationProject,
    ConsultationResponse,
)
from reports.export import safe_cell

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 366  # the participation chart's days
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUMMARY_HEADER = ("阶段", "题号", "题目", "题型", "选项/星级", "人数", "占比(%)")
LONG_HEADER = ("阶段", "答卷编号", "题号", "题目", "回答", "首次提交时间", "最后修改时间")
COMMENT_HEADER = (
    "阶段",
    "类型",
    "内容",
    "审核状态",
    "提交时间",
    "审核人",
    "审核时间",
    "未通过原因",
)


def _local(at) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if at else ""


def _phases(project: ConsultationProject) -> list[ConsultationPhase]:
    return sorted(project.phases, key=lambda p: PHASE_ORDER.index(p.kind))


def _responses(phase: ConsultationPhase) -> list[ConsultationResponse]:
    """The phase's responses, latest change first."""
    return list(
        db.session.scalars(
            select(ConsultationResponse)
            .where(ConsultationResponse.phase_id == phase.id)
            .order_by(ConsultationResponse.updated_at.desc(), ConsultationResponse.id.desc())
        )
    )


def _comments(project: ConsultationProject) -> list[ConsultationComment]:
    return list(
        db.session.scalars(
            select(ConsultationComment)
            .where(ConsultationComment.project_id == project.id)
            .order_by(ConsultationComment.created_at, ConsultationComment.id)
        )
    )


def _every_day(days: Counter) -> list[dict[str, Any]]:
    """Responses per local day from the first to the last, days without any included (at most
    the last MAX_DAYS)."""
    if not days:
        return []
    last = max(days)
    first = max(min(days), last - timedelta(days=MAX_DAYS - 1))
    span = (last - first).days + 1
    return [
        {"day": (first + timedelta(days=i)).isoformat(), "count": days[first + timedelta(days=i)]}
        for i in range(span)
    ]


def phase_results(phase: ConsultationPhase) -> dict[str, Any]:
    """One phase: responses, participation by local day, each question's tally, comments."""
    rows = _responses(phase)
    days = Counter(r.created_at.astimezone(LOCAL_TZ).date() for r in rows)
    comments = db.session.execute(
        select(ConsultationComment.kind, ConsultationComment.status, func.count())
        .where(ConsultationComment.phase_id == phase.id)
        .group_by(ConsultationComment.kind, ConsultationComment.status)
    ).all()
    return {
        "kind": phase.kind.value,
        "label": phase.kind.label,
        "short": phase.kind.short,
        "responses": len(rows),
        "changed": sum(1 for r in rows if r.changes),
        "by_day": _every_day(days),
        "questions": [
            qs.tally(q, (r.answers.get(q["key"]) for r in rows)) for q in phase.questions
        ],
        "comments": [
            {
                "kind": k.value,
                "kind_label": k.label,
                "status": s.value,
                "status_label": s.label,
                "count": n,
            }
            for k, s, n in comments
        ],
    }


def project_results(project: ConsultationProject) -> dict[str, Any]:
    """Every phase's results, in the phases' order."""
    return {
        "code": project.code,
        "name": project.name,
        "phases": [phase_results(p) for p in _phases(project)],
    }


# ---------------------------------------------------------------- the files


def summary_rows(project: ConsultationProject) -> list[tuple]:
    """One row per option (choices), per star (ratings, then the average), per text question."""
    out: list[tuple] = []
    for phase in _phases(project):
        result = phase_results(phase)
        for number, tally in enumerate(result["questions"], start=1):
            head = (phase.kind.short, number, tally["title"], tally["kind_label"])
            answered = tally["answered"]
            if "options" in tally:
                out += [
                    (*head, o["label"], o["count"], round(o["share"] * 100, 1))
                    for o in tally["options"]
                ]
            elif "distribution" in tally:
                out += [
                    (
                        *head,
                        f"{d['stars']}星",
                        d["count"],
                        round(d["count"] * 100 / answered, 1) if answered else 0.0,
                    )
                    for d in tally["distribution"]
                ]
                out.append((*head, "平均分", tally["average"] or "", ""))
            else:
                out.append((*head, "填写人数", answered, ""))
    return out


def long_rows(project: ConsultationProject) -> list[tuple]:
    """One row per answer: the phase, the response's number, the question and the answer."""
    out: list[tuple] = []
    for phase in _phases(project):
        for r in reversed(_responses(phase)):
            for number, q in enumerate(phase.questions, start=1):
                if q["key"] in r.answers:
                    out.append(
                        (
                            phase.kind.short,
                            r.id,
                            number,
                            q["title"],
                            qs.answer_text(q, r.answers[q["key"]]),
                            _local(r.created_at),
                            _local(r.updated_at),
                        )
                    )
    return out


def wide_sheet(phase: ConsultationPhase) -> tuple[list[str], list[tuple]]:
    """A phase's responses, one row each, one column per question."""
    header = ["答卷编号", "首次提交时间", "最后修改时间"] + [
        f"{n}. {q['title']}" for n, q in enumerate(phase.questions, start=1)
    ]
    rows = [
        (
            r.id,
            _local(r.created_at),
            _local(r.updated_at),
            *(qs.answer_text(q, r.answers.get(q["key"])) for q in phase.questions),
        )
        for r in reversed(_responses(phase))
    ]
    return header, rows


def comment_rows(project: ConsultationProject) -> list[tuple]:
    return [
        (
            c.phase.kind.short,
            c.kind.label,
            c.body,
            c.status.label,
            _local(c.created_at),
            c.moderated_by.display_name if c.moderated_by else "",
            _local(c.moderated_at),
            c.reject_reason or "",
        )
        for c in _comments(project)
    ]


PARTS = {
    "summary": ("汇总", SUMMARY_HEADER, summary_rows),
    "responses": ("答卷", LONG_HEADER, long_rows),
    "comments": ("留言与建议", COMMENT_HEADER, comment_rows),
}


def _download(body: bytes, mimetype: str, name: str) -> Response:
    disposition = f"attachment; filename*=UTF-8''{quote(name)}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def csv_file(project: ConsultationProject, part: str) -> Response:
    """One part (summary, responses, comments) as CSV for Excel (UTF-8 with BOM)."""
    title, header, rows = PARTS[part]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows(project))
    body = ("\ufeff" + out.getvalue()).encode()
    return _download(body, "text/csv", f"{project.name}-{title}.csv")


def _sheet(book: Workbook, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]):
    sheet = book.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        sheet.append([safe_cell(v) for v in row])


def xlsx_file(project: ConsultationProject) -> Response:
    """The workbook: 汇总, one sheet of responses per phase with questions, 留言与建议."""
    book = Workbook()
    book.remove(book.active)
    _sheet(book, "汇总", SUMMARY_HEADER, summary_rows(project))
    for phase in _phases(project):
        if phase.questions:
            header, rows = wide_sheet(phase)
            _sheet(book, f"答卷-{phase.kind.short}", header, rows)
    _sheet(book, "留言与建议", COMMENT_HEADER, comment_rows(project))
    buf = io.BytesIO()
    book.save(buf)
    return _download(buf.getvalue(), XLSX_TYPE, f"{project.name}-征询结果.xlsx")
