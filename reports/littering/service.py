"""车窗抛物 reports: submission, review (valid / invalid / duplicate), leads, what citizens see.

Services flush, never commit: the view commits once. Review decisions take the current rule's
lock (see rules.py), so the first-reporter rule, the caps and the budget hold under concurrent
reviewers. Other features call this module (and ledger/payouts) only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app import audit
from app.auth.models import StaffUser, User
from app.db import check_version, flush_versioned, utcnow
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.geo import coords, regions
from app.media.models import Media
from app.storage import StorageError, get_storage
from reports import service as reports_service
from reports.littering import ledger, notices, ocr, plates, rules, signals
from reports.littering.models import (
    INVALID_REASONS,
    EntryState,
    Evidence,
    Lead,
    LeadState,
    LitteringNumberSequence,
    LitteringReport,
    LitteringState,
    PayoutState,
)
from reports.numbers import next_report_number

log = logging.getLogger(__name__)

MIN_PHOTOS, MAX_PHOTOS = 2, 9
OCR_MAX_IMAGES = 3
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass
class Submission:
    """What a littering report carries in."""

    plate: str
    plate_colour: str
    occurred_at: datetime
    media_ids: list[str] = field(default_factory=list)
    lat: float | None = None
    lng: float | None = None
    coord_sys: str = "gcj02"
    address: str | None = None
    vehicle_type: str | None = None
    vehicle_colour: str | None = None
    description: str | None = None
    payee_name: str | None = None
    device_id: str | None = None
    client_ip: str | None = None
    idempotency_key: str | None = None


def find_by_key(key: str | None) -> LitteringReport | None:
    """The report a retried submission already created."""
    if key is None:
        return None
    return db.session.scalar(select(LitteringReport).where(LitteringReport.idempotency_key == key))


def scoped_key(citizen: User, key: str | None) -> str | None:
    """Idempotency keys are per citizen, so two people's keys never collide."""
    return f"user:{citizen.id}:{key}" if key else None


def submit(sub: Submission, citizen: User) -> tuple[LitteringReport, bool]:
    """Validate and store a report with its evidence; (report, created)."""
    key = scoped_key(citizen, sub.idempotency_key)
    existing = find_by_key(key)
    if existing is not None:
        return existing, False
    check = plates.check_plate(sub.plate, sub.plate_colour)
    if not check.ok:
        raise ValidationFailed(fields={"plate": [check.error]})
    rule = rules.current_rule()
    _check_time(sub.occurred_at, rule.deadline_hours)
    media = _evidence(sub.media_ids, citizen)
    lat, lng = reports_service.canonical_point(sub)
    report = LitteringReport(
        number=next_report_number(sequence=LitteringNumberSequence, prefix="CC"),
        idempotency_key=key,
        reporter=citizen,
        device_id=sub.device_id,
        client_ip=sub.client_ip,
        plate=check.normalized,
        plate_colour=sub.plate_colour,
        vehicle_type=sub.vehicle_type,
        vehicle_colour=sub.vehicle_colour,
        occurred_at=sub.occurred_at,
        lat=lat,
        lng=lng,
        coord_sys_in=sub.coord_sys,
        address=sub.address,
        description=sub.description,
        payee_name=sub.payee_name,
        state=LitteringState.PENDING,
    )
    _locate(report)
    for position, item in enumerate(media):
        report.evidence.append(Evidence(media=item, position=position))
    report.ocr_suggestions = suggest_for_media(media)
    db.session.add(report)
    db.session.flush()
    report.signals = signals.compute(report)
    if not in_area(report, rule):
        report.signals.append({"code": "outside_area", "label": "不在奖励范围内"})
    db.session.flush()
    log.info("littering report %s submitted by user %s", report.number, citizen.id)
    return report, True


def _check_time(occurred_at: datetime, deadline_hours: int) -> None:
    now = utcnow()
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(fields={"occurred_at": ["发生时间不能晚于当前时间"]})
    if occurred_at < now - timedelta(hours=deadline_hours):
        raise ValidationFailed(
            fields={"occurred_at": [f"已超过举报时限：请在事发{deadline_hours}小时内举报"]}
        )


