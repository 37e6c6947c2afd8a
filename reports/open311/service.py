"""Open311 clients and the service requests they post.

Clients: admins issue a client its API key (shown once; only its SHA-256 is stored, as for the
detection devices: ``app.auth.keys``), change its rate limit, revoke it, or issue a new key.

Requests: a posted service request is a report like any other (channel ``open311``), submitted
through ``reports.service.submit_report``, so it is classified, routed and worked in the same
workflow. The point comes in WGS-84, as the standard says, and is stored in GCJ-02 by the
submission (``Submission.coord_sys``). An idempotency key makes a client's retry return the first
request; the same key with other content is refused. Photos sent along (multipart ``media``) are
stored by ``app.media.service`` and marked public at once, since Open311 requests are public (the
worker makes their blurred copies: ``app.media.privacy``); a ``media_url`` is kept as a link and
never fetched (no server-side requests to addresses a client chooses). Of the reporter's contact
details only a phone number is kept, as for hotline callers (``Report.contact_phone``,
staff-only); names, e-mail and device ids are not stored.

Services flush, never commit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from limits import parse_many
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import audit
from app.auth import keys
from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.geo import regions
from app.media import privacy
from app.media import service as media_service
from reports import questions, reference
from reports import service as reports_service
from reports.models import Category, Channel, Report
from reports.open311.models import Open311Client, Open311Request

log = logging.getLogger(__name__)

KEY_PREFIX = "o311_"
RATE_PERIODS = {"minute": "分钟", "hour": "小时", "day": "天"}
DESCRIPTION_MAX = 4000  # the standard's limit
PHONE = re.compile(r"\+?[0-9]{3,20}")
INVALID_KEY = "api_key 无效或已停用，请向城管局申请"
OUTSIDE_CITY = "该位置不在本市范围内，请检查经纬度（WGS-84）"


# ---------------------------------------------------------------- clients


def rate_limit(count: int, period: str) -> str:
    """The Flask-Limiter string of ``count`` requests per ``period`` (minute, hour, day)."""
    if period not in RATE_PERIODS or not 1 <= count <= 100_000:
        raise ValidationFailed(fields={"rate_period": ["频率限制应为每分钟、每小时或每天若干次"]})
    return f"{count}/{period}"


def rate_label(limit: str) -> str:
    """A rate limit as people read it: 每分钟60次."""
    try:
        items = parse_many(limit)
    except ValueError:
        return limit
    labels = []
    for item in items:
        unit = RATE_PERIODS.get(item.GRANULARITY.name, item.GRANULARITY.name)
        every = "" if item.multiples == 1 else str(item.multiples)
        labels.append(f"每{every}{unit}{item.amount}次")
    return "，".join(labels)


def list_clients() -> list[Open311Client]:
    """Every client, newest first."""
    return list(db.session.scalars(select(Open311Client).order_by(Open311Client.id.desc())))


def client_by_id(client_id: int) -> Open311Client:
    """A client by id; 404 otherwise."""
    client = db.session.get(Open311Client, client_id)
    if client is None:
        raise NotFound("未找到该接入方", code="client_not_found")
    return client


def _issue_key(client: Open311Client) -> str:
    key, digest = keys.issue(KEY_PREFIX)
    client.key_hash, client.key_hint, client.key_issued_at = digest, key[:9], utcnow()
    return key


def create_client(data: dict[str, Any], actor: StaffUser) -> tuple[Open311Client, str]:
    """A new client and its key (shown once); 409 if the name is taken."""
    client = Open311Client(name=data["name"].strip(), contact=data.get("contact"),
                           rate_limit=rate_limit(data["rate_count"], data["rate_period"]),
                           created_by_id=actor.id)  # fmt: skip
    key = _issue_key(client)
    try:
        with db.session.begin_nested():
            db.session.add(client)
    except IntegrityError:
        raise Conflict("该名称已被其他接入方使用", code="client_name_taken") from None
    audit.record("open311.client.create", "open311_client", client.id, actor=actor,
                 name=client.name, rate_limit=client.rate_limit)  # fmt: skip
    log.info("open311 client %s (%s) created by %s", client.id, client.name, actor.username)
    return client, key


def update_client(client: Open311Client, data: dict[str, Any], actor: StaffUser) -> Open311Client:
    """Change the name, contact or rate limit (count and period together or one of them)."""
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = data["name"].strip()
    if "contact" in data:
        changes["contact"] = data["contact"]
    if "rate_count" in data or "rate_period" in data:
        count, period = _rate_parts(client.rate_limit)
        changes["rate_limit"] = rate_limit(data.get("rate_count", count),
                                           data.get("rate_period", period))  # fmt: skip
    diff = {k: [getattr(client, k), v] for k, v in changes.items() if getattr(client, k) != v}
    for key, (_, value) in diff.items():
        setattr(client, key, value)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("该名称已被其他接入方使用", code="client_name_taken") from None
    if diff:
        audit.record("open311.client.update", "open311_client", client.id, actor=actor,
                     changes=diff)  # fmt: skip
    return client


def _rate_parts(limit: str) -> tuple[int, str]:
    count, _, period = limit.partition("/")
    return (int(count), period) if count.isdigit() and period in RATE_PERIODS else (60, "minute")


def revoke_client(client: Open311Client, actor: StaffUser) -> Open311Client:
    """Stop the client's key from working (again: nothing changes)."""
    if client.is_active:
        client.is_active, client.revoked_at = False, utcnow()
        audit.record("open311.client.revoke", "open311_client", client.id, actor=actor)
        log.info("open311 client %s revoked by %s", client.id, actor.username)
        db.session.flush()
    return client


