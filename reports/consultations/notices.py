"""The result note (结果公示) and how participants hear of it, through the outbox.

Publishing the note the first time writes ONE outbox row of kind ``consultation_result`` in the
same transaction (``reports.notify.other_kind``: the WeChat delivery leaves it alone). The
worker's ``result_round`` fans it out: per round, the next batch of participants (anyone who
answered, voted, commented or proposed), in user-id order, each gets an ordinary citizen notice
(``reports.notify.enqueue_notice``, delivered and retried like every other), and the row keeps
how far it got; it is done when a batch comes back short. A crash repeats at most nothing: the
notices and the row's progress commit together.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app import audit
from app.auth.models import StaffUser
from app.db import commit, flush_versioned, utcnow
from app.errors import Conflict
from app.extensions import db
from reports.consultations.models import (
    ConsultationComment,
    ConsultationPhase,
    ConsultationProject,
    ConsultationResponse,
    ProjectStatus,
)
from reports.models import OutboxMessage, OutboxStatus
from reports.notify import claim_each, enqueue_notice

log = logging.getLogger(__name__)
RESULT_KIND = "consultation_result"
BATCH = 200
STATE = "结果公示"


def publish_result(staff: StaffUser, project: ConsultationProject, text: str) -> bool:
    """Set the result note; the first time, queue the participants' notification. True if it was
    queued now. The project row is locked first, so a double click notifies once."""
    if project.status == ProjectStatus.DRAFT:
        raise Conflict("项目尚未发布，不能公示结果", code="project_draft")
    db.session.scalar(
        select(ConsultationProject)
        .where(ConsultationProject.id == project.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    first = project.result_published_at is None
    project.result_note = text.strip()
    if first:
        project.result_published_at = utcnow()
        db.session.add(
            OutboxMessage(
                kind=RESULT_KIND,
                status=OutboxStatus.PENDING,
                payload={"project_id": project.id, "after": 0},
            )
        )
    flush_versioned("项目已被他人修改，请刷新后重试")
    audit.record(
        "consultation.result", "consultation_project", project.id, actor=staff, notified=first
    )
    return first


def participants(project_id: int, after: int, limit: int) -> list[int]:
    """User ids of the project's participants above ``after``, ascending."""
    answered = (
        select(ConsultationResponse.user_id)
        .join(ConsultationPhase, ConsultationPhase.id == ConsultationResponse.phase_id)
        .where(ConsultationPhase.project_id == project_id, ConsultationResponse.user_id > after)
    )
    said = select(ConsultationComment.user_id).where(
        ConsultationComment.project_id == project_id, ConsultationComment.user_id > after
    )
    union = answered.union(said).subquery()
    return list(db.session.scalars(select(union.c[0]).order_by(union.c[0]).limit(limit)))


def result_round(batch: int = BATCH) -> int:
    """One batch of participants per pending result row; commits per row. The notices queued."""
    queued = 0
    due = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == RESULT_KIND,
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= utcnow(),
        )
        .order_by(OutboxMessage.id)
    )
    for msg in claim_each(due, 5):
        project = db.session.get(ConsultationProject, msg.payload["project_id"])
        users = participants(project.id, msg.payload.get("after", 0), batch) if project else []
        text = f"{project.name[:12]}征询结果已公布" if project else ""
        for user_id in users:
            enqueue_notice(
                user_id,
                project.code,
                STATE,
                text,
                page=f"pages/consultation/detail?code={project.code}",
                path=f"/h5/consultations/{project.code}",
            )
        msg.attempts += 1
        if users:
            msg.payload = msg.payload | {"after": users[-1]}
        if len(users) < batch:
            msg.status, msg.sent_at = OutboxStatus.SENT, utcnow()
        queued += len(users)
        commit()
        log.info("consultation result %s: %d notices queued", msg.id, len(users))
    commit()  # no lock is kept past the round
    return queued