def owned_media(ids: list[str], citizen: User) -> list[Media]:
    """This citizen's uploads, in the order given (each once); 422 naming any that are not."""
    ids = list(dict.fromkeys(ids))
    found = {
        m.public_id: m
        for m in db.session.scalars(
            select(Media).where(Media.public_id.in_(ids), Media.user_id == citizen.id)
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(fields={"media": [f"文件不存在或不属于您：{', '.join(missing)}"]})
    return [found[i] for i in ids]


def _evidence(ids: list[str], citizen: User) -> list[Media]:
    """2-9 photos or one video, uploaded by this citizen, in the order given."""
    items = owned_media(ids, citizen)
    videos = [m for m in items if m.kind == "video"]
    if videos:
        if len(items) != 1:
            raise ValidationFailed(fields={"media": ["视频证据只能上传1段，且不能与照片混合"]})
        return items
    if not MIN_PHOTOS <= len(items) <= MAX_PHOTOS:
        raise ValidationFailed(
            fields={"media": [f"请上传{MIN_PHOTOS}至{MAX_PHOTOS}张照片，或1段10秒以内的视频"]}
        )
    return items


def _locate(report: LitteringReport) -> None:
    if report.lat is None:
        return
    report.region_id, report.district_code = regions.region_and_district(report.lat, report.lng)


def in_area(report: LitteringReport, rule) -> bool:
    """True if the report's place is inside the programme's regions (an address-only report
    counts as inside: the reviewer judges it)."""
    if report.lat is None:
        return True
    if report.region_id is None:
        return False
    if not rule.region_codes:
        return True
    return any(node.code in rule.region_codes for node in regions.lineage(report.region_id))


def suggest_for_media(media: list[Media]) -> list[dict]:
    """Plate suggestions read by OCR from the first photos (or the video's poster frame)."""
    images = []
    for item in media[:OCR_MAX_IMAGES]:
        source = db.session.get(Media, item.poster_id) if item.kind == "video" else item
        if source is None:
            continue
        try:
            images.append(get_storage().get(source.storage_key))
        except StorageError:
            log.warning("evidence %s could not be read for OCR", source.public_id)
    if not images or not current_app.config["LITTERING_OCR_ENABLED"]:
        return []
    return [
        {"plate": s.plate, "confidence": round(s.confidence, 3), "image_index": s.image_index}
        for s in ocr.suggest_plates(images)
    ]


# ---------------------------------------------------------------- review


def earlier_reports(report: LitteringReport, rule, *, latest: bool = True) -> list[LitteringReport]:
    """Reports of the same plate within the rule's time and distance window (the first-reporter
    rule compares them); ``latest`` reads every committed row (decisions), else a plain read."""
    window = timedelta(minutes=rule.dup_window_minutes)
    read = rules.latest if latest else (lambda query: query)
    rows = db.session.scalars(
        read(
            select(LitteringReport)
            .where(
                LitteringReport.plate == report.plate,
                LitteringReport.id != report.id,
                LitteringReport.occurred_at.between(
                    report.occurred_at - window, report.occurred_at + window
                ),
            )
            .order_by(LitteringReport.created_at, LitteringReport.id)
        )
    ).all()
    return [r for r in rows if _near(r, report, rule.dup_radius_m)]


def same_car_reports(report: LitteringReport) -> list[LitteringReport]:
    """Every other report of this car in the window, earlier or later (shown side by side)."""
    return earlier_reports(report, rules.current_rule(), latest=False)


def _near(a: LitteringReport, b: LitteringReport, radius_m: int) -> bool:
    if a.lat is None or b.lat is None:
        return True  # an address-only report: time and plate decide
    return coords.haversine_m(a.lat, a.lng, b.lat, b.lng) <= radius_m


def _is_before(a: LitteringReport, b: LitteringReport) -> bool:
    return (a.created_at, a.id) < (b.created_at, b.id)


@dataclass
class Decision:
    """A reviewer's decision on a report."""

    decision: str  # valid | invalid
    reason: str | None = None
    note: str | None = None
    plate: str | None = None  # a corrected plate
    version: int | None = None


def review(report: LitteringReport, staff: StaffUser, d: Decision) -> LitteringReport:
    """Decide a pending report. Valid: a lead for enforcement and, for the first reporter, a
    reward in the ledger (caps and budget permitting). Flushed; the view commits."""
    check_version(report, d.version, "该举报已被他人审核，请刷新后重试")
    if report.state != LitteringState.PENDING:
        raise Conflict("该举报已审核", code="already_reviewed")
    rule = rules.current_rule(lock=True)
    report.rule_version, report.reviewed_by, report.reviewed_at = rule.version, staff, utcnow()
    # Claim the report first: a parallel decision has already moved its version (409 here,
    # before anything else is written).
    flush_versioned("该举报已被他人审核，请刷新后重试")
    if d.plate:
        check = plates.check_plate(d.plate, report.plate_colour)
        if not check.ok:
            raise ValidationFailed(fields={"plate": [check.error]})
        report.plate = check.normalized
    report.review_note = d.note
    if d.decision == "invalid":
        _invalid(report, d.reason)
    else:
        _valid(report, rule)
    flush_versioned("该举报已被他人审核，请刷新后重试")
    audit.record(
        "littering.review",
        "littering_report",
        report.number,
        actor=staff,
        decision=report.state.value,
        reason=report.invalid_reason,
        rule_version=rule.version,
    )
    notices.review_result(report)
    return report


def _invalid(report: LitteringReport, reason: str | None) -> None:
    if reason not in INVALID_REASONS:
        raise ValidationFailed(fields={"reason": ["请选择无效原因"]})
    report.state, report.invalid_reason = LitteringState.INVALID, reason


def _valid(report: LitteringReport, rule) -> None:
    if not in_area(report, rule):
        raise Conflict(
            "事发地点不在奖励范围内，请判定为无效（不在奖励范围内）", code="outside_area"
        )
    if report.occurred_at < report.created_at - timedelta(hours=rule.deadline_hours):
        raise Conflict("已超过举报时限，请判定为无效（超过举报时限）", code="too_late")
    earlier = [r for r in earlier_reports(report, rule) if _is_before(r, report)]
    pending = [r for r in earlier if r.state == LitteringState.PENDING]
    if pending:
        raise Conflict(
            f"同一车辆有更早的举报待审核（{pending[0].number}），请先审核该举报",
            code="earlier_report_pending",
        )
    first = next(
        (r for r in earlier if r.state in (LitteringState.VALID, LitteringState.DUPLICATE)), None
    )
    db.session.add(
        Lead(
            report=report,
            plate=report.plate,
            occurred_at=report.occurred_at,
            district_code=report.district_code,
        )
    )
    if first is not None:
        report.state = LitteringState.DUPLICATE
        report.duplicate_of_id = first.duplicate_of_id or first.id
        report.reward_note = "他人已先举报同一车辆，不重复奖励"
        return
    report.state = LitteringState.VALID
    ledger.accrue(report, rule)


# ---------------------------------------------------------------- leads


def update_lead(
    lead: Lead,
    staff: StaffUser,
    state: str,
    *,
    case_number: str | None = None,
    penalty_fen: int | None = None,
    note: str | None = None,
    version: int | None = None,
) -> Lead:
    """The enforcement unit moves a lead: 待处理 -> 立案 -> 处罚 -> 结案 (forward only)."""
    check_version(lead, version, "该线索已被他人更新，请刷新后重试")
    order = list(LeadState)
    target = LeadState(state)
    if order.index(target) <= order.index(lead.state):
        raise Conflict(f"线索已是“{lead.state_label}”，不能改为该状态", code="invalid_transition")
    if target == LeadState.FILED and not (case_number or lead.case_number):
        raise ValidationFailed(fields={"case_number": ["立案需填写立案编号"]})
    lead.state = target
    lead.case_number = case_number or lead.case_number
    lead.penalty_fen = penalty_fen if penalty_fen is not None else lead.penalty_fen
    lead.note = note or lead.note
    lead.updated_at, lead.updated_by_id = utcnow(), staff.id
    flush_versioned("该线索已被他人更新，请刷新后重试")
    audit.record("littering.lead", "littering_lead", lead.id, actor=staff, state=target.value)
    return lead


# ---------------------------------------------------------------- what the citizen sees


def citizen_status(report: LitteringReport) -> tuple[str, str]:
    """(code, label) of a report as its citizen follows it: 待审核, 有效, 无效, 重复, 奖励待领取,
    已到账."""
    if report.state == LitteringState.PENDING:
        return "pending", "待审核"
    if report.state == LitteringState.INVALID:
        return "invalid", "无效"
    if report.state == LitteringState.DUPLICATE:
        return "duplicate", "重复"
    entry = report.entry
    if entry is None or entry.state == EntryState.CANCELLED:
        return "valid", "有效"
    if entry.state == EntryState.PAID:
        return "paid", "已到账"
    live = ledger.live_payout(entry)
    if live is not None and live.state == PayoutState.WAIT_CONFIRM and live.package_info:
        return "to_claim", "奖励待领取"
    return "valid", "有效"


def distance_label(a: LitteringReport, b: LitteringReport) -> str | None:
    """How far apart two reports are, for the reviewer."""
    if a.lat is None or b.lat is None:
        return None
    metres = coords.haversine_m(a.lat, a.lng, b.lat, b.lng)
    return f"{math.floor(metres)}米"
