"""牛皮癣: record the numbers on an ad photo, notify the advertiser by SMS with a deadline, remind
in working hours, escalate to an enforcement case when ignored, close (销案) when they came in and
the ads are cleaned. What other features (and this one's views) call.

Every write is idempotent: a capture by its Idempotency-Key, an advertiser by its number, a
notice by its SMS row's unique ``dedupe_key`` (and the advertiser row locked while it is
decided), marks and escalation by the state they leave behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.auth.models import StaffUser
from app.auth.scope import restrict
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.geo import coords, regions
from app.media.models import Media
from app.storage import StorageError, get_storage
from reports import reference
from reports import service as reports_service
from reports.models import Channel, OutboxMessage, OutboxStatus, PhotoStage, Report, ReportPhoto
from reports.smallads import ocr, phones
from reports.smallads.models import (
    AdEvidence,
    Advertiser,
    AdvertiserState,
    Capture,
    Event,
    SmsMessage,
    SmsState,
    SmsTemplate,
)

log = logging.getLogger(__name__)

CATEGORY_CODE = "SJ0201"  # 非法小广告: routed to the district's enforcement unit
MAX_NUMBERS = 5
OWNER_KEY = "smallads"
TEMPLATE_KEYS = {"notice": "smallads_notice", "reminder": "smallads_reminder"}
OFFICE = "区城管执法队"  # where advertisers are told to come (the template's ${office})


# ---------------------------------------------------------------- capture


def suggest_for(media: Media) -> list[dict]:
    """Numbers OCR reads on a stored photo (empty when OCR is off or the photo is unreadable)."""
    if not current_app.config["SMALLADS_OCR_ENABLED"]:
        return []
    try:
        data = get_storage().get(media.storage_key)
    except StorageError:
        log.warning("small-ads photo %s could not be read for OCR", media.public_id)
        return []
    return [
        {"number": s.number, "kind": s.kind, "confidence": s.confidence}
        for s in ocr.suggest_numbers(data)
    ]


def own_photo(staff: StaffUser, public_id: str) -> Media:
    media = db.session.scalar(
        select(Media).where(Media.public_id == public_id, Media.staff_id == staff.id)
    )
    if media is None or media.kind != "image":
        raise ValidationFailed(fields={"photo": ["照片不存在或不是您上传的照片"]})
    return media


@dataclass
class CaptureIn:
    photo: str
    numbers: list[str]
    lat: float
    lng: float
    coord_sys: str = "gcj02"
    address: str | None = None
    suggested: list[str] | None = None  # the OCR's suggestions the inspector was shown
    idempotency_key: str | None = None


def record_capture(staff: StaffUser, data: CaptureIn) -> tuple[Capture, bool]:
    """A photo with its confirmed numbers: one advertiser per number (new or existing), each
    with this photo as evidence. The same Idempotency-Key returns the first capture."""
    key = f"{staff.id}:{data.idempotency_key}" if data.idempotency_key else None
    if key is not None:
        # One inspector's captures one at a time: a retry waits for the first to commit and
        # then finds it (parallel inserts of one unique key deadlock on MariaDB).
        db.session.execute(select(StaffUser.id).where(StaffUser.id == staff.id).with_for_update())
    existing = _capture_by_key(key, lock=True)
    if existing is not None:
        return existing, False
    numbers = _checked_numbers(data.numbers)
    media = own_photo(staff, data.photo)
    try:
        lat, lng = coords.convert(data.lat, data.lng, data.coord_sys, coords.CANONICAL)
    except ValueError as exc:
        raise ValidationFailed(fields={"lat": [str(exc)]}) from None
    region_id, _district = regions.region_and_district(lat, lng)
    suggested = {phones.normalize(n) for n in data.suggested or []}
    capture = Capture(
        media=media,
        staff=staff,
        lat=lat,
        lng=lng,
        address=data.address,
        region_id=region_id,
        suggestions=sorted(n for n in suggested if n),
        idempotency_key=key,
    )
    try:
        with db.session.begin_nested():
            db.session.add(capture)
    except IntegrityError:  # the same key, committed by a parallel request just now
        found = _capture_by_key(key, lock=True)
        if found is None:
            raise
        return found, False
    for number in numbers:
        advertiser = advertiser_for(number, staff)
        db.session.add(
            AdEvidence(capture=capture, advertiser=advertiser, from_ocr=number in suggested)
        )
    db.session.flush()
    return capture, True


def _capture_by_key(key: str | None, *, lock: bool = False) -> Capture | None:
    if key is None:
        return None
    query = select(Capture).where(Capture.idempotency_key == key)
    return db.session.scalar(query.with_for_update() if lock else query)


def _checked_numbers(raw: list[str]) -> list[str]:
    out, bad = [], []
    for item in raw:
        number = phones.normalize(item)
        (out if number else bad).append(number or item)
    if bad:
        raise ValidationFailed(
            fields={
                "numbers": [
                    f"号码格式不正确：{'、'.join(bad)}（手机号11位，固定电话如024-12345678）"
                ]
            }
        )
    out = list(dict.fromkeys(out))
    if not out or len(out) > MAX_NUMBERS:
        raise ValidationFailed(fields={"numbers": [f"请确认1至{MAX_NUMBERS}个号码"]})
    return out


def advertiser_for(number: str, staff: StaffUser | None) -> Advertiser:
    """The advertiser of a number, created (and logged) the first time it is seen."""
    found = db.session.scalar(select(Advertiser).where(Advertiser.phone == number))
    if found is not None:
        return found
    advertiser = Advertiser(phone=number, kind=phones.kind_of(number), state=AdvertiserState.NEW)
    try:
        with db.session.begin_nested():
            db.session.add(advertiser)
    except IntegrityError:  # recorded by a parallel capture just now
        return db.session.scalars(
            select(Advertiser).where(Advertiser.phone == number).with_for_update()
        ).one()
    _log(advertiser, "record", staff, None)
    return advertiser


# ---------------------------------------------------------------- reading


def advertisers_in_scope(staff: StaffUser):
    """Advertisers with at least one photo in the account's scope (all for city-wide staff)."""
    places = restrict(
        select(AdEvidence.advertiser_id).join(Capture), staff, region=Capture.region_id
    )
    return select(Advertiser).where(Advertiser.id.in_(places))


