"""Applies the workflow table (reports.workflow) to a case: checks, effects, timeline, notices.

Staff actions go through ``transition``; a citizen's own steps on their case (``reopen`` when
dissatisfied, ``comment`` to add 补充说明) are applied here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app import audit
from app.auth.models import Department, StaffUser, User
from app.db import flush_versioned, utcnow
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.media.models import Media
from reports import notify, reference, timeline
from reports.models import Attention, PhotoStage, Report, ReportPhoto, ReportState, TimelineEntry
from reports.workflow import (
    ACTIONS,
    COMMENT_STATES,
    COMMENT_TEXT,
    REJECT_REASONS,
    REOPEN_SOURCES,
    REOPEN_TEXT,
    Action,
    action_named,
    refusal,
)

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
    public_reply: str | None = None  # 公开答复: what the citizen reads of a feedback
    data: dict = field(default_factory=dict)  # what an effect adds to the timeline entry's data


PUBLIC_REPLY_MIN, PUBLIC_REPLY_MAX = 5, 500
ATTENTION_NOTE_MAX = 500  # Report.attention_note; the whole reason stays on the timeline
PUBLIC_NOTE_MAX = 500  # TimelineEntry.public_note (a 作废 note may be up to 1,000 characters)
# Told of every workflow step of a case in its transaction: (report, action name, state before,
# what the citizen reads or None). reports.hotline pushes each to the 12345 platform.
STATE_LISTENERS: list[Callable[[Report, str, ReportState, str | None], None]] = []


def on_state_change(listener: Callable[[Report, str, ReportState, str | None], None]) -> None:
    """Add a listener of every workflow step (once, however many apps register it)."""
    if listener not in STATE_LISTENERS:
        STATE_LISTENERS.append(listener)


def _announce(report: Report, action: str, before: ReportState, public: str | None) -> None:
    for listener in STATE_LISTENERS:
        listener(report, action, before, public)


def transition(report: Report, action_name: str, staff: StaffUser, params: Params) -> Report:
    """Make one workflow move as ``staff``: 409 if the state forbids it, 403 if they may not."""
    action = action_named(action_name)
    refused = refusal(staff, report, action)
    if refused is not None:
        raise refused
    before = report.state
    # Whatever flagged the case (returned, reopened, re-dispatched) has now been acted on; the
    # effects that flag a case set it again.
    report.attention, report.attention_note = None, None
    public = EFFECTS[action.name](report, staff, params, action)
    department_id = report.department_id if action.name != "return" else params.department_id
    entry = timeline.add(report, action.name, before, staff=staff, note=params.note,
                         public_note=public, department_id=department_id,
                         data=_entry_data(action, params))  # fmt: skip
    _attach_after_photos(report, entry, params)
    _announce(report, action.name, before, public)
    if action.notify:
        notify.enqueue_state_change(report, public)
    audit.record(f"report.{action.name}", "report", report.number, actor=staff,
                 from_state=before.value, to_state=report.state.value)  # fmt: skip
    db.session.flush()
    return report


def _entry_data(action: Action, params: Params) -> dict:
    data = dict(params.data)
    if params.reason:
        data["reason"] = params.reason
    if params.extension_amount:
        data["extension"] = {"amount": params.extension_amount, "unit": params.extension_unit}
    if params.target_number:
        data["merged_into"] = params.target_number
    if params.public_reply and action.name == "feedback":
        data["public_reply"] = params.public_reply
    return data


def _public(action: Action, report: Report, **values) -> str | None:
    if action.public_text is None:
        return None
    dept = report.department.name if report.department else ""
    text = action.public_text.format(department=dept, **values)
    return text if len(text) <= PUBLIC_NOTE_MAX else text[: PUBLIC_NOTE_MAX - 1] + "…"


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


def _require_department(params: Params) -> Department:
    department = db.session.get(Department, params.department_id or 0)
    if department is None or not department.is_active:
        raise ValidationFailed(fields={"department": ["请选择有效的处置部门"]})
    return department


def _dispatch(report, staff, params, action):
    category = _require_category(report, params)
    dispatch_to(report, _require_department(params), category)
    return _public(action, report)


def _redispatch(report, staff, params, action):
    """改派: to another department, the clock restarted as a dispatch starts it; the reason is
    internal, the receiving department finds the case flagged at the top of its queue."""
    note = _require_note(params)
    department = _require_department(params)
    previous = report.department
    if previous is not None and department.id == previous.id:
        raise ValidationFailed(fields={"department": ["改派的处置部门不能与当前处置部门相同"]})
    category = _require_category(report, params)
    if previous is not None:
        params.data |= {"from_department_id": previous.id, "from_department": previous.name}
    dispatch_to(report, department, category)
    report.pending_extension = None
    report.attention, report.attention_note = Attention.REDISPATCHED, _clip(note)
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
    note = _require_note(params)
    params.department_id = report.department_id  # the timeline names the returning unit
    report.state, report.department_id, report.department = ReportState.REGISTERED, None, None
    report.due_at, report.return_count = None, report.return_count + 1
    report.pending_extension = None
    # Back to the dispatcher: at the top of the 待派遣 queue, flagged 被退回 with the reason.
    report.attention, report.attention_note = Attention.RETURNED, _clip(note)
    return None


def _clip(text: str) -> str:
    return text if len(text) <= ATTENTION_NOTE_MAX else text[: ATTENTION_NOTE_MAX - 1] + "…"


def _feedback(report, staff, params, action):
    _require_note(params)
    reply = (params.public_reply or "").strip()
    if not PUBLIC_REPLY_MIN <= len(reply) <= PUBLIC_REPLY_MAX:
        message = f"请填写给市民的公开答复（{PUBLIC_REPLY_MIN}-{PUBLIC_REPLY_MAX}个字）"
        raise ValidationFailed(fields={"public_reply": [message]})
    if report.category and report.category.photo_required and not params.photo_ids:
        raise ValidationFailed(fields={"photos": ["该类问题需上传至少一张处置后照片"]})
    params.public_reply = reply
    report.state, report.handled_at = ReportState.HANDLED, utcnow()
    return _public(action, report, public_reply=reply)


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
    "register": _register, "reject": _reject, "dispatch": _dispatch,
    "redispatch": _redispatch, "accept": _accept,
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
    """Automatic registration and dispatch of a case just submitted and certain (no human):
    two timeline steps."""
    before = report.state
    report.state, report.registered_at = ReportState.REGISTERED, utcnow()
    timeline.add(report, "register", before, public_note=ACTIONS["register"].public_text)
    dispatch_to(report, department, report.category)
    db.session.flush()
    text = ACTIONS["dispatch"].public_text.format(department=department.name)
    timeline.add(report, "dispatch", ReportState.REGISTERED, public_note=text,
                 department_id=department.id)  # fmt: skip
    _announce(report, "dispatch", before, text)
    notify.enqueue_state_change(report, text, new_case=True)


# ---------------------------------------------------------------- the citizen's own steps

REOPEN_REASON = (5, 300)
COMMENT_LENGTH = (2, 400)


def _citizen_text(value: str | None, field_name: str, what: str, bounds: tuple[int, int]) -> str:
    text = (value or "").strip()
    low, high = bounds
    if not low <= len(text) <= high:
        raise ValidationFailed(fields={field_name: [f"请填写{what}（{low}-{high}个字）"]})
    return text


def reopen(report: Report, citizen: User, reason: str | None) -> Report:
    """不满意，重新办理: a closed case of this citizen goes back to the dispatcher (立案, flagged
    市民要求重新办理, counted in ``reopen_count``) within REOPEN_DAYS of closing. The move is
    claimed by one conditional UPDATE, so of several at once exactly one wins; the others hear
    409 already_reopened, never a stale-version 500."""
    reason = _citizen_text(reason, "reason", "不满意的原因", REOPEN_REASON)
    if report.state not in REOPEN_SOURCES:
        raise _not_reopenable(report)
    days = current_app.config["REOPEN_DAYS"]
    cutoff = utcnow() - timedelta(days=days)
    if report.closed_at is None or report.closed_at < cutoff:
        raise Conflict(f"结案已超过{days}天，不能再申请重新办理；如问题仍然存在，请重新上报",
                       code="reopen_window_passed")  # fmt: skip
    before = report.state
    claimed = db.session.execute(
        update(Report)
        .where(Report.id == report.id, Report.state.in_([s.value for s in REOPEN_SOURCES]),
               Report.closed_at >= cutoff)
        .values(state=ReportState.REGISTERED, department_id=None, due_at=None, handled_at=None,
                closed_at=None, archived_at=None, reopen_count=Report.reopen_count + 1,
                attention=Attention.REOPENED, attention_note=_clip(reason),
                updated_at=utcnow(), version=Report.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # fmt: skip
    if not claimed:
        # Our read saw it closed and in time; only a reopen takes a case out of those states
        # (and this transaction may not see it yet: a repeatable read keeps its snapshot).
        raise _already_reopened()
    db.session.refresh(report)  # the row as this UPDATE left it, its new version included
    public = REOPEN_TEXT.format(reason=reason)
    timeline.add(report, "reopen", before, citizen=citizen, public_note=public,
                 data={"reason": reason})  # fmt: skip
    _announce(report, "reopen", before, public)
    db.session.flush()
    log.info("report %s reopened by citizen %s (%d time(s))", report.number, citizen.id,
             report.reopen_count)  # fmt: skip
    return report


def _already_reopened() -> Conflict:
    return Conflict("您已申请重新办理，请等待工作人员处理", code="already_reopened")


def _not_reopenable(report: Report) -> Conflict:
    if report.attention == Attention.REOPENED:
        return _already_reopened()
    return Conflict(f"案件当前状态为“{report.state.label}”，结案后才能申请重新办理",
                    code="not_closed")  # fmt: skip


def comment(report: Report, citizen: User, text: str | None) -> Report:
    """补充说明 on an open case of this citizen, shown on the staff timeline. The same words sent
    again (a retried or double-tapped send) are the comment already made; two different ones at
    the same moment: one is kept, the other hears 409 and may send it again."""
    text = _citizen_text(text, "text", "补充说明", COMMENT_LENGTH)
    if report.state not in COMMENT_STATES:
        raise Conflict("案件已办结，不能再补充说明", code="not_open")
    public = COMMENT_TEXT.format(text=text)
    if last_comment(report, citizen) == public:
        return report
    report.updated_at = utcnow()  # the case's version moves: a concurrent comment is stale
    timeline.add(report, "comment", report.state, citizen=citizen, public_note=public)
    flush_versioned("您的补充说明未能保存，请刷新后重试")
    return report


def last_comment(report: Report, citizen: User) -> str | None:
    """The text of this citizen's latest 补充说明 on the case, if any."""
    return db.session.scalar(
        select(TimelineEntry.public_note)
        .where(TimelineEntry.report_id == report.id, TimelineEntry.action == "comment",
               TimelineEntry.actor_user_id == citizen.id)
        .order_by(TimelineEntry.id.desc())
        .limit(1)
    )  # fmt: skip