def reissue_key(client: Open311Client, actor: StaffUser) -> str:
    """A new key for the client (the old one stops working; a revoked client works again)."""
    key = _issue_key(client)
    client.is_active, client.revoked_at = True, None
    audit.record("open311.client.key", "open311_client", client.id, actor=actor,
                 key_hint=client.key_hint)  # fmt: skip
    log.info("open311 client %s got a new key from %s", client.id, actor.username)
    db.session.flush()
    return key


def authenticate(api_key: str | None) -> Open311Client:
    """The active client holding ``api_key``; 403 (the standard's code) otherwise."""
    if not api_key or not api_key.startswith(KEY_PREFIX):
        raise Forbidden(INVALID_KEY, code="invalid_api_key")
    digest = keys.digest(api_key.strip())
    client = db.session.scalar(select(Open311Client).where(Open311Client.key_hash == digest))
    if client is None or not client.is_active or not keys.matches(client.key_hash, digest):
        raise Forbidden(INVALID_KEY, code="invalid_api_key")
    return client


# ---------------------------------------------------------------- service requests


@dataclass
class Posted:
    """A service request as posted (the standard's parameters we use)."""

    service_code: str
    lat: float | None = None
    lng: float | None = None
    address: str | None = None
    description: str | None = None
    media_url: str | None = None
    phone: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


def owner_key(client: Open311Client) -> str:
    """Whose idempotency keys these are: one client's never collide with another's."""
    return f"open311:{client.id}"


def active_category(code: str) -> Category:
    """The active category a service code names; 400 (the standard's code) otherwise."""
    category = reference.category_by_code(code)
    if category is None:
        raise ValidationFailed(f"service_code 不存在：{code}", code="service_code_not_found",
                               fields={"service_code": ["服务类型不存在或已停用"]})  # fmt: skip
    return category


def submission(posted: Posted) -> reports_service.Submission:
    """The report submission of a posted request: its category's required attributes answered
    (the standard's ``required``: 400 naming ``attribute[key]``), the point in WGS-84."""
    category = active_category(posted.service_code)
    try:
        questions.answer(category.questions, posted.answers, enforce_required=True)
    except ValidationFailed as exc:
        exc.fields = {_attribute_name(k): v for k, v in (exc.fields or {}).items()}
        raise
    phone = None
    if posted.phone:
        phone = re.sub(r"[\s()\-]", "", posted.phone)
        if not PHONE.fullmatch(phone):
            raise ValidationFailed(fields={"phone": ["电话号码格式不正确"]})
    return reports_service.Submission(
        description=posted.description or f"{category.name}（经Open311上报）",
        channel=Channel.OPEN311, lat=posted.lat, lng=posted.lng, coord_sys="wgs84",
        address=posted.address, category_code=category.code, photos_required=False,
        idempotency_key=posted.idempotency_key, contact_phone=phone,
        answers=posted.answers or None)  # fmt: skip