def advertiser_in_scope(staff: StaffUser, advertiser_id: int, *, lock: bool = False) -> Advertiser:
    """One advertiser; 404 when it does not exist or lies outside the account's scope."""
    query = advertisers_in_scope(staff).where(Advertiser.id == advertiser_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = db.session.scalar(query)
    if found is None:
        raise NotFound("未找到该广告号码记录")
    return found


def messages_of(advertiser: Advertiser) -> list[SmsMessage]:
    return list(
        db.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.advertiser_id == advertiser.id)
            .order_by(SmsMessage.id)
        )
    )


def events_of(advertiser: Advertiser) -> list[Event]:
    return list(
        db.session.scalars(
            select(Event).where(Event.advertiser_id == advertiser.id).order_by(Event.id)
        )
    )


def case_number(advertiser: Advertiser) -> str | None:
    if advertiser.case_report_id is None:
        return None
    return db.session.scalar(select(Report.number).where(Report.id == advertiser.case_report_id))


# ---------------------------------------------------------------- notice and reminders


def send_notice(advertiser: Advertiser, staff: StaffUser) -> SmsMessage:
    """Queue the notice (to come in within the deadline, accept the penalty and clean up); the
    advertiser row is locked by the caller. Asked again: the same notice, nothing sent."""
    existing = _message(f"notice:{advertiser.id}")
    if existing is not None:
        return existing
    if advertiser.state != AdvertiserState.NEW:
        raise Conflict(
            f"当前状态（{advertiser.state.label}）不能发送到案通知", code="invalid_state"
        )
    if advertiser.kind != "mobile":
        raise Conflict("固定电话无法接收短信，请电话通知当事人或直接移交立案", code="not_a_mobile")
    now = utcnow()
    days = current_app.config["SMALLADS_NOTICE_WORKING_DAYS"]
    advertiser.deadline_at = reference.work_calendar().add_working_days(now, days)
    advertiser.state = AdvertiserState.NOTIFIED
    msg = _queue(advertiser, "notice", f"notice:{advertiser.id}", staff)
    _log(advertiser, "notice", staff, f"期限至{_local(advertiser.deadline_at)}")
    db.session.flush()
    return msg


