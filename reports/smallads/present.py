"""What the 牛皮癣 APIs and pages show: one presenter for both."""

from __future__ import annotations

from typing import Any

from app.auth.models import Role, StaffUser
from app.media import service as media_service
from reports.smallads import phones, service
from reports.smallads.models import (
    EVENT_LABELS,
    KIND_LABELS,
    SMS_KIND_LABELS,
    Advertiser,
)

# Roles that contact advertisers and read their full number; the others read it masked.
FULL_NUMBER_ROLES = (Role.DISPATCHER, Role.ADMIN)


def _iso(at) -> str | None:
    return at.isoformat() if at else None


def shown_number(advertiser: Advertiser, staff: StaffUser) -> str:
    if staff.has_role(*FULL_NUMBER_ROLES):
        return advertiser.phone
    return phones.mask(advertiser.phone)


def item(a: Advertiser, staff: StaffUser) -> dict[str, Any]:
    return {
        "id": a.id,
        "phone": shown_number(a, staff),
        "kind": a.kind,
        "kind_label": KIND_LABELS[a.kind],
        "state": a.state.value,
        "state_label": a.state.label,
        "deadline_at": _iso(a.deadline_at),
        "appeared_at": _iso(a.appeared_at),
        "cleaned_at": _iso(a.cleaned_at),
        "closed_at": _iso(a.closed_at),
        "escalated_at": _iso(a.escalated_at),
        "evidence": len(a.evidence),
        "created_at": _iso(a.created_at),
        "version": a.version,
    }


def detail(a: Advertiser, staff: StaffUser) -> dict[str, Any]:
    out = item(a, staff)
    out["case_number"] = service.case_number(a)
    out["photos"] = [
        {
            "capture_id": e.capture.id,
            "media_id": e.capture.media.public_id,
            "url": media_service.signed_url(e.capture.media).url,
            "lat": e.capture.lat,
            "lng": e.capture.lng,
            "address": e.capture.address,
            "from_ocr": e.from_ocr,
            "inspector": e.capture.staff.display_name,
            "at": _iso(e.capture.created_at),
        }
        for e in a.evidence
    ]
    out["messages"] = [
        {
            "id": m.id,
            "kind": m.kind,
            "kind_label": SMS_KIND_LABELS[m.kind],
            "state": m.state.value,
            "state_label": m.state.label,
            "attempts": m.attempts,
            "error_code": m.error_code,
            "receipt_code": m.receipt_code,
            "created_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
            "received_at": _iso(m.received_at),
        }
        for m in service.messages_of(a)
    ]
    out["events"] = [
        {
            "action": e.action,
            "label": EVENT_LABELS.get(e.action, e.action),
            "note": e.note,
            "staff": e.staff.display_name if e.staff else "系统",
            "at": _iso(e.at),
        }
        for e in service.events_of(a)
    ]
    return out


def capture(c, numbers: list[str]) -> dict[str, Any]:
    return {
        "id": c.id,
        "photo": c.media.public_id,
        "numbers": numbers,
        "region_id": c.region_id,
        "created_at": _iso(c.created_at),
    }
