"""Public cases (身边案件): which cases anyone may see, the search for those near a point, and
"我也遇到了" (a citizen follows a case someone else reported instead of filing a duplicate).

What the public sees of a case is anonymised: its number, category, state, day, place (district
and street) and first photo, never its description, address, reporter, phone or notes. Open cases
are listed, and closed ones for PUBLIC_CLOSED_DAYS; rejected, voided and merged ones never.

The nearby search reads bounding boxes on ``ix_reports_lat_lng``, filtering, ordering and limiting
in the database, in growing circles until the nearest twenty are found (docs/benchmarks.md,
bench/cases_nearby_bench.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ForeignKey,
    Select,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.models import User
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.extensions import db
from app.geo import coords, regions
from app.media import privacy as media_privacy
from app.media import service as media_service
from app.media.models import Media
from reports.models import Category, PhotoStage, Report, ReportPhoto, ReportState

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Cases still being worked on, from waiting for registration (上报) to waiting for verification
# (issue 14); 挂账 (suspended: parked, nobody works on it) is not listed.
PUBLIC_OPEN_STATES = (ReportState.REPORTED, ReportState.REGISTERED, ReportState.DISPATCHED,
                      ReportState.IN_PROGRESS, ReportState.HANDLED)  # fmt: skip
PUBLIC_CLOSED_STATES = (ReportState.CLOSED, ReportState.ARCHIVED)
PHASE_LABELS = {"open": "处理中", "closed": "已办结"}
UNCLASSIFIED = "待分类"
MAX_ITEMS = 20
DEFAULT_RADIUS_M, MAX_RADIUS_M = 300, 2000
FIRST_STEP_M = 250  # the smallest circle searched first (see _nearest_rows)
# The box is read from this index. Without fresh statistics (SQLite is never ANALYZEd here) a
# planner may prefer the state and closed_at indexes, whose cost grows with every public case of
# the city instead of with the box (docs/benchmarks.md): the state test is written so that no
# index serves it (a CASE), and MariaDB is told the index by name.
NEARBY_INDEX = "ix_reports_lat_lng"
# Metres per degree of latitude on the sphere haversine_m uses; a degree of longitude is this
# times cos(latitude). Over 2 km the flat approximation differs from haversine by centimetres.
M_PER_DEG = math.pi * coords.EARTH_RADIUS_M / 180.0


class ReportFollow(db.Model):
    """A citizen follows a public case ("我也遇到了"); one row per case and citizen."""

    __tablename__ = "report_follows"
    __table_args__ = (UniqueConstraint("report_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- which cases are public


def closed_since(now: datetime | None = None) -> datetime:
    """Cases closed at or after this instant are still shown."""
    days = int(current_app.config["PUBLIC_CLOSED_DAYS"])
    return (now or utcnow()) - timedelta(days=days)


def listable_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL: the case is open, or closed within PUBLIC_CLOSED_DAYS, and has a point."""
    return _listable(closed_since(now))