def _attribute_name(field_name: str) -> str:
    """``answers.key`` (reports.questions) as the standard names it: ``attribute[key]``."""
    prefix = "answers."
    return (
        f"attribute[{field_name[len(prefix) :]}]" if field_name.startswith(prefix) else field_name
    )


def check_in_city(sub: reports_service.Submission) -> None:
    """400 (field ``lat``) for a point outside the city: the client can correct it at once."""
    if sub.lat is None or sub.lng is None:
        return
    try:
        regions.where(sub.lat, sub.lng, sub.coord_sys)
    except regions.OutsideCity:
        raise ValidationFailed(OUTSIDE_CITY, code="outside_city",
                               fields={"lat": [OUTSIDE_CITY]}) from None  # fmt: skip


def fingerprint(sub: reports_service.Submission, media_url: str | None, uploads: list[bytes]):
    """What the request carries (reports.service.fingerprint, with the link and the photos)."""
    digests = [hashlib.sha256(data).hexdigest() for data in uploads]
    return reports_service.fingerprint(sub, [*digests, f"media_url:{media_url or ''}"])


def replay(client: Open311Client, sub: reports_service.Submission) -> Open311Request | None:
    """The request this idempotency key already made (a retry), or None; 400 if the key made a
    request of other content."""
    report = reports_service.find_replay(sub, owner_key(client))
    return request_of(report) if report is not None else None


def request_of(report: Report) -> Open311Request | None:
    """The Open311 request a case came from, if it came through this interface."""
    return db.session.scalar(select(Open311Request).where(Open311Request.report_id == report.id))


def file_request(client: Open311Client, sub: reports_service.Submission, media_url: str | None,
                 uploads: list[bytes]) -> tuple[Open311Request, bool]:  # fmt: skip
    """Store the photos, marked public at once (Open311 requests are public: the worker makes
    their blurred copies, ``app.media.privacy``), submit the report and keep the request:
    (request, created). The caller commits, and on an IntegrityError (a parallel retry with the
    same key) rolls back and asks ``replay``."""
    stored = [media_service.store_upload(data, None) for data in uploads]
    for media in stored:
        privacy.request_publish(media)
    sub.photo_ids = [m.public_id for m in stored]
    report, created = reports_service.submit_report(sub, owner_key=owner_key(client))
    if not created:
        found = request_of(report)
        if found is not None:
            return found, False
    req = Open311Request(client=client, report=report, token=secrets.token_urlsafe(12),
                         media_url=media_url)  # fmt: skip
    db.session.add(req)
    client.last_used_at = utcnow()
    db.session.flush()
    log.info("open311 request %s from client %s became case %s", req.token, client.id,
             report.number)  # fmt: skip
    return req, True


def request_for_case(number: str) -> dict[str, Any] | None:
    """What the staff case page shows of an Open311 case: the client and the link it sent."""
    row = db.session.execute(
        select(Open311Request, Open311Client.name)
        .join(Open311Client, Open311Client.id == Open311Request.client_id)
        .join(Report, Report.id == Open311Request.report_id)
        .where(Report.number == number)
    ).first()
    if row is None:
        return None
    req, client_name = row
    return {"client": client_name, "media_url": req.media_url, "token": req.token}


def client_views(clients: list[Open311Client]) -> list[dict[str, Any]]:
    """Clients as admins see them, with how many requests each posted (one query)."""
    ids = [c.id for c in clients]
    counts = dict(db.session.execute(
        select(Open311Request.client_id, func.count()).where(Open311Request.client_id.in_(ids))
        .group_by(Open311Request.client_id)
    ).all()) if ids else {}  # fmt: skip
    return [client_view(c, counts.get(c.id, 0)) for c in clients]


def client_view(client: Open311Client, requests: int | None = None) -> dict[str, Any]:
    """One client as admins see it (its key's hash never)."""
    if requests is None:
        requests = db.session.scalar(
            select(func.count()).where(Open311Request.client_id == client.id)
        )
    return {"id": client.id, "name": client.name, "contact": client.contact,
            "key_hint": client.key_hint, "rate_limit": client.rate_limit,
            "rate_label": rate_label(client.rate_limit), "is_active": client.is_active,
            "created_at": client.created_at, "key_issued_at": client.key_issued_at,
            "revoked_at": client.revoked_at, "last_used_at": client.last_used_at,
            "requests": requests or 0}  # fmt: skip
