"""What the public, citizens and staff see of projects, phases and comments (one presenter for
the APIs and the pages). The public never sees a name or a phone: a comment's author is a masked
nickname ("张**"); project photos are their public (blurred) copies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, has_request_context, url_for
from sqlalchemy import func, select

from app.extensions import db
from app.geo import regions
from app.media import privacy as media_privacy
from app.media import service as media_service
from reports.consultations import plates, service
from reports.consultations.models import (
    PHASE_ORDER,
    CommentStatus,
    ConsultationComment,
    ConsultationPhase,
    ConsultationProject,
    ConsultationResponse,
    QuestionKind,
)

ANONYMOUS = "匿名市民"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_day(at: datetime) -> str:
    """A stored time's local date as people write it: 2026年12月03日."""
    return at.astimezone(LOCAL_TZ).strftime("%Y年%m月%d日")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def masked_name(nickname: str | None) -> str:
    """A citizen as the public reads them: the first character and two stars, length hidden."""
    name = (nickname or "").strip()
    return f"{name[0]}**" if name else "微信用户"


def phase_counts(phase_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Responses, approved and pending comments per phase (two grouped queries)."""
    ids = list(phase_ids)
    out = {i: {"responses": 0, "comments": 0, "pending": 0} for i in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(ConsultationResponse.phase_id, func.count())
        .where(ConsultationResponse.phase_id.in_(ids))
        .group_by(ConsultationResponse.phase_id)
    )
    for phase_id, count in rows:
        out[phase_id]["responses"] = count
    rows = db.session.execute(
        select(ConsultationComment.phase_id, ConsultationComment.status, func.count())
        .where(
            ConsultationComment.phase_id.in_(ids),
            ConsultationComment.status != CommentStatus.REJECTED,
        )
        .group_by(ConsultationComment.phase_id, ConsultationComment.status)
    )
    for phase_id, status, count in rows:
        out[phase_id]["comments" if status == CommentStatus.APPROVED else "pending"] = count
    return out


def _questions(phase: ConsultationPhase) -> list[dict[str, Any]]:
    return [q | {"kind_label": QuestionKind(q["kind"]).label} for q in phase.questions]


def phase_view(phase: ConsultationPhase, counts: dict[str, int], *, staff: bool = False) -> dict:
    state = service.phase_state(phase)
    view = {
        "kind": phase.kind.value,
        "short": phase.kind.short,
        "label": phase.kind.label,
        "title": phase.title,
        "intro": phase.intro,
        "opens_at": _iso(phase.opens_at),
        "closes_at": _iso(phase.closes_at),
        "state": state.value,
        "state_label": state.label,
        "questions": _questions(phase),
        "allow_comments": phase.allow_comments,
        "allow_proposals": phase.allow_proposals,
        "responses": counts["responses"],
        "comments": counts["comments"],
        "page_url": url_for(
            "consultation_pages.phase_page", code=phase.project.code, kind=phase.kind.value
        ),
    }
    if staff:
        view["pending"] = counts["pending"]
        view["plate_url"] = plates.plate_url(phase.project.code, phase.kind.value)
    return view


def _photo_urls(project: ConsultationProject) -> list[dict[str, str]]:
    return [{"url": media_privacy.public_url(p.media)} for p in project.photos]


def _district(project: ConsultationProject) -> str | None:
    if not project.district_code:
        return None
    if not has_request_context():
        return regions.district_names().get(project.district_code)
    if "cs_districts" not in g:  # once per request: a list names many projects' districts
        g.cs_districts = regions.district_names()
    return g.cs_districts.get(project.district_code)


def project_view(project: ConsultationProject, *, staff: bool = False) -> dict[str, Any]:
    """A project with its phases in their order (3.4 queries: the phases' counts)."""
    phases = sorted(project.phases, key=lambda p: PHASE_ORDER.index(p.kind))
    counts = phase_counts(p.id for p in phases)
    view = {
        "code": project.code,
        "name": project.name,
        "kind": project.kind.value,
        "kind_label": project.kind.label,
        "status": project.status.value,
        "status_label": project.status.label,
        "description": project.description,
        "address": project.address,
        "lat": project.lat,
        "lng": project.lng,
        "coord_sys": "gcj02",
        "area": project.area,
        "district": _district(project),
        "department": project.department.name,
        "photos": _photo_urls(project),
        "published_at": _iso(project.published_at),
        "result_note": project.result_note,
        "result_published_at": _iso(project.result_published_at),
        "participants": sum(c["responses"] for c in counts.values()),
        "phases": [phase_view(p, counts[p.id], staff=staff) for p in phases],
        "page_url": url_for("consultation_pages.project_page", code=project.code),
    }
    if staff:
        view |= {
            "id": project.id,
            "version": project.version,
            "department_id": project.department_id,
            "district_code": project.district_code,
            "region_id": project.region_id,
            "created_by": project.created_by.display_name if project.created_by else None,
            "created_at": _iso(project.created_at),
            "closed_at": _iso(project.closed_at),
            "plate_url": plates.plate_url(project.code),
            "photos": [
                {"id": p.media.public_id, "url": media_service.signed_url(p.media).url}
                for p in project.photos
            ],
            "pending": sum(c["pending"] for c in counts.values()),
        }
    return view


def list_item(project: ConsultationProject, participants: int, *, staff: bool = False) -> dict:
    """A project in a list (no phases' details)."""
    first = project.photos[0] if project.photos else None
    item = {
        "code": project.code,
        "name": project.name,
        "kind": project.kind.value,
        "kind_label": project.kind.label,
        "status": project.status.value,
        "status_label": project.status.label,
        "district": _district(project),
        "address": project.address,
        "participants": participants,
        "phases": [
            {
                "kind": p.kind.value,
                "short": p.kind.short,
                "state": service.phase_state(p).value,
                "state_label": service.phase_state(p).label,
            }
            for p in sorted(project.phases, key=lambda p: PHASE_ORDER.index(p.kind))
        ],
        "published_at": _iso(project.published_at),
        "cover": media_privacy.public_url(first.media) if first and not staff else None,
    }
    if staff:
        item |= {
            "id": project.id,
            "department": project.department.name,
            "created_at": _iso(project.created_at),
        }
    return item


def participants_by_project(project_ids: Iterable[int]) -> dict[int, int]:
    """Responses per project (one grouped query)."""
    ids = list(project_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(ConsultationPhase.project_id, func.count(ConsultationResponse.id))
        .join(ConsultationResponse, ConsultationResponse.phase_id == ConsultationPhase.id)
        .where(ConsultationPhase.project_id.in_(ids))
        .group_by(ConsultationPhase.project_id)
    )
    return dict(rows.all())


def comment_view(comment: ConsultationComment, viewer_id: int | None = None) -> dict[str, Any]:
    """A comment as citizens read it: masked author; "待审核" on the author's own pending one."""
    return {
        "id": comment.id,
        "kind": comment.kind.value,
        "kind_label": comment.kind.label,
        "body": comment.body,
        "author": masked_name(comment.user.nickname) if comment.user else ANONYMOUS,
        "created_at": _iso(comment.created_at),
        "status": comment.status.value,
        "status_label": comment.status.label,
        "own": viewer_id is not None and comment.user_id == viewer_id,
    }


def staff_comment_view(comment: ConsultationComment) -> dict[str, Any]:
    """A comment in the moderation queue (the author masked there too)."""
    return comment_view(comment) | {
        "project_id": comment.project_id,
        "project": comment.project.name,
        "project_code": comment.project.code,
        "phase": comment.phase.kind.value,
        "phase_label": comment.phase.kind.short,
        "reject_reason": comment.reject_reason,
        "moderated_by": comment.moderated_by.display_name if comment.moderated_by else None,
        "moderated_at": _iso(comment.moderated_at),
    }


def response_view(response: ConsultationResponse | None) -> dict[str, Any]:
    """The citizen's own answers in a phase (empty before the first submission)."""
    if response is None:
        return {"answers": {}, "submitted": False, "updated_at": None}
    return {"answers": response.answers, "submitted": True, "updated_at": _iso(response.updated_at)}