def _listable(since: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return and_(
        Report.lat.is_not(None),
        or_(
            Report.state.in_(PUBLIC_OPEN_STATES),
            and_(Report.state.in_(PUBLIC_CLOSED_STATES), Report.closed_at >= since),
        ),
    )


def is_listable(report: Report, now: datetime | None = None) -> bool:
    """The same rule for one loaded case."""
    if report.lat is None:
        return False
    if report.state in PUBLIC_OPEN_STATES:
        return True
    return (
        report.state in PUBLIC_CLOSED_STATES
        and report.closed_at is not None
        and report.closed_at >= closed_since(now)
    )


def public_case(number: str) -> Report:
    """A case anyone may see, by number; 404 otherwise (existence is not revealed)."""
    report = db.session.scalar(select(Report).where(Report.number == number))
    if report is None or not is_listable(report):
        raise NotFound("未找到该问题", code="report_not_found")
    return report


# ---------------------------------------------------------------- near a point


@dataclass(frozen=True)
class Box:
    """A circle around a GCJ-02 point and the box around it, in degrees."""

    lat: float
    lng: float
    radius_m: float

    @property
    def m_per_deg_lng(self) -> float:
        return M_PER_DEG * max(math.cos(math.radians(self.lat)), 1e-6)

    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lat, max_lat, min_lng, max_lng), a little larger than the circle."""
        dlat = self.radius_m * 1.001 / M_PER_DEG
        dlng = min(180.0, self.radius_m * 1.001 / self.m_per_deg_lng)
        return self.lat - dlat, self.lat + dlat, self.lng - dlng, self.lng + dlng


def nearby(lat: float, lng: float, radius_m: float, citizen: User | None) -> list[dict[str, Any]]:
    """The public cases within ``radius_m`` of a GCJ-02 point, nearest first (at most
    MAX_ITEMS), as the public sees them; ``following`` and ``own`` (the citizen reported it) are
    None without a signed-in citizen."""
    rows = _nearest_rows(Box(lat, lng, radius_m))
    ids = [row.id for row in rows]
    user_id = citizen.id if citizen is not None else None
    stats = follow_stats(ids, user_id)
    none = (0, None if user_id is None else False)
    photos = first_photos(ids, {row.id for row in rows if user_id and row.reporter_id == user_id})
    found = regions.snapshot()
    return [
        _public_view(row, lat, lng, found, *stats.get(row.id, none), photos.get(row.id))
        | {"own": None if user_id is None else row.reporter_id == user_id}
        for row in rows
    ]


def _nearest_rows(box: Box) -> list[Any]:
    """The nearest public cases in the circle: searched in growing circles (250 m, 500 m ...
    up to the radius), so that a dense neighbourhood, where the nearest twenty lie close by,
    never reads the whole 2 km box (docs/benchmarks.md). Exact: a circle that holds MAX_ITEMS
    cases holds the nearest MAX_ITEMS of any larger one."""
    rows: list[Any] = []
    for radius in search_radii(box.radius_m):
        rows = _rows_within(Box(box.lat, box.lng, radius))
        if len(rows) >= MAX_ITEMS:
            break
    return rows


def search_radii(radius_m: float) -> list[float]:
    """The radius halved while it stays at least FIRST_STEP_M, smallest first."""
    radii = [radius_m]
    while radii[-1] / 2 >= FIRST_STEP_M:
        radii.append(radii[-1] / 2)
    return radii[::-1]


def _rows_within(box: Box) -> list[Any]:
    """One query: the box on ix_reports_lat_lng, the public states, the circle, nearest first."""
    min_lat, max_lat, min_lng, max_lng = box.bounds()
    params = {"lat0": box.lat, "lng0": box.lng, "m_lng": box.m_per_deg_lng,
              "min_lat": min_lat, "max_lat": max_lat, "min_lng": min_lng, "max_lng": max_lng,
              "since": closed_since(), "r2": box.radius_m * box.radius_m}  # fmt: skip
    return list(db.session.execute(_nearest_statement(NEARBY_INDEX), params))


@cache
def _nearest_statement(index: str) -> Select:
    """The case query with its numbers as parameters, built once: building it per request cost
    more than running it (about 3 ms against 0.5 ms on SQLite)."""
    dy = (Report.lat - bindparam("lat0")) * M_PER_DEG
    dx = (Report.lng - bindparam("lng0")) * bindparam("m_lng")
    squared = (dy * dy + dx * dx).label("d2")
    query = (
        select(Report.id, Report.number, Report.state, Report.created_at, Report.lat,
               Report.lng, Report.region_id, Report.reporter_id,
               Category.name.label("category"), squared)
        .outerjoin(Category, Category.id == Report.category_id)
        .where(Report.lat.between(bindparam("min_lat"), bindparam("max_lat")),
               Report.lng.between(bindparam("min_lng"), bindparam("max_lng")),
               case((_listable(bindparam("since")), 1), else_=0) == 1,
               squared <= bindparam("r2"))
        .order_by(squared, Report.id)
        .limit(MAX_ITEMS)
    )  # fmt: skip
    for dialect in ("mysql", "mariadb"):
        query = query.with_hint(Report, f"FORCE INDEX ({index})", dialect)
    return query


def _public_view(row, lat, lng, found, followers, following, photo) -> dict[str, Any]:
    """What anyone may read of one case (never its words, address or people); ``following``
    None for an anonymous caller."""
    phase = "open" if row.state in PUBLIC_OPEN_STATES else "closed"
    return {
        "number": row.number,
        "category": row.category or UNCLASSIFIED,
        "state": row.state.value,
        "state_label": row.state.label,
        "phase": phase,
        "phase_label": PHASE_LABELS[phase],
        "created_on": row.created_at.astimezone(LOCAL_TZ).date(),
        "distance_m": round(coords.haversine_m(lat, lng, row.lat, row.lng)),
        "place": place_label(found, row.region_id, row.lat, row.lng),
        "lat": round(row.lat, 6),
        "lng": round(row.lng, 6),
        "followers": followers,
        "following": following,
        "photo_url": photo,
    }


def place_label(found: regions.Snapshot, region_id: int | None, lat: float, lng: float) -> str:
    """The place people read, "铁西区 · 兴华街道", from the region stored with the case (located
    again only when the case has none, or its region is no longer active)."""
    region = found.by_id.get(region_id) if region_id is not None else None
    region = region or found.locate(lat, lng)
    where = regions.Where(lat, lng, region, found.up(region, "district"),
                          found.up(region, "street"))  # fmt: skip
    return where.label


def first_photos(report_ids: list[int], own: set[int] = frozenset()) -> dict[int, str]:
    """report id -> a short-lived URL of the public copy (faces and plates blurred, a video's
    poster) of its first report photo that has one; none until the worker made it (never the
    original). The viewer's ``own`` cases show their photo as taken, as their case page does.
    A device's evidence (owned by nobody) is for staff only and is never shown."""
    if not report_ids:
        return {}
    rows = db.session.execute(
        select(ReportPhoto.report_id, Media)
        .join(Media, Media.id == ReportPhoto.media_id)
        .where(ReportPhoto.report_id.in_(report_ids), ReportPhoto.stage == PhotoStage.REPORT,
               or_(Media.user_id.is_not(None), Media.staff_id.is_not(None)))
        .order_by(ReportPhoto.report_id, ReportPhoto.position, ReportPhoto.id)
    )  # fmt: skip
    out: dict[int, str] = {}
    for report_id, media in rows:
        if report_id in out:
            continue
        if report_id in own:
            shown = media_service.poster_of(media) if media.kind == "video" else media
            url = media_service.signed_url(shown).url if shown is not None else None
        else:
            url = media_privacy.public_url_if_ready(media)
        if url is not None:
            out[report_id] = url
    return out


