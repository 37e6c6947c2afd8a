"""Report submission: validate, convert the point, classify, route, flag duplicates, dispatch.

Services flush, never commit: the view commits once. A confident classification inside a region
whose department handles the category is registered and dispatched by the system at once;
anything doubtful waits in the dispatcher's triage queue with the reason.

A point outside the city (``app.geo.regions``' one rule) is refused (422, field ``lat``) before
anything is stored when the sender can put it right at once: a citizen on the form or in the
mini-program, a dispatcher taking a hotline call. Patrol findings and devices' detections are
kept and wait in triage ("位置在本市范围外，请核实") for a dispatcher to correct the point.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select, update

from app.auth.models import StaffUser, User
from app.db import utcnow
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.geo import coords, regions
from app.media.models import Media
from reports import questions, reference, timeline, transitions
from reports.models import (
    Channel,
    OutboxMessage,
    PhotoStage,
    Report,
    ReportPhoto,
    ReportState,
    TimelineEntry,
)
from reports.numbers import next_report_number

log = logging.getLogger(__name__)

MAX_PHOTOS = 9
DESCRIPTION_MIN = 5  # characters once surrounding spaces are gone (ReportIn asks for 5 too)
# Channels whose sender can choose another point at once: a point outside the city is refused.
REFUSED_OUTSIDE_CITY = frozenset({Channel.MINIPROGRAM, Channel.MP_H5, Channel.HOTLINE})
OUTSIDE_CITY = "该位置不在本市范围内，请重新选择"


@dataclass
class Submission:
    """What a report carries in, whatever the channel."""

    description: str
    channel: Channel
    lat: float | None = None
    lng: float | None = None
    coord_sys: str = "gcj02"
    address: str | None = None
    category_code: str | None = None
    photo_ids: list[str] = field(default_factory=list)
    shop_id: int | None = None
    idempotency_key: str | None = None
    contact_phone: str | None = None
    machine_confidence: float | None = None
    # A device's detection: the confidence at or above which it is routed without a dispatcher
    # (its algorithm's, reports.detection); None: REPORT_MACHINE_THRESHOLD.
    machine_threshold: float | None = None
    photos_required: bool = True
    # Answers to the chosen category's follow-up questions (reports.questions): key -> answer.
    answers: dict[str, str] | None = None
    # What was sent (``fingerprint()``), kept with the report its idempotency key creates: a
    # key that comes back with other content is refused. None: not checked (devices' events).
    fingerprint: str | None = None


def fingerprint(sub: Submission, upload_digests: Sequence[str] = ()) -> str:
    """A digest of what a submission carries: its fields, the ids of photos uploaded before and
    the SHA-256 of the photos sent with it (a retry sends them again; stored, they would get
    new ids)."""
    content = {
        "channel": sub.channel.value,
        "description": sub.description.strip(),
        "point": [sub.lat, sub.lng, sub.coord_sys] if sub.lat is not None else None,
        "address": (sub.address or "").strip() or None,
        "category": sub.category_code or None,
        "photos": list(sub.photo_ids),
        "uploads": list(upload_digests),
        "shop_id": sub.shop_id,
        "contact_phone": sub.contact_phone or None,
        "answers": sub.answers or None,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scoped_key(sub: Submission, owner: str) -> str | None:
    """Idempotency keys are per submitter, so two people's keys never collide."""
    return f"{owner}:{sub.idempotency_key}" if sub.idempotency_key else None


def find_by_idempotency_key(key: str | None) -> Report | None:
    """The report a retried submission already created."""
    if key is None:
        return None
    # Nearly every key is new: ask for the id alone, and load the report only for a retry.
    found = db.session.scalar(select(Report.id).where(Report.idempotency_key == key))
    return None if found is None else db.session.get(Report, found)


