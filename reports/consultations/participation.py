"""Taking part in a consultation: a citizen's answers and votes (one response per phase,
changed until the phase closes), comments and proposals (moderated before others see them), the
moderation queue, and the citizen's personal data (export and erase, ``app.privacy``).

Services flush, never commit. A citizen's submissions are serialised on their ``users`` row, so
N parallel submissions leave one row, the last one's answers (see ``submit_response``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import selectinload

from app import audit
from app.auth.models import StaffUser, User
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from reports.consultations import questions as qs
from reports.consultations.models import (
    CommentKind,
    CommentStatus,
    ConsultationComment,
    ConsultationPhase,
    ConsultationProject,
    ConsultationResponse,
    PhaseState,
)
from reports.consultations.service import phase_state, scoped

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- citizens


def require_open(phase: ConsultationPhase) -> None:
    """409 phase_not_open unless citizens may take part in the phase now."""
    state = phase_state(phase)
    if state != PhaseState.OPEN:
        message = "该阶段尚未开始" if state == PhaseState.UPCOMING else "该阶段已结束，不能再提交"
        raise Conflict(message, code="phase_not_open")


def submit_response(
    citizen: User, phase: ConsultationPhase, answers: dict[str, Any]
) -> tuple[Any, bool]:
    """The citizen's answers (votes included) in an open phase: the first time a new response,
    later the same row with the new answers: (response, created).

    The citizen's ``users`` row is locked first: their parallel submissions run one after the
    other, and each reads the latest committed response with a locking read (a plain read in
    REPEATABLE READ could be older than its own transaction). Without the lock, two inserts
    of one unique key would both take the gap lock and deadlock on MariaDB."""
    require_open(phase)
    stored = qs.check_answers(phase.questions, answers)
    db.session.execute(select(User.id).where(User.id == citizen.id).with_for_update())
    response = db.session.scalar(
        select(ConsultationResponse)
        .where(
            ConsultationResponse.phase_id == phase.id, ConsultationResponse.user_id == citizen.id
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    created = response is None
    if created:
        response = ConsultationResponse(phase_id=phase.id, user_id=citizen.id, answers=stored)
        db.session.add(response)
    elif response.answers != stored:
        response.answers, response.updated_at = stored, utcnow()
        response.changes += 1
    db.session.flush()
    return response, created


def my_response(citizen: User, phase: ConsultationPhase):
    """The citizen's response in the phase, or None."""
    return db.session.scalar(
        select(ConsultationResponse).where(
            ConsultationResponse.phase_id == phase.id, ConsultationResponse.user_id == citizen.id
        )
    )


@dataclass
class CommentRequest:
    kind: CommentKind
    body: str
    idempotency_key: str | None = None


def add_comment(
    citizen: User, phase: ConsultationPhase, req: CommentRequest
) -> tuple[ConsultationComment, bool]:
    """A comment or proposal waiting for moderation: (comment, created). A retry with the same
    Idempotency-Key returns the first one; the same key with other text is 422."""
    first = replayed_comment(citizen, req)
    if first is not None:
        return first, False
    require_open(phase)
    allowed = phase.allow_proposals if req.kind == CommentKind.PROPOSAL else phase.allow_comments
    if not allowed:
        what = "建议" if req.kind == CommentKind.PROPOSAL else "留言"
        raise Conflict(f"该阶段不接受{what}", code="comments_closed")
    comment = ConsultationComment(
        project_id=phase.project_id,
        phase_id=phase.id,
        user_id=citizen.id,
        kind=req.kind,
        body=req.body.strip(),
        status=CommentStatus.PENDING,
        idempotency_key=req.idempotency_key,
    )
    db.session.add(comment)
    db.session.flush()
    return comment, True


def _comment_by_key(citizen: User, key: str) -> ConsultationComment | None:
    return db.session.scalar(
        select(ConsultationComment).where(
            ConsultationComment.user_id == citizen.id, ConsultationComment.idempotency_key == key
        )
    )


def replayed_comment(citizen: User, req: CommentRequest) -> ConsultationComment | None:
    """After a concurrent retry won the unique key: the comment it made (422 if other text)."""
    if not req.idempotency_key:
        return None
    first = _comment_by_key(citizen, req.idempotency_key)
    if first is not None and first.body != req.body.strip():
        raise ValidationFailed(
            "该请求编号已用于其他内容",
            code="idempotency_key_reused",
            fields={"Idempotency-Key": ["该请求编号已用于其他内容"]},
        )
    return first


