"""Project consultations: reading projects (the public's and staff's, with the scope rule), and
what staff do with projects and phases (create, edit, place and photos, publish, close).
Citizens' answers, comments, moderation and personal data: ``reports.consultations.participation``.

Services flush, never commit. Staff act within their department scope (``app.auth.scope``:
a project is its responsible department's, and lies in a region and a district).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app import audit
from app.auth import scope
from app.auth.models import Department, StaffUser
from app.db import check_version, flush_versioned, utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.geo import coords, regions, shapes
from app.media import privacy as media_privacy
from app.media.models import Media
from reports.consultations import questions as qs
from reports.consultations.models import (
    ConsultationComment,
    ConsultationPhase,
    ConsultationPhoto,
    ConsultationProject,
    ConsultationResponse,
    PhaseKind,
    PhaseState,
    ProjectKind,
    ProjectStatus,
)

log = logging.getLogger(__name__)
MAX_PHOTOS = 9
OUT_OF_SCOPE = "该项目不在您的管辖范围内"
NOT_FOUND = "未找到该征询项目"
STALE = "项目已被他人修改，请刷新后重试"
PLACE_FIELDS = ("lat", "lng", "coord_sys", "area")


# ---------------------------------------------------------------- reading, with the scope rule


def scoped(query: Select, staff: StaffUser) -> Select:
    """``query`` on projects, limited to what the account may act for."""
    return scope.restrict(
        query,
        staff,
        department=ConsultationProject.department_id,
        region=ConsultationProject.region_id,
        district=ConsultationProject.district_code,
    )


def project_for_staff(staff: StaffUser, project_id: int) -> ConsultationProject:
    """A project the account may see: 404 if none, 403 out of its scope."""
    project = db.session.get(ConsultationProject, project_id)
    if project is None:
        raise NotFound(NOT_FOUND, code="project_not_found")
    scope.require(staff, OUT_OF_SCOPE, department_id=project.department_id)
    return project


def public_project(code: str) -> ConsultationProject:
    """A published (or ended) project by its plate code, any case; 404 for drafts."""
    project = db.session.scalar(
        select(ConsultationProject).where(ConsultationProject.code == code.strip().upper()[:12])
    )
    if project is None or project.status == ProjectStatus.DRAFT:
        raise NotFound(NOT_FOUND, code="project_not_found")
    return project


def phase_of(project: ConsultationProject, kind: str) -> ConsultationPhase:
    """The project's phase of ``kind`` (needs, proposals, outcome); 404 if it has none."""
    try:
        phase = project.phase(PhaseKind(kind))
    except ValueError:
        phase = None
    if phase is None:
        raise NotFound("该项目没有这个征询阶段", code="phase_not_found")
    return phase


def phase_state(phase: ConsultationPhase, now: datetime | None = None) -> PhaseState:
    """Upcoming, open or closed, from the project's status and the phase's dates."""
    status = phase.project.status
    if status == ProjectStatus.CLOSED:
        return PhaseState.CLOSED
    now = now or utcnow()
    if status == ProjectStatus.DRAFT or now < phase.opens_at:
        return PhaseState.UPCOMING
    return PhaseState.OPEN if now < phase.closes_at else PhaseState.CLOSED


def published_projects(kind: str | None = None) -> Select:
    """Public projects, newest first (optionally one kind)."""
    query = select(ConsultationProject).where(ConsultationProject.status != ProjectStatus.DRAFT)
    if kind:
        query = query.where(ConsultationProject.kind == ProjectKind(kind))
    return query.order_by(ConsultationProject.published_at.desc(), ConsultationProject.id.desc())


# ---------------------------------------------------------------- projects (staff)


def _place(data: dict[str, Any]) -> dict[str, Any]:
    """The project's GCJ-02 point, polygon, region and district; 422 outside the city."""
    coord_sys = data.get("coord_sys") or "gcj02"
    area = shape = None
    if data.get("area"):
        try:
            rings = [
                [list(coords.to_canonical(lat, lng, coord_sys)[::-1]) for lng, lat in ring]
                for ring in data["area"]["coordinates"]
            ]
            area = {
                "type": "Polygon",
                "coordinates": [[[round(x, 7) for x in p] for p in ring] for ring in rings],
            }
            shape = shapes.shape_from_geojson(area)
            if shape.area_m2 < 1:
                raise ValueError("no area")
        except ValueError:
            raise ValidationFailed(fields={"area": ["范围不是有效的多边形"]}) from None
    if data.get("lat") is not None:
        lat, lng = coords.to_canonical(data["lat"], data["lng"], coord_sys)
        if shape is not None and not shapes.contains(shape, lat, lng):
            raise ValidationFailed(fields={"lat": ["标注位置应在项目范围内"]})
    elif shape is not None:
        lat, lng = shapes.representative_point(shape)
    else:
        raise ValidationFailed(fields={"lat": ["请在地图上标注项目位置或范围"]})
    try:
        where = regions.where(lat, lng)
    except regions.OutsideCity as exc:
        raise ValidationFailed(fields={"lat": [str(exc)]}) from None
    return {
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "area": area,
        "region_id": where.region.id if where.region else None,
        "district_code": where.district.code if where.district else None,
    }