def find_replay(sub: Submission, owner_key: str) -> Report | None:
    """The report this submission's idempotency key already created (a retry), or None; 422
    ``idempotency_key_reused`` if the key created it from other content (as Stripe answers)."""
    report = find_by_idempotency_key(scoped_key(sub, owner_key))
    if report is None or sub.fingerprint is None:
        return report
    first = db.session.scalar(
        select(TimelineEntry.data).where(
            TimelineEntry.report_id == report.id, TimelineEntry.action == "submit"
        )
    )
    stored = (first or {}).get("fingerprint")
    if stored is not None and stored != sub.fingerprint:
        raise ValidationFailed(
            "该请求标识（Idempotency-Key）已用于内容不同的另一次上报；"
            "如需提交新的内容，请刷新页面后重新提交",
            code="idempotency_key_reused",
            fields={"Idempotency-Key": ["已用于内容不同的另一次上报"]},
        )
    return report


def check_description(text: str, channel: Channel) -> str:
    """The description without surrounding spaces; 422 if nothing (or too little) is left."""
    text = text.strip()
    if not text:
        raise ValidationFailed(fields={"description": ["请填写问题描述（不能只有空格）"]})
    if channel != Channel.MACHINE and len(text) < DESCRIPTION_MIN:
        raise ValidationFailed(fields={"description": [f"请用至少{DESCRIPTION_MIN}个字描述问题"]})
    return text


def submit_report(
    sub: Submission, *, owner_key: str, citizen: User | None = None, staff: StaffUser | None = None
) -> tuple[Report, bool]:
    """Create a report (or return the one this idempotency key created); (report, created)."""
    description = check_description(sub.description, sub.channel)
    key = scoped_key(sub, owner_key)
    existing = find_replay(sub, owner_key)
    if existing is not None:
        return existing, False
    check_in_city(sub)
    citizen_category = _citizen_category(sub.category_code)
    answers, urgent = _answers(sub, citizen_category)
    if sub.shop_id is not None:
        from shops.service import shop_for_report  # a shop-bound report (一店一码)

        shop_for_report(sub.shop_id)
    media = _resolve_photos(sub, citizen, staff)
    lat, lng = canonical_point(sub)
    report = Report(
        idempotency_key=key,
        channel=sub.channel,
        state=ReportState.REPORTED,
        reporter=citizen,
        created_by_staff=staff,
        contact_phone=sub.contact_phone,
        description=description,
        address=sub.address,
        lat=lat,
        lng=lng,
        coord_sys_in=sub.coord_sys,
        citizen_category_id=citizen_category.id if citizen_category else None,
        shop_id=sub.shop_id,
        machine_confidence=sub.machine_confidence,
        answers=answers or None,
        urgent=urgent,
    )
    _classify(report, citizen_category)
    _locate(report)
    report.possible_duplicate_of_id = find_possible_duplicate(report)
    report.number = provisional = _provisional_number()  # the day's number comes last
    for position, item in enumerate(media):
        report.photos.append(ReportPhoto(media=item, stage=PhotoStage.REPORT, position=position))
    db.session.add(report)
    db.session.flush()
    timeline.add(report, "submit", None, citizen=citizen, staff=staff,
                 public_note=f"问题已提交（编号{report.number}），等待受理",
                 data={"fingerprint": sub.fingerprint} if sub.fingerprint else None)  # fmt: skip
    _route(report, sub.machine_threshold)
    db.session.flush()
    _take_number(report, provisional)
    log.info("report %s submitted via %s: state=%s triage=%s", report.number,
             report.channel.value, report.state.value, report.triage_reason)  # fmt: skip
    return report, True


def _provisional_number() -> str:
    """A stand-in for the report's number while its rows are written: unique, and unlike any
    real number (those start with the day's date or a channel's prefix letter)."""
    return "~" + secrets.token_hex(8)


def _take_number(report: Report, provisional: str) -> None:
    """Take the day's number and put it where the stand-in was written: the report, the texts of
    its timeline (问题已提交（编号…）) and the notifications queued with it. The counter row stays
    locked from here to the commit, and every submission waits for it, so this is the last
    thing a submission does: a few updates instead of every insert of the report."""
    # The timeline entries are the new report's own collection (the response shows them).
    entries = report.timeline
    number = next_report_number()
    report.number = number
    for entry in entries:
        if entry.public_note and provisional in entry.public_note:
            entry.public_note = entry.public_note.replace(provisional, number)
        if entry.note and provisional in entry.note:
            entry.note = entry.note.replace(provisional, number)
    db.session.flush()
    # The notices queued with it, whoever queued them, in one statement: the stand-in is text
    # that JSON writes as it is (a tilde and hex digits), and so is the number.
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.report_id == report.id)
        .values(payload=func.replace(OutboxMessage.payload, provisional, number))
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    for held in list(db.session.identity_map.values()):
        if isinstance(held, OutboxMessage) and held.report_id == report.id:
            db.session.expire(held, ["payload"])