def _message(dedupe_key: str) -> SmsMessage | None:
    return db.session.scalar(
        select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key).with_for_update()
    )


def template(kind: str) -> SmsTemplate:
    found = db.session.scalar(
        select(SmsTemplate).where(
            SmsTemplate.key == TEMPLATE_KEYS[kind], SmsTemplate.is_active.is_(True)
        )
    )
    if found is None:
        raise Conflict("短信模板未配置或已停用，请联系系统管理员", code="no_sms_template")
    return found


def _queue(
    advertiser: Advertiser,
    kind: str,
    dedupe_key: str,
    staff: StaffUser | None,
    *,
    at: datetime | None = None,
) -> SmsMessage:
    tpl = template(kind)
    params = {
        "phone": phones.mask(advertiser.phone),
        "deadline": _local(advertiser.deadline_at),
        "office": OFFICE,
    }
    msg = SmsMessage(
        advertiser_id=advertiser.id,
        kind=kind,
        dedupe_key=dedupe_key,
        phone=advertiser.phone,
        template_code=tpl.template_code,
        params=params,
        state=SmsState.QUEUED,
        staff_id=staff.id if staff else None,
        created_at=at or utcnow(),
    )
    db.session.add(msg)
    db.session.flush()
    outbox = OutboxMessage(kind="sms", status=OutboxStatus.PENDING, payload={"sms_id": msg.id})
    db.session.add(outbox)
    db.session.flush()
    msg.outbox_id = outbox.id
    return msg


def queue_reminders(now: datetime | None = None) -> int:
    """Reminders due now: in working time, to notified advertisers who have not come in before
    the deadline, at most SMALLADS_REMINDERS_PER_DAY a local day and SMALLADS_REMINDER_GAP_HOURS
    working hours after the last message. Each is logged."""
    now = now or utcnow()
    cal = reference.work_calendar()
    if not cal.is_working_time(now):
        return 0
    cfg = current_app.config
    per_day, gap = cfg["SMALLADS_REMINDERS_PER_DAY"], cfg["SMALLADS_REMINDER_GAP_HOURS"]
    day_start = _local_midnight(now)
    queued = 0
    waiting = db.session.scalars(
        select(Advertiser).where(
            Advertiser.state == AdvertiserState.NOTIFIED,
            Advertiser.appeared_at.is_(None),
            Advertiser.deadline_at > now,
        )
    )
    for advertiser in list(waiting):
        sent = messages_of(advertiser)
        notice = next((m for m in sent if m.kind == "notice"), None)
        if notice is None or notice.state in (SmsState.FAILED, SmsState.UNDELIVERED):
            continue  # nothing reached them: reminders would not either
        reminders = [m for m in sent if m.kind == "reminder"]
        today = [m for m in reminders if m.created_at >= day_start]
        last = max(m.created_at for m in sent)
        if len(today) >= per_day or cal.working_seconds_between(last, now) < gap * 3600:
            continue
        key = f"reminder:{advertiser.id}:{len(reminders) + 1}"
        try:
            with db.session.begin_nested():
                _queue(advertiser, "reminder", key, None, at=now)
        except IntegrityError:  # another worker queued it
            continue
        _log(advertiser, "reminder", None, f"第{len(reminders) + 1}次催告")
        queued += 1
    return queued


# ---------------------------------------------------------------- marks, escalation, closing


def mark(advertiser: Advertiser, action: str, staff: StaffUser, note: str | None) -> Advertiser:
    """到案 (appear), 已清理 (clean), 销案 (close) or 移交立案 (escalate); the row is locked by the
    caller. Repeating a mark that is already recorded changes nothing."""
    if action == "escalate":
        return escalate(advertiser, staff, note)
    if advertiser.state == AdvertiserState.CLOSED:
        if action == "close" or getattr(advertiser, f"{_FIELD[action]}") is not None:
            return advertiser
        raise Conflict("该号码已销案", code="invalid_state")
    now = utcnow()
    if action in _FIELD and action != "close":
        if getattr(advertiser, _FIELD[action]) is None:
            setattr(advertiser, _FIELD[action], now)
            _log(advertiser, action, staff, note)
    elif action == "close":
        if advertiser.appeared_at is None or advertiser.cleaned_at is None:
            raise Conflict("销案前须登记当事人到案，并确认广告已清理", code="not_ready")
        advertiser.state, advertiser.closed_at = AdvertiserState.CLOSED, now
        _log(advertiser, "close", staff, note)
    db.session.flush()
    return advertiser