def _department(staff: StaffUser, department_id: int | None) -> Department:
    """The responsible department: the one named, else the account's; in the account's scope."""
    department_id = department_id or staff.department_id
    if department_id is None:
        raise ValidationFailed(fields={"department_id": ["请选择负责部门"]})
    department = db.session.get(Department, department_id)
    if department is None or not department.is_active:
        raise ValidationFailed(fields={"department_id": ["部门不存在或已停用"]})
    scope.require(staff, "只能为本部门及下级单位创建项目", department_id=department.id)
    return department


def _photos(project: ConsultationProject, media_ids: list[str]) -> None:
    """Replace the project's photos by these uploads of staff (in this order)."""
    if len(media_ids) > MAX_PHOTOS or len(set(media_ids)) != len(media_ids):
        raise ValidationFailed(fields={"photos": [f"最多{MAX_PHOTOS}张照片，且不能重复"]})
    found = (
        {
            m.public_id: m
            for m in db.session.scalars(select(Media).where(Media.public_id.in_(media_ids)))
        }
        if media_ids
        else {}
    )
    bad = [
        i
        for i in media_ids
        if i not in found or found[i].staff_id is None or found[i].kind != "image"
    ]
    if bad:
        raise ValidationFailed(fields={"photos": ["照片不存在，请重新上传"]})
    keep = {p.media_id: p for p in project.photos}
    project.photos = [keep.get(found[i].id) or ConsultationPhoto(media=found[i]) for i in media_ids]
    for position, photo in enumerate(project.photos):
        photo.position = position


def create_project(staff: StaffUser, data: dict[str, Any]) -> ConsultationProject:
    """A new project (a draft, for staff only until published)."""
    department = _department(staff, data.get("department_id"))
    project = ConsultationProject(
        kind=ProjectKind(data["kind"]),
        name=data["name"].strip(),
        description=data["description"].strip(),
        address=(data.get("address") or "").strip() or None,
        department=department,
        status=ProjectStatus.DRAFT,
        created_by=staff,
        **_place(data),
    )
    db.session.add(project)
    _photos(project, data.get("photos") or [])
    db.session.flush()
    audit.record(
        "consultation.create", "consultation_project", project.id, actor=staff, name=project.name
    )
    log.info("consultation project %s created by %s", project.code, staff.username)
    return project


def update_project(
    staff: StaffUser, project: ConsultationProject, data: dict[str, Any]
) -> ConsultationProject:
    """Change a project's fields (not once it ended); 409 if someone else changed it first."""
    check_version(project, data.get("version"), STALE)
    if project.status == ProjectStatus.CLOSED:
        raise Conflict("项目已结束，不能再修改", code="project_closed")
    if "department_id" in data:
        project.department = _department(staff, data["department_id"])
    for name in ("name", "description"):
        if name in data:
            setattr(project, name, data[name].strip())
    if "address" in data:
        project.address = (data["address"] or "").strip() or None
    if "kind" in data:
        project.kind = ProjectKind(data["kind"])
    if any(name in data for name in PLACE_FIELDS):
        given = {
            "lat": project.lat,
            "lng": project.lng,
            "coord_sys": "gcj02",
            "area": project.area,
        } | {k: data[k] for k in PLACE_FIELDS if k in data}
        for name, value in _place(given).items():
            setattr(project, name, value)
    if "photos" in data:
        _photos(project, data["photos"])
        if project.status != ProjectStatus.DRAFT:
            _publish_photos(project)
    flush_versioned(STALE)
    audit.record(
        "consultation.update",
        "consultation_project",
        project.id,
        actor=staff,
        fields=sorted(k for k in data if k != "version"),
    )
    return project


def _publish_photos(project: ConsultationProject) -> None:
    """The public (blurred) copies of the project's photos, made once."""
    for photo in project.photos:
        media_privacy.publish(photo.media)