def _citizen_category(code: str | None):
    if not code:
        return None
    category = reference.category_by_code(code)
    if category is None:
        raise ValidationFailed(fields={"category": [f"问题类别不存在：{code}"]})
    return category


def _answers(sub: Submission, category) -> tuple[list[dict], bool]:
    """The answers to the chosen category's follow-up questions, checked; (kept, urgent)."""
    if category is None:
        if sub.answers:
            raise ValidationFailed(fields={"answers": ["请先选择问题类别，再回答补充问题"]})
        return [], False
    citizen = sub.channel in (Channel.MINIPROGRAM, Channel.MP_H5)
    return questions.answer(category.questions, sub.answers, enforce_required=citizen)


def _resolve_photos(sub: Submission, citizen: User | None, staff: StaffUser | None) -> list[Media]:
    """The submitter's own uploaded photos, in the order given."""
    ids = list(dict.fromkeys(sub.photo_ids))
    if len(ids) > MAX_PHOTOS or (sub.photos_required and not ids):
        raise ValidationFailed(fields={"photos": [f"请上传1至{MAX_PHOTOS}张照片"]})
    if not ids:
        return []
    if citizen is not None:
        owner = Media.user_id == citizen.id
    elif staff is not None:
        owner = Media.staff_id == staff.id
    else:  # a device's evidence, stored just before
        owner = Media.user_id.is_(None) & Media.staff_id.is_(None)
    found = {m.public_id: m for m in db.session.scalars(
        select(Media).where(Media.public_id.in_(ids), owner))}  # fmt: skip
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(fields={"photos": [f"照片不存在或不属于您：{', '.join(missing)}"]})
    return [found[i] for i in ids]


def canonical_point(sub: Submission) -> tuple[float | None, float | None]:
    """The point in GCJ-02 (or none with an address); 422 without either. Any object with
    lat, lng, coord_sys and address will do (车窗抛物 reports use it too)."""
    if sub.lat is None or sub.lng is None:
        if not sub.address:
            raise ValidationFailed(fields={"location": ["请提供位置（经纬度）或详细地址"]})
        return None, None
    try:
        return coords.convert(sub.lat, sub.lng, sub.coord_sys, coords.CANONICAL)
    except ValueError as exc:
        raise ValidationFailed(fields={"location": [str(exc)]}) from None


def check_in_city(sub: Submission) -> None:
    """422 (field ``lat``, code ``outside_city``) when the submission's channel refuses a point
    outside the city and its point lies outside (any other point: nothing to say)."""
    if sub.channel not in REFUSED_OUTSIDE_CITY or sub.lat is None or sub.lng is None:
        return
    lat, lng = canonical_point(sub)
    try:
        regions.where(lat, lng)
    except regions.OutsideCity:
        raise ValidationFailed(OUTSIDE_CITY, code="outside_city",
                               fields={"lat": [OUTSIDE_CITY]}) from None  # fmt: skip


def _classify(report: Report, citizen_category) -> None:
    """Store the model's suggestion; the category is the citizen's choice or a confident guess."""
    # scikit-learn and jieba load on the first classification, not when the module is imported
    from reports import classifier

    suggestions = classifier.get_model(current_app).predict(report.description, k=1)
    if suggestions:
        best = suggestions[0]
        suggested = reference.category_by_code(best.code)
        # Both the id (read before the flush) and the object (so routing need not load it).
        report.suggested_category_id = suggested.id if suggested else None
        report.suggested_category = suggested
        report.suggested_confidence = round(best.confidence, 4)
        if citizen_category is None and suggested and best.confidence >= _threshold():
            report.category_id, report.category = suggested.id, suggested
    if citizen_category is not None:
        report.category_id, report.category = citizen_category.id, citizen_category