# ---------------------------------------------------------------- 我也遇到了


def follower_count(report_id: int) -> int:
    """How many citizens follow a case (for the case's own pages)."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ReportFollow)
            .where(ReportFollow.report_id == report_id)
        )
        or 0
    )


def follow_stats(report_ids: list[int], user_id: int | None) -> dict[int, tuple[int, bool | None]]:
    """report id -> (followers, whether ``user_id`` follows it; None without a user), in one
    query (ids without followers are left out)."""
    if not report_ids:
        return {}
    mine = func.sum(case((ReportFollow.user_id == (user_id or 0), 1), else_=0))
    rows = db.session.execute(
        select(ReportFollow.report_id, func.count(), mine)
        .where(ReportFollow.report_id.in_(report_ids))
        .group_by(ReportFollow.report_id)
    )
    return {rid: (count, None if user_id is None else bool(own)) for rid, count, own in rows}


def is_following(report_id: int, user_id: int) -> bool:
    """True if the citizen follows the case."""
    return db.session.scalar(
        select(ReportFollow.id).where(ReportFollow.report_id == report_id,
                                      ReportFollow.user_id == user_id)
    ) is not None  # fmt: skip


def _check_not_own(report: Report, citizen: User) -> None:
    """409 for the citizen's own case, or one their report was merged into: they already
    follow it in 我的上报."""
    if report.reporter_id == citizen.id:
        raise Conflict("这是您本人上报的问题，可在“我的上报”中查看办理进度", code="own_report")
    merged_in = db.session.scalar(
        select(Report.id).where(Report.merged_into_id == report.id,
                                Report.reporter_id == citizen.id)
    )  # fmt: skip
    if merged_in is not None:
        raise Conflict("您反映的问题已与该问题合并办理，可在“我的上报”中查看办理进度",
                       code="own_report")  # fmt: skip


def follow(report: Report, citizen: User) -> bool:
    """Follow a public case (flushed); False if the citizen already did. A concurrent follow by
    the same citizen hits the unique constraint: the caller treats that as done."""
    _check_not_own(report, citizen)
    if is_following(report.id, citizen.id):
        return False
    db.session.add(ReportFollow(report_id=report.id, user_id=citizen.id))
    db.session.flush()
    log.info("report %s followed by user %s", report.number, citizen.id)
    return True


def unfollow(report: Report, citizen: User) -> bool:
    """Stop following a case (flushed); False if the citizen did not follow it."""
    done = db.session.execute(
        delete(ReportFollow).where(ReportFollow.report_id == report.id,
                                   ReportFollow.user_id == citizen.id)
    )  # fmt: skip
    if done.rowcount:
        log.info("report %s unfollowed by user %s", report.number, citizen.id)
    return bool(done.rowcount)


def followed_case(number: str, citizen: User) -> Report:
    """A case the citizen may stop following: a public one, or one they follow even if it has
    left the public list since (closed long ago); 404 otherwise."""
    report = db.session.scalar(select(Report).where(Report.number == number))
    if report is None or not (is_listable(report) or is_following(report.id, citizen.id)):
        raise NotFound("未找到该问题", code="report_not_found")
    return report


def follow_state(report_id: int, number: str, citizen: User) -> dict[str, Any]:
    """What the follow endpoints answer."""
    return {"number": number, "following": is_following(report_id, citizen.id),
            "followers": follower_count(report_id)}  # fmt: skip