def publish(staff: StaffUser, project: ConsultationProject) -> bool:
    """Publish a draft (its photos become public, its phases open by their dates); False if it
    was published already. 409 without a phase or once ended."""
    if project.status == ProjectStatus.PUBLISHED:
        return False
    if project.status == ProjectStatus.CLOSED:
        raise Conflict("项目已结束，不能再发布", code="project_closed")
    if not project.phases:
        raise Conflict("请先设置至少一个征询阶段", code="no_phases")
    _publish_photos(project)
    project.status, project.published_at = ProjectStatus.PUBLISHED, utcnow()
    flush_versioned(STALE)
    audit.record("consultation.publish", "consultation_project", project.id, actor=staff)
    log.info("consultation project %s published by %s", project.code, staff.username)
    return True


def close_project(staff: StaffUser, project: ConsultationProject) -> bool:
    """End a published project (every phase closes); False if it had ended already."""
    if project.status == ProjectStatus.CLOSED:
        return False
    if project.status == ProjectStatus.DRAFT:
        raise Conflict("草稿不能结束，请先发布", code="project_draft")
    project.status, project.closed_at = ProjectStatus.CLOSED, utcnow()
    flush_versioned(STALE)
    audit.record("consultation.close", "consultation_project", project.id, actor=staff)
    return True


# ---------------------------------------------------------------- phases (staff)


def has_entries(phase: ConsultationPhase) -> bool:
    """True once a citizen answered or commented in the phase."""
    found = select(ConsultationResponse.id).where(ConsultationResponse.phase_id == phase.id)
    said = select(ConsultationComment.id).where(ConsultationComment.phase_id == phase.id)
    return db.session.scalar(found.union_all(said).limit(1)) is not None


def set_phase(
    staff: StaffUser, project: ConsultationProject, kind: PhaseKind, data: dict[str, Any]
) -> tuple[ConsultationPhase, bool]:
    """Create or replace the project's phase of ``kind``: (phase, created). The questions are
    frozen once a citizen answered (409 questions_frozen)."""
    if project.status == ProjectStatus.CLOSED:
        raise Conflict("项目已结束，不能再修改", code="project_closed")
    if data["opens_at"] >= data["closes_at"]:
        raise ValidationFailed(fields={"closes_at": ["结束时间应晚于开始时间"]})
    questions = qs.normalise_questions(data["questions"])
    if not questions and not (data["allow_comments"] or data["allow_proposals"]):
        raise ValidationFailed(fields={"questions": ["请至少设置一道题，或允许留言、建议"]})
    phase = project.phase(kind)
    created = phase is None
    if created:
        phase = ConsultationPhase(project=project, kind=kind)
        db.session.add(phase)
    elif phase.questions != questions and has_entries(phase):
        raise Conflict("已有市民参与，题目不能再修改（可修改时间和说明）", code="questions_frozen")
    phase.title = data.get("title") or kind.label
    phase.intro = (data.get("intro") or "").strip() or None
    phase.opens_at, phase.closes_at = data["opens_at"], data["closes_at"]
    phase.questions = questions
    phase.allow_comments, phase.allow_proposals = data["allow_comments"], data["allow_proposals"]
    db.session.flush()
    audit.record(
        "consultation.phase",
        "consultation_project",
        project.id,
        actor=staff,
        phase=kind.value,
        created=created,
    )
    return phase, created


def delete_phase(staff: StaffUser, project: ConsultationProject, kind: PhaseKind) -> None:
    """Remove a phase nobody took part in (409 once someone did)."""
    phase = phase_of(project, kind.value)
    if has_entries(phase):
        raise Conflict("已有市民参与，该阶段不能删除", code="phase_has_entries")
    project.phases.remove(phase)
    db.session.flush()
    audit.record(
        "consultation.phase_delete",
        "consultation_project",
        project.id,
        actor=staff,
        phase=kind.value,
    )


def close_phase(staff: StaffUser, phase: ConsultationPhase) -> bool:
    """Close a phase now (an upcoming one never opens); False if it was closed already."""
    now = utcnow()
    if phase_state(phase, now) == PhaseState.CLOSED:
        return False
    phase.closes_at = now
    phase.opens_at = min(phase.opens_at, now)
    db.session.flush()
    audit.record(
        "consultation.phase_close",
        "consultation_project",
        phase.project_id,
        actor=staff,
        phase=phase.kind.value,
    )
    return True