def _threshold() -> float:

    return current_app.config["REPORT_CLASSIFIER_THRESHOLD"]


def _locate(report: Report) -> None:
    if report.lat is None:
        return
    report.region_id, report.district_code = regions.region_and_district(report.lat, report.lng)


def find_possible_duplicate(report: Report) -> int | None:
    """An open case of the same category within REPORT_DUPLICATE_RADIUS_M (bbox, then distance);
    asked before the report is inserted, so that the day's number is not locked meanwhile."""
    category_id = report.category_id or report.suggested_category_id
    if report.lat is None or category_id is None:
        return None
    radius = current_app.config["REPORT_DUPLICATE_RADIUS_M"]
    dlat = radius / 111_320
    dlng = radius / (111_320 * max(math.cos(math.radians(report.lat)), 0.01))
    rows = db.session.execute(
        select(Report.id, Report.lat, Report.lng)
        .where(
            Report.id != report.id,
            Report.lat.between(report.lat - dlat, report.lat + dlat),
            Report.lng.between(report.lng - dlng, report.lng + dlng),
            Report.category_id == category_id,
            Report.state.in_([s.value for s in DUPLICATE_STATES]),
        )
        .order_by(Report.id)
    ).all()
    for row_id, lat, lng in rows:
        if coords.haversine_m(report.lat, report.lng, lat, lng) <= radius:
            return row_id
    return None


DUPLICATE_STATES = (
    ReportState.REPORTED,
    ReportState.REGISTERED,
    ReportState.DISPATCHED,
    ReportState.IN_PROGRESS,
    ReportState.HANDLED,
)


def _route(report: Report, machine_threshold: float | None = None) -> None:
    """Dispatch without a human when everything is certain; else say why it waits in triage."""
    reason, department = _triage_reason(report, machine_threshold)
    report.triage_reason = reason
    if reason is None:
        transitions.system_dispatch(report, department)


def _triage_reason(report: Report, machine_threshold: float | None = None):
    if report.lat is None:
        return "no_location", None
    if report.category_id is None:
        return "low_confidence", None
    machine_min = machine_threshold
    if machine_min is None:
        machine_min = current_app.config["REPORT_MACHINE_THRESHOLD"]
    if report.channel == Channel.MACHINE and (report.machine_confidence or 0) < machine_min:
        return "low_confidence", None
    if report.region_id is None:
        return "outside_regions", None
    if report.possible_duplicate_of_id is not None:
        return "possible_duplicate", None
    region = regions.region_by_id(report.region_id)
    department = reference.responsible_department(region, report.category.department_type)
    if department is None:
        return "no_department", None
    return None, department


TRIAGE_LABELS = {
    "no_location": "缺少位置",
    "low_confidence": "类别待确认",
    "outside_regions": "位置在本市范围外，请核实",
    "possible_duplicate": "疑似重复",
    "no_department": "无对应处置部门",
}


def rate_report(report: Report, citizen: User, rating: int, comment: str | None) -> Report:
    """The citizen's satisfaction rating (回访) after closing; once. The rating is claimed by one
    conditional UPDATE, so of several at once (a double tap) exactly one wins and the others
    are told the case was already rated, never a stale-version 500."""
    if report.state not in (ReportState.CLOSED, ReportState.ARCHIVED):
        raise Conflict("案件结案后才能评价", code="not_closed")
    if report.rating is not None:
        raise Conflict("您已评价过该案件", code="already_rated")
    claimed = db.session.execute(
        update(Report)
        .where(Report.id == report.id, Report.rating.is_(None))
        .values(rating=rating, rating_comment=comment, rated_at=utcnow(),
                version=Report.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if not claimed:
        raise Conflict("您已评价过该案件", code="already_rated")
    db.session.refresh(report)  # the row as this UPDATE left it, its new version included
    timeline.add(report, "rate", report.state, citizen=citizen,
                 public_note=f"市民评价：{'★' * rating}", data={"rating": rating})  # fmt: skip
    db.session.flush()
    return report