def visible_comments(phase: ConsultationPhase, citizen: User | None = None) -> Select:
    """What a citizen sees of a phase's comments: approved ones, and their own pending ones."""
    shown = ConsultationComment.status == CommentStatus.APPROVED
    if citizen is not None:
        shown = shown | (
            (ConsultationComment.user_id == citizen.id)
            & (ConsultationComment.status == CommentStatus.PENDING)
        )
    return (
        select(ConsultationComment)
        .options(selectinload(ConsultationComment.user))
        .where(ConsultationComment.phase_id == phase.id, shown)
        .order_by(ConsultationComment.created_at.desc(), ConsultationComment.id.desc())
    )


# ---------------------------------------------------------------- moderation (staff)


def moderation_queue(staff: StaffUser, status: str | None, project_id: int | None) -> Select:
    """Comments and proposals in the account's scope (pending first by default), oldest first."""
    query = scoped(
        select(ConsultationComment)
        .join(ConsultationProject, ConsultationProject.id == ConsultationComment.project_id)
        .options(
            selectinload(ConsultationComment.project),
            selectinload(ConsultationComment.phase),
            selectinload(ConsultationComment.user),
            selectinload(ConsultationComment.moderated_by),
        ),
        staff,
    )
    if status:
        query = query.where(ConsultationComment.status == CommentStatus(status))
    if project_id:
        query = query.where(ConsultationComment.project_id == project_id)
    return query.order_by(ConsultationComment.created_at, ConsultationComment.id)


def moderate(
    staff: StaffUser, comment_id: int, approve: bool, reason: str | None
) -> ConsultationComment:
    """Approve (shown to everyone) or reject (shown to nobody but its author) a comment; a
    decision can be changed later (a shown comment taken down). 404 out of scope."""
    comment = db.session.scalar(
        moderation_queue(staff, None, None).where(ConsultationComment.id == comment_id)
    )
    if comment is None:
        raise NotFound("未找到该留言", code="comment_not_found")
    status = CommentStatus.APPROVED if approve else CommentStatus.REJECTED
    if comment.status != status:
        comment.status, comment.moderated_by, comment.moderated_at = status, staff, utcnow()
        comment.reject_reason = None if approve else (reason or "").strip() or None
        db.session.flush()
        audit.record(
            "consultation.moderate",
            "consultation_comment",
            comment.id,
            actor=staff,
            status=status.value,
        )
    return comment


def pending_count(staff: StaffUser) -> int:
    """Comments and proposals waiting for moderation in the account's scope."""
    query = moderation_queue(staff, CommentStatus.PENDING.value, None)
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


# ---------------------------------------------------------------- personal data (PIPL)


def export_personal(user: User) -> dict[str, Any]:
    """What the citizen said in consultations: answers and votes, comments and proposals."""
    responses = db.session.scalars(
        select(ConsultationResponse)
        .options(selectinload(ConsultationResponse.phase).selectinload(ConsultationPhase.project))
        .where(ConsultationResponse.user_id == user.id)
        .order_by(ConsultationResponse.id)
    )
    comments = db.session.scalars(
        select(ConsultationComment)
        .where(ConsultationComment.user_id == user.id)
        .order_by(ConsultationComment.id)
    )
    answers = []
    for r in responses:
        by_key = {q["key"]: q for q in r.phase.questions}
        answers.append(
            {
                "project": r.phase.project.name,
                "phase": r.phase.kind.label,
                "answers": [
                    {"question": by_key[k]["title"], "answer": qs.answer_text(by_key[k], v)}
                    for k, v in r.answers.items()
                    if k in by_key
                ],
                "submitted_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
        )
    said = [
        {
            "project": c.project.name,
            "phase": c.phase.kind.label,
            "kind": c.kind.label,
            "text": c.body,
            "status": c.status.label,
            "created_at": c.created_at.isoformat(),
        }
        for c in comments
    ]
    return {"answers": answers, "comments": said}


def erase_personal(user: User) -> int:
    """Delete the citizen's answers and votes; keep their comments without their name (the
    city keeps what was said publicly). Returns the rows touched."""
    deleted = db.session.execute(
        ConsultationResponse.__table__.delete().where(ConsultationResponse.user_id == user.id)
    ).rowcount
    anonymised = db.session.execute(
        update(ConsultationComment)
        .where(ConsultationComment.user_id == user.id)
        .values(user_id=None, idempotency_key=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    log.info(
        "consultations: erased %d responses, anonymised %d comments of user %s",
        deleted,
        anonymised,
        user.id,
    )
    return deleted + anonymised
