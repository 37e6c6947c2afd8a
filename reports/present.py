"""Build what each audience sees of a case. Citizens never see staff names or phone numbers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from app.auth.models import Department
from app.db import utcnow
from app.geo import coords, regions
from app.media.privacy import public_url
from app.media.service import signed_url
from reports import reference
from reports.models import Report, ReportPhoto, ReportState, TimelineEntry
from reports.service import TRIAGE_LABELS
from reports.workflow import ACTIONS, COMMENT_STATES, REOPEN_SOURCES, allowed_actions

ACTION_LABELS = {name: a.label for name, a in ACTIONS.items()} | {
    "submit": "上报",
    "rate": "评价",
    "reopen": "申请重新办理",
    "comment": "补充说明",
}
# A citizen's own words on a case: not shown to another reporter who follows it after a merge.
OWN_WORDS = frozenset({"submit", "rate", "reopen", "comment"})


# Who looks at a case's photos: staff (None), or the citizen with this user id (0: a citizen
# who uploaded none of them, e.g. one following the case through a merge).
STAFF = None


def photo_view(photo: ReportPhoto, viewer: int | None = STAFF) -> dict[str, Any]:
    """A photo with a fresh short-lived URL: the original for staff and for the citizen who took
    it, the public copy (faces and plates blurred, app/media/privacy.py) for any other citizen."""
    media = photo.media
    own = viewer is STAFF or (media.user_id is not None and media.user_id == viewer)
    return {"id": media.public_id, "stage": photo.stage.value,
            "url": signed_url(media).url if own else public_url(media)}  # fmt: skip


def _point(report: Report, coord_sys: str) -> tuple[float | None, float | None]:
    if report.lat is None:
        return None, None
    return coords.convert(report.lat, report.lng, coords.CANONICAL, coord_sys)


def _entry_base(entry: TimelineEntry, viewer: int | None = STAFF) -> dict[str, Any]:
    state = ReportState(entry.to_state)
    return {
        "action": entry.action,
        "state": state.value,
        "state_label": state.label,
        "department": entry.department.name if entry.department else None,
        "at": entry.created_at,
        "photos": [photo_view(p, viewer) for p in entry.photos],
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
    viewer = (report.reporter_id or 0) if own else 0
    view["photos"] = [photo_view(p, viewer) for p in report.photos if p.stage.value in shown]
    if not own:
        view["description"] = "（与您反映的问题合并办理）"
    view["timeline"] = [
        _entry_base(e, viewer) | {"text": e.public_note}
        for e in report.timeline
        if e.is_public and (own or e.action not in OWN_WORDS)
    ]
    view["can_rate"] = own and report.rating is None and report.state in (
        ReportState.CLOSED, ReportState.ARCHIVED)  # fmt: skip
    view["merged_into"] = report.merged_into.number if report.merged_into_id else None
    view["public_reply"] = public_reply(report)
    until = reopen_until(report) if own else None
    view["reopen_until"] = until
    view["can_reopen"] = until is not None and utcnow() <= until
    view["can_comment"] = own and report.state in COMMENT_STATES
    view["answers"] = list(report.answers or []) if own else []
    return view


def public_reply(report: Report) -> str | None:
    """The department's latest 公开答复 (cases handled before replies existed have none)."""
    for entry in reversed(report.timeline):
        if entry.action == "feedback" and (entry.data or {}).get("public_reply"):
            return entry.data["public_reply"]
    return None


def reopen_until(report: Report) -> datetime | None:
    """Until when the citizen may ask for a closed case to be handled again (REOPEN_DAYS)."""
    if report.state not in REOPEN_SOURCES or report.closed_at is None:
        return None
    return report.closed_at + timedelta(days=current_app.config["REOPEN_DAYS"])


def suggested_department(report: Report, category=None) -> Department | None:
    """The unit responsible for the case's region and category (its own, else the suggested
    one): the rule automatic dispatch follows, ``reference.responsible_department``."""
    category = category or report.category or report.suggested_category
    if category is None or report.region_id is None:
        return None
    region = regions.region_by_id(report.region_id)
    return reference.responsible_department(region, category.department_type)


def staff_view(report: Report, staff, coord_sys: str = "gcj02") -> dict[str, Any]:
    """The whole case for staff, with the actions this account may take now."""
    view = _common(report, coord_sys)
    suggested = report.suggested_category
    unit = suggested_department(report)
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
        "reopen_count": report.reopen_count,
        "return_count": report.return_count,
        **_attention(report),
        "urgent": report.urgent,
        "answers": list(report.answers or []),
        "suggested_department": {"id": unit.id, "code": unit.code, "name": unit.name}
        if unit else None,
        "photos": [photo_view(p) for p in report.photos],
        "timeline": [_staff_entry(e) for e in report.timeline],
        "allowed_actions": [{"name": a.name, "label": a.label, "requires": sorted(a.requires),
                             "confirm": a.confirm} for a in allowed_actions(report, staff)],
        "merged_into": report.merged_into.number if report.merged_into_id else None,
        "public_reply": public_reply(report),
        "can_rate": False,
        "can_reopen": False,
        "reopen_until": None,
        "can_comment": False,
    }  # fmt: skip
    return view


def _attention(report: Report) -> dict[str, Any]:
    """Why the case waits flagged (被退回, 市民要求重新办理, 改派) and the reason given."""
    flag = report.attention
    return {"attention": flag.value if flag else None,
            "attention_label": flag.label if flag else None,
            "attention_note": report.attention_note if flag else None}  # fmt: skip


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
        **_attention(report),
        "urgent": report.urgent,
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
