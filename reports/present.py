"""Build what each audience sees of a case. Citizens never see staff names or phone numbers."""

from __future__ import annotations

from typing import Any

from app.db import utcnow
from app.geo import coords
from app.media.service import signed_url
from reports.models import Report, ReportPhoto, ReportState, TimelineEntry
from reports.service import TRIAGE_LABELS
from reports.workflow import ACTIONS, allowed_actions

ACTION_LABELS = {name: a.label for name, a in ACTIONS.items()} | {
    "submit": "上报",
    "rate": "评价",
}


def photo_view(photo: ReportPhoto) -> dict[str, Any]:
    """A photo with a fresh short-lived URL."""
    return {"id": photo.media.public_id, "stage": photo.stage.value,
            "url": signed_url(photo.media).url}  # fmt: skip


def _point(report: Report, coord_sys: str) -> tuple[float | None, float | None]:
    if report.lat is None:
        return None, None
    return coords.convert(report.lat, report.lng, coords.CANONICAL, coord_sys)


def _entry_base(entry: TimelineEntry) -> dict[str, Any]:
    state = ReportState(entry.to_state)
    return {
        "action": entry.action,
        "state": state.value,
        "state_label": state.label,
        "department": entry.department.name if entry.department else None,
        "at": entry.created_at,
        "photos": [photo_view(p) for p in entry.photos],
    }


def _common(report: Report, coord_sys: str) -> dict[str, Any]:
    lat, lng = _point(report, coord_sys)
    category = report.category
    return {
        "number": report.number,
        "state": report.state.value,
        "state_label": report.state.label,
        "channel": report.channel.value,
        "description": report.description,
        "address": report.address,
        "lat": lat,
        "lng": lng,
        "coord_sys": coord_sys,
        "category": {"id": category.id, "code": category.code, "name": category.name}
        if category else None,
        "department": report.department.name if report.department else None,
        "created_at": report.created_at,
        "closed_at": report.closed_at,
        "rating": report.rating,
    }  # fmt: skip


def citizen_view(report: Report, coord_sys: str = "gcj02", own: bool = True) -> dict[str, Any]:
    """The citizen's own report with its public timeline. A case they follow through a merge
    shows no one else's photos or words: only the handling and the after photos."""
    view = _common(report, coord_sys)
    shown = ("report", "after") if own else ("after",)
    view["photos"] = [photo_view(p) for p in report.photos if p.stage.value in shown]
    if not own:
        view["description"] = "（与您反映的问题合并办理）"
    view["timeline"] = [
        _entry_base(e) | {"text": e.public_note}
        for e in report.timeline
        if e.is_public and (own or e.action not in ("submit", "rate"))
    ]
    view["can_rate"] = own and report.rating is None and report.state in (
        ReportState.CLOSED, ReportState.ARCHIVED)  # fmt: skip
    view["merged_into"] = report.merged_into.number if report.merged_into_id else None
    return view


def staff_view(report: Report, staff, coord_sys: str = "gcj02") -> dict[str, Any]:
    """The whole case for staff, with the actions this account may take now."""
    view = _common(report, coord_sys)
    suggested = report.suggested_category
    view |= {
        "id": report.id,
        "version": report.version,
        "reporter": f"市民#{report.reporter_id}" if report.reporter_id else None,
        "contact_phone": report.contact_phone,
        "department_id": report.department_id,
        "district": report.district_code,
        "region": report.region.name if report.region else None,
        "suggested_category": {"id": suggested.id, "code": suggested.code,
                               "name": suggested.name} if suggested else None,
        "suggested_confidence": report.suggested_confidence,
        "triage_reason": report.triage_reason,
        "triage_label": TRIAGE_LABELS.get(report.triage_reason or ""),
        "possible_duplicate_of": report.possible_duplicate.number
        if report.possible_duplicate_of_id else None,
        "due_at": report.due_at,
        "overdue": report.is_overdue(utcnow()),
        "rework_count": report.rework_count,
        "extension_count": report.extension_count,
        "pending_extension": report.pending_extension,
        "photos": [photo_view(p) for p in report.photos],
        "timeline": [_staff_entry(e) for e in report.timeline],
        "allowed_actions": [{"name": a.name, "label": a.label, "requires": sorted(a.requires)}
                            for a in allowed_actions(report, staff)],
        "merged_into": report.merged_into.number if report.merged_into_id else None,
        "can_rate": False,
    }  # fmt: skip
    return view


# Timeline data the service keeps for itself: the submission fingerprint (reports.service) tells a
# retried submission from a reused Idempotency-Key; it is a hash of the citizen's content and
# means nothing to a handler.
INTERNAL_DATA = frozenset({"fingerprint"})


def _staff_entry(entry: TimelineEntry) -> dict[str, Any]:
    if entry.actor_staff is not None:
        actor = entry.actor_staff.display_name
    else:
        actor = {"citizen": "市民", "system": "系统"}.get(entry.actor_kind, entry.actor_kind)
    return _entry_base(entry) | {
        "text": entry.public_note or ACTION_LABELS.get(entry.action, entry.action),
        "actor": actor,
        "note": entry.note,
        "public": entry.is_public,
        "data": _shown_data(entry.data),
    }


def _shown_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    shown = {key: value for key, value in (data or {}).items() if key not in INTERNAL_DATA}
    return shown or None


def queue_item(report: Report) -> dict[str, Any]:
    """One line of a staff queue."""
    return {
        "number": report.number,
        "state": report.state.value,
        "state_label": report.state.label,
        "channel": report.channel.value,
        "description": report.description[:80],
        "address": report.address,
        "category": report.category.name if report.category else None,
        "department": report.department.name if report.department else None,
        "district": report.district_code,
        "triage_reason": report.triage_reason,
        "created_at": report.created_at,
        "due_at": report.due_at,
        "overdue": report.is_overdue(utcnow()),
    }


def list_item(report: Report) -> dict[str, Any]:
    """One line of a citizen's list."""
    return {
        "number": report.number,
        "state": report.state.value,
        "state_label": report.state.label,
        "description": report.description[:80],
        "category": report.category.name if report.category else None,
        "created_at": report.created_at,
    }