_FIELD = {"appear": "appeared_at", "clean": "cleaned_at", "close": "closed_at"}


def escalate(advertiser: Advertiser, staff: StaffUser | None, note: str | None) -> Advertiser:
    """Open an enforcement case (非法小广告, routed to the district's enforcement unit) with the
    advertiser's photos; once."""
    if advertiser.state == AdvertiserState.ESCALATED:
        return advertiser
    if advertiser.state == AdvertiserState.CLOSED:
        raise Conflict("该号码已销案，无需移交", code="invalid_state")
    captures = [e.capture for e in advertiser.evidence]
    where = next((c for c in reversed(captures) if c.lat is not None), None)
    if where is None:
        raise Conflict("没有带位置的现场照片，无法立案", code="no_location")
    reason = "逾期未到案" if advertiser.deadline_at else "无法短信通知"
    text = (
        f"非法小广告：号码{advertiser.phone}（{phones.KIND_NAMES[advertiser.kind]}）"
        f"{reason}，现场照片{len(captures)}张，请依法查处。" + (f"备注：{note}" if note else "")
    )
    sub = reports_service.Submission(
        description=text,
        channel=Channel.INSPECTOR,
        lat=where.lat,
        lng=where.lng,
        address=where.address,
        category_code=CATEGORY_CODE,
        photos_required=False,
        idempotency_key=f"escalate-{advertiser.id}",
    )
    report, _ = reports_service.submit_report(sub, owner_key=OWNER_KEY, staff=staff)
    for position, capture in enumerate(captures[:9]):
        db.session.add(
            ReportPhoto(
                report_id=report.id,
                media_id=capture.media_id,
                stage=PhotoStage.REPORT,
                position=position,
            )
        )
    advertiser.state, advertiser.escalated_at = AdvertiserState.ESCALATED, utcnow()
    advertiser.case_report_id = report.id
    _log(advertiser, "escalate", staff, f"案件编号{report.number}")
    db.session.flush()
    return advertiser


def escalate_overdue(now: datetime | None = None) -> int:
    """Escalate every notified advertiser whose deadline passed without coming in."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(Advertiser.id).where(
                Advertiser.state == AdvertiserState.NOTIFIED,
                Advertiser.appeared_at.is_(None),
                Advertiser.deadline_at <= now,
            )
        )
    )
    done = 0
    for advertiser_id in ids:
        advertiser = db.session.scalars(
            select(Advertiser)
            .where(Advertiser.id == advertiser_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if advertiser.state == AdvertiserState.NOTIFIED and advertiser.appeared_at is None:
            try:
                escalate(advertiser, None, "到期自动移交")
                done += 1
            except Conflict as exc:
                log.warning("advertiser %s not escalated: %s", advertiser.id, exc)
    return done


# ---------------------------------------------------------------- helpers


def _log(advertiser: Advertiser, action: str, staff: StaffUser | None, note: str | None) -> None:
    db.session.add(
        Event(
            advertiser_id=advertiser.id,
            action=action,
            staff_id=staff.id if staff else None,
            note=note,
        )
    )


def _local(at: datetime | None) -> str:
    if at is None:
        return ""
    return at.astimezone(reference.work_calendar().tz).strftime("%m月%d日%H:%M")


def _local_midnight(now: datetime) -> datetime:
    tz = reference.work_calendar().tz
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def counts() -> dict[str, int]:
    rows = db.session.execute(select(Advertiser.state, func.count()).group_by(Advertiser.state))
    return {state.value: n for state, n in rows}


RECEIPT_RECHECK = timedelta(seconds=60)
