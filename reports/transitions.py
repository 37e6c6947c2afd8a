"""Applies the workflow table (reports.workflow) to a case: checks, effects, timeline, notices."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app import audit
from app.auth.models import Department, StaffUser
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.media.models import Media
from reports import notify, reference, timeline
from reports.models import PhotoStage, Report, ReportPhoto, ReportState
from reports.workflow import ACTIONS, REJECT_REASONS, Action, action_named, refusal

log = logging.getLogger(__name__)


@dataclass
class Params:
    """What a staff member sends with an action."""

    note: str | None = None
    reason: str | None = None
    department_id: int | None = None
    category_code: str | None = None
    photo_ids: list[str] = field(default_factory=list)
    extension_amount: int | None = None
    extension_unit: str | None = None
    target_number: str | None = None


def transition(report: Report, action_name: str, staff: StaffUser, params: Params) -> Report:
    """Make one workflow move as ``staff``: 409 if the state forbids it, 403 if they may not."""
    action = action_named(action_name)
    refused = refusal(staff, report, action)
    if refused is not None:
        raise refused
    before = report.state
    public = EFFECTS[action.name](report, staff, params, action)
    department_id = report.department_id if action.name != "return" else params.department_id
    entry = timeline.add(report, action.name, before, staff=staff, note=params.note,
                         public_note=public, department_id=department_id,
                         data=_entry_data(action, params))  # fmt: skip
    _attach_after_photos(report, entry, params)
    if action.notify:
        notify.enqueue_state_change(report, public)
    audit.record(f"report.{action.name}", "report", report.number, actor=staff,
                 from_state=before.value, to_state=report.state.value)  # fmt: skip
    db.session.flush()
    return report


def _entry_data(action: Action, params: Params) -> dict:
    data = {}
    if params.reason:
        data["reason"] = params.reason
    if params.extension_amount:
        data["extension"] = {"amount": params.extension_amount, "unit": params.extension_unit}
    if params.target_number:
        data["merged_into"] = params.target_number
    return data


def _public(action: Action, report: Report, **values) -> str | None:
    if action.public_text is None:
        return None
    dept = report.department.name if report.department else ""
    return action.public_text.format(department=dept, **values)


def _require_note(params: Params) -> str:
    note = (params.note or "").strip()
    if not note:
        raise ValidationFailed(fields={"note": ["请填写说明"]})
    return note


def _require_category(report: Report, params: Params):
    if params.category_code:
        category = reference.category_by_code(params.category_code)
        if category is None:
            raise ValidationFailed(fields={"category": [f"问题类别不存在：{params.category_code}"]})
        report.category = category
    if report.category_id is None and report.category is None:
        raise ValidationFailed(fields={"category": ["请先确定问题类别"]})
    return report.category


def _register(report, staff, params, action):
    _require_category(report, params)
    report.state, report.registered_at = ReportState.REGISTERED, utcnow()
    report.triage_reason = None
    return _public(action, report)


def _reject(report, staff, params, action):
    if params.reason not in REJECT_REASONS:
        raise ValidationFailed(fields={"reason": [f"原因只能是：{', '.join(REJECT_REASONS)}"]})
    report.state, report.close_reason = ReportState.REJECTED, params.reason
    return _public(action, report, reason=REJECT_REASONS[params.reason])


def _dispatch(report, staff, params, action):
    category = _require_category(report, params)
    department = db.session.get(Department, params.department_id or 0)
    if department is None or not department.is_active:
        raise ValidationFailed(fields={"department": ["请选择有效的处置部门"]})
    dispatch_to(report, department, category)
    return _public(action, report)


def dispatch_to(report: Report, department: Department, category, now: datetime | None = None):
    """Register (if needed) and dispatch: the clock starts now, due on the working calendar."""
    now = now or utcnow()
    report.registered_at = report.registered_at or now
    report.department = department
    report.dispatched_at = now
    report.due_at = reference.due_time(now, category)
    report.state, report.triage_reason = ReportState.DISPATCHED, None


def _accept(report, staff, params, action):
    report.state = ReportState.IN_PROGRESS
    return _public(action, report)


def _return(report, staff, params, action):
    _require_note(params)
    params.department_id = report.department_id  # the timeline names the returning unit
    report.state, report.department_id, report.department = ReportState.REGISTERED, None, None
    report.due_at, report.return_count = None, report.return_count + 1
    report.pending_extension = None
    return None


def _feedback(report, staff, params, action):
    _require_note(params)
    if report.category and report.category.photo_required and not params.photo_ids:
        raise ValidationFailed(fields={"photos": ["该类问题需上传至少一张处置后照片"]})
    report.state, report.handled_at = ReportState.HANDLED, utcnow()
    return _public(action, report)


def _verify_pass(report, staff, params, action):
    report.state, report.closed_at = ReportState.CLOSED, utcnow()
    return _public(action, report)


def _verify_fail(report, staff, params, action):
    _require_note(params)
    report.state, report.handled_at = ReportState.IN_PROGRESS, None
    report.rework_count += 1
    return _public(action, report)


def _request_extension(report, staff, params, action):
    note = _require_note(params)
    amount, unit = params.extension_amount, params.extension_unit
    if not amount or amount < 1 or amount > 60 or unit not in ("hours", "days"):
        raise ValidationFailed(fields={"extension": ["请填写延期时长（1-60个工作时或工作日）"]})
    report.pending_extension = {"amount": amount, "unit": unit, "note": note, "by": staff.id}
    return None


def _approve_extension(report, staff, params, action):
    ext = report.pending_extension
    start = max(report.due_at or utcnow(), utcnow())
    report.due_at = reference.work_calendar().due_at(start, ext["amount"], ext["unit"])
    report.extension_count += 1
    report.pending_extension = None
    params.extension_amount, params.extension_unit = ext["amount"], ext["unit"]
    return _public(action, report)


def _deny_extension(report, staff, params, action):
    report.pending_extension = None
    return None


def _suspend(report, staff, params, action):
    _require_note(params)
    report.suspended_from, report.state = report.state.value, ReportState.SUSPENDED
    return _public(action, report)


def _resume(report, staff, params, action):
    report.state = ReportState(report.suspended_from or ReportState.REGISTERED.value)
    report.suspended_from = None
    return _public(action, report)


def _void(report, staff, params, action):
    note = _require_note(params)
    report.state, report.close_reason = ReportState.VOIDED, "void"
    return _public(action, report, note=note)


def _merge(report, staff, params, action):
    target = db.session.scalar(select(Report).where(Report.number == (params.target_number or "")))
    if target is None or target.id == report.id or not target.is_open:
        raise ValidationFailed(fields={"target": ["请填写仍在办理中的另一案件编号"]})
    report.state, report.merged_into_id = ReportState.MERGED, target.id
    return _public(action, report)


def _archive(report, staff, params, action):
    report.state, report.archived_at = ReportState.ARCHIVED, utcnow()
    return None


EFFECTS = {
    "register": _register, "reject": _reject, "dispatch": _dispatch, "accept": _accept,
    "return": _return, "feedback": _feedback, "verify_pass": _verify_pass,
    "verify_fail": _verify_fail, "request_extension": _request_extension,
    "approve_extension": _approve_extension, "deny_extension": _deny_extension,
    "suspend": _suspend, "resume": _resume, "void": _void, "merge": _merge, "archive": _archive,
}  # fmt: skip
assert set(EFFECTS) == set(ACTIONS), "every workflow action needs its effect"


def _attach_after_photos(report: Report, entry, params: Params) -> None:
    """Photos sent with an action (the handler's after photos), owned by the acting staff."""
    if not params.photo_ids:
        return
    ids = list(dict.fromkeys(params.photo_ids))
    query = select(Media).where(Media.public_id.in_(ids), Media.staff_id == entry.actor_staff_id)
    found = {m.public_id: m for m in db.session.scalars(query)}
    missing = [i for i in ids if i not in found]
    if missing or len(ids) > 9:
        raise ValidationFailed(fields={"photos": [f"照片不存在或不属于您：{', '.join(missing)}"]})
    stage = PhotoStage.AFTER if entry.action == "feedback" else PhotoStage.VERIFY
    base = len(report.photos)
    for i, media_id in enumerate(ids):
        report.photos.append(ReportPhoto(media=found[media_id], stage=stage, position=base + i,
                                         timeline_entry=entry))  # fmt: skip


def system_dispatch(report: Report, department: Department) -> None:
    """Automatic registration and dispatch of a certain case (no human): two timeline steps."""
    before = report.state
    report.state, report.registered_at = ReportState.REGISTERED, utcnow()
    timeline.add(report, "register", before, public_note=ACTIONS["register"].public_text)
    dispatch_to(report, department, report.category)
    db.session.flush()
    text = ACTIONS["dispatch"].public_text.format(department=department.name)
    timeline.add(report, "dispatch", ReportState.REGISTERED, public_note=text,
                 department_id=department.id)  # fmt: skip
    notify.enqueue_state_change(report, text)
