"""Timeline entries: every step of a case, who (staff, citizen, system), when, note, photos."""

from __future__ import annotations

from typing import Any

from app.auth.models import StaffUser, User
from app.extensions import db
from reports.models import Report, ReportState, TimelineEntry


def add(
    report: Report,
    action: str,
    from_state: ReportState | None,
    *,
    citizen: User | None = None,
    staff: StaffUser | None = None,
    note: str | None = None,
    public_note: str | None = None,
    department_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """Append a step; public_note is what the citizen reads (None keeps it staff-only)."""
    entry = TimelineEntry(
        report=report,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=report.state.value,
        actor_staff_id=staff.id if staff else None,
        actor_user_id=citizen.id if citizen else None,
        actor_kind="staff" if staff else "citizen" if citizen else "system",
        department_id=department_id if department_id is not None else report.department_id,
        note=note,
        public_note=public_note,
        is_public=public_note is not None,
        data=data or {},
    )
    db.session.add(entry)
    return entry
