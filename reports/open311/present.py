"""What the GeoReport v2 interface shows: services (the active categories), their definitions
(the categories' follow-up questions as attributes), and service requests as the public may see
them.

Which requests: the public cases (``reports.follows``: open, or closed within
PUBLIC_CLOSED_DAYS, with a point) and every request posted through this interface. What of them:
the category, the status (open/closed) and the latest public step of the timeline
(``status_notes``: never a citizen's own words, which only their reporter reads), the responsible
department, the times, the place (district and street, never the address as written), the point
in WGS-84 and the public (blurred) copy of the first photo. The description, the reporter and any
phone number are never shown, as on the public case map (身边案件).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import joinedload

from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.geo import coords, regions
from app.media import privacy
from app.media.models import Media
from reports import follows, questions
from reports.models import (
    OPEN_STATES,
    Category,
    Channel,
    PhotoStage,
    Report,
    ReportPhoto,
    TimelineEntry,
)
from reports.open311.formats import w3c
from reports.open311.models import Open311Request

UNCLASSIFIED = "待分类"
# Steps whose public note is a citizen's own words (a rating, a reopen reason, a comment).
CITIZEN_WORDS = ("rate", "reopen", "comment")
PHOTO_STATES = (*follows.PUBLIC_OPEN_STATES, *follows.PUBLIC_CLOSED_STATES)
STATUSES = ("open", "closed")
MAX_IDS = 100
MAX_SPAN = timedelta(days=90)
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAGE = 100, 500, 1000


# ---------------------------------------------------------------- services


def service_list() -> list[dict[str, Any]]:
    """Every active category as a service, by code."""
    rows = db.session.scalars(
        select(Category).where(Category.is_active.is_(True)).order_by(Category.code)
    )
    return [{"service_code": c.code, "service_name": c.name,
             "description": c.definition or c.full_name, "metadata": bool(c.questions),
             "type": "realtime", "keywords": f"{c.major_name}，{c.name}",
             "group": f"{c.kind}/{c.major_name}"} for c in rows]  # fmt: skip


def service_definition(code: str) -> dict[str, Any]:
    """The category's follow-up questions as the standard's attributes; 404 for no service."""
    category = db.session.scalar(
        select(Category).where(Category.code == code, Category.is_active.is_(True))
    )
    if category is None:
        raise NotFound(f"服务类型不存在：{code}", code="service_not_found")
    return {"service_code": category.code,
            "attributes": [_attribute(q, n) for n, q in
                           enumerate(category.questions or [], start=1)]}  # fmt: skip


def _attribute(question: dict[str, Any], order: int) -> dict[str, Any]:
    """One question: yes/no and choice as a single-value list of its answers, text as string."""
    options = questions.options_of(question)
    out: dict[str, Any] = {
        "variable": True,
        "code": question["key"],
        "datatype": "singlevaluelist" if options else "string",
        "required": bool(question.get("required")),
        "datatype_description": f"请选择：{'、'.join(options)}"
        if options else f"最多{questions.TEXT_MAX}个字",
        "order": order,
        "description": question["label"],
    }  # fmt: skip
    if options:
        out["values"] = [{"key": o, "name": o} for o in options]
    return out


# ---------------------------------------------------------------- service requests


@dataclass(frozen=True)
class RequestFilter:
    """GET requests' filters, checked (``parse_filter``)."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def _listed(raw: str | None, what: str, limit: int) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(i.strip() for i in (raw or "").split(",") if i.strip()))
    if len(items) > limit:
        raise ValidationFailed(fields={what: [f"最多{limit}个"]})
    return items


def _time(raw: str | None, what: str) -> datetime | None:
    """A W3C time (an offset, or Beijing time when it has none), 1900 to 2999."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed(
            fields={what: ["应为 W3C 时间，如 2026-12-01T08:00:00+08:00"]}
        ) from None
    if not 1900 <= value.year <= 2999:
        raise ValidationFailed(fields={what: ["时间应在1900年到2999年之间"]})
    return value if value.tzinfo else value.replace(tzinfo=follows.LOCAL_TZ)


def _int(raw: str | None, what: str, default: int, top: int) -> int:
    if not raw:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= top:
        raise ValidationFailed(fields={what: [f"应为 1 到 {top} 之间的整数"]})
    return int(raw)


def parse_filter(args: Any) -> RequestFilter:
    """The filters of GET requests; 400 naming the parameter. Without ids the period defaults to
    the last 90 days (or 90 days from a start, or up to an end) and may not be longer."""
    statuses = _listed(args.get("status"), "status", len(STATUSES))
    if any(s not in STATUSES for s in statuses):
        raise ValidationFailed(fields={"status": ["应为 open 或 closed（可用逗号分隔）"]})
    start = _time(args.get("start_date"), "start_date")
    end = _time(args.get("end_date"), "end_date")
    if start and end and (end < start or end - start > MAX_SPAN):
        raise ValidationFailed(fields={"end_date": ["应晚于 start_date，且间隔不超过90天"]})
    return RequestFilter(
        ids=_listed(args.get("service_request_id"), "service_request_id", MAX_IDS),
        codes=_listed(args.get("service_code"), "service_code", 200),
        statuses=statuses, start=start, end=end,
        page=_int(args.get("page"), "page", 1, MAX_PAGE),
        page_size=_int(args.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )  # fmt: skip


def visible() -> ColumnElement[bool]:
    """The cases this interface shows: public ones and those posted through it."""
    return or_(follows.listable_clause(), Report.channel == Channel.OPEN311)


def _period(f: RequestFilter, now: datetime) -> tuple[datetime, datetime]:
    if f.start and f.end:
        return f.start, f.end
    if f.start:
        return f.start, min(f.start + MAX_SPAN, max(now, f.start))
    end = f.end or now
    return end - MAX_SPAN, end


def find_requests(f: RequestFilter, now: datetime) -> list[Report]:
    """The visible cases the filter names, newest first, one page. Ids override the others."""
    query = select(Report).where(visible())
    if f.ids:
        query = query.where(Report.number.in_(f.ids))
    else:
        start, end = _period(f, now)
        query = query.where(Report.created_at >= start, Report.created_at <= end)
        if f.codes:
            query = query.join(Category, Category.id == Report.category_id).where(
                Category.code.in_(f.codes))  # fmt: skip
        if f.statuses == ("open",):
            query = query.where(Report.state.in_(OPEN_STATES))
        elif f.statuses == ("closed",):
            query = query.where(Report.state.not_in(OPEN_STATES))
    query = (query.options(joinedload(Report.category), joinedload(Report.department))
             .order_by(Report.id.desc())
             .offset((f.page - 1) * f.page_size).limit(f.page_size))  # fmt: skip
    return list(db.session.scalars(query).unique())


def find_request(number: str) -> Report:
    """One visible case by its number (the service_request_id); 404 otherwise."""
    report = db.session.scalar(
        select(Report).where(Report.number == number, visible())
        .options(joinedload(Report.category), joinedload(Report.department))
    )  # fmt: skip
    if report is None:
        raise NotFound(f"服务请求不存在：{number}", code="request_not_found")
    return report


def by_token(token: str) -> dict[str, Any]:
    """What a token stands for: the request it made (the standard's GET tokens)."""
    number = db.session.scalar(
        select(Report.number).join(Open311Request, Open311Request.report_id == Report.id)
        .where(Open311Request.token == token)
    )  # fmt: skip
    if number is None:
        raise NotFound(f"令牌不存在：{token}", code="token_not_found")
    return {"service_request_id": number, "token": token}


def request_views(reports: list[Report]) -> list[dict[str, Any]]:
    """The public view of each case, with three queries for all of them (notes, photos)."""
    ids = [r.id for r in reports]
    notes, photos = status_notes(ids), public_photos(ids)
    found = regions.snapshot() if any(r.lat is not None for r in reports) else None
    return [_view(r, notes.get(r.id), photos.get(r.id), found) for r in reports]


def _view(report: Report, notes: str | None, photo: str | None, found) -> dict[str, Any]:
    category = report.category
    lat = lng = address = None
    if report.lat is not None:
        lat, lng = coords.from_canonical(report.lat, report.lng, coords.CoordSys.WGS84)
        lat, lng = round(lat, 6), round(lng, 6)
        address = follows.place_label(found, report.region_id, report.lat, report.lng)
    return {
        "service_request_id": report.number,
        "status": "open" if report.state in OPEN_STATES else "closed",
        "status_notes": notes,
        "service_name": category.name if category else UNCLASSIFIED,
        "service_code": category.code if category else None,
        "description": None,  # never published (see the module docstring)
        "agency_responsible": report.department.name if report.department else None,
        "service_notice": f"处置时限{category.time_limit_label}" if category else None,
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(report.updated_at),
        "expected_datetime": w3c(report.due_at),
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lng,
        "media_url": photo,
    }


def status_notes(report_ids: list[int]) -> dict[int, str]:
    """report id -> its latest public step as the public reads it: the department's public reply
    (公开答复) of a handling report, else the step's note; never a citizen's own words."""
    if not report_ids:
        return {}
    rows = db.session.execute(
        select(TimelineEntry.report_id, TimelineEntry.action, TimelineEntry.public_note,
               TimelineEntry.data)
        .where(TimelineEntry.report_id.in_(report_ids), TimelineEntry.is_public.is_(True),
               TimelineEntry.action.not_in(CITIZEN_WORDS))
        .order_by(TimelineEntry.report_id, TimelineEntry.id)
    )  # fmt: skip
    out: dict[int, str] = {}
    for report_id, action, note, data in rows:
        reply = (data or {}).get("public_reply") if action == "feedback" else None
        if reply or note:
            out[report_id] = reply or note
    return out


def public_photos(report_ids: list[int]) -> dict[int, str]:
    """report id -> the URL of the public (blurred) copy of its first report photo, for cases in
    a public state; none until the copy is made (``app.media.privacy``: never the original). A
    device's evidence is never shown; a photo posted through this interface is."""
    if not report_ids:
        return {}
    rows = db.session.execute(
        select(ReportPhoto.report_id, Media)
        .join(Media, Media.id == ReportPhoto.media_id)
        .join(Report, Report.id == ReportPhoto.report_id)
        .where(ReportPhoto.report_id.in_(report_ids), ReportPhoto.stage == PhotoStage.REPORT,
               Report.state.in_(PHOTO_STATES),
               or_(Media.user_id.is_not(None), Media.staff_id.is_not(None),
                   Report.channel == Channel.OPEN311))
        .order_by(ReportPhoto.report_id, ReportPhoto.position, ReportPhoto.id)
    )  # fmt: skip
    out: dict[int, str] = {}
    for report_id, media in rows:
        if report_id not in out and (url := privacy.public_url_if_ready(media)) is not None:
            out[report_id] = url
    return out


def posted_view(req: Open311Request) -> dict[str, Any]:
    """The answer to a POST: the request's id (created at once, so no token is needed; the
    token is given too and resolves to the same id), a notice and no account."""
    category = req.report.category
    notice = f"已受理，处置时限{category.time_limit_label}" if category else "已受理"
    return {"service_request_id": req.report.number, "token": req.token,
            "service_notice": notice, "account_id": None}  # fmt: skip
