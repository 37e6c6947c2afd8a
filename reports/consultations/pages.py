"""Project consultation pages: the citizen's H5 pages (the projects, a project, a phase to answer,
vote, comment and propose: what a plate's QR opens) and the staff console (projects, the project
editor with its map, a phase's question editor, a project's results with charts and its map,
plates, export, the result note, and the moderation queue).

Pages read through the same service and presenters as the JSON APIs; every write goes through
those APIs from the page scripts (static/consultations/), which check roles, scope and CSRF
again. Anyone may read a public project; taking part asks for the public-account sign-in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, render_template, request, url_for
from sqlalchemy import func, select

from app.auth import scope
from app.auth.current import current_citizen
from app.auth.models import Department, Role, StaffUser
from app.console import add_todos, nav_item, render, staff_page
from app.errors import NotFound
from app.extensions import db, limiter
from app.geo import api as geo_api
from app.ratelimits import public_limit
from reports.consultations import participation, present, results, service
from reports.consultations.models import (
    COMMENT_STATUS_LABELS,
    KIND_LABELS,
    PHASE_LABELS,
    PHASE_ORDER,
    QUESTION_LABELS,
    STATUS_LABELS,
    CommentKind,
    ConsultationProject,
    PhaseKind,
)
from reports.consultations.schemas import ModerationArgs, StaffListArgs
from reports.opinion.pages import load_args, local_time

bp = Blueprint(
    "consultation_pages",
    __name__,
    template_folder="templates",
    static_folder="static/consultations",
    static_url_path="/static/consultations",
)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
RUNNERS = (Role.DISPATCHER, Role.HANDLER)
MODERATORS = (Role.DISPATCHER, Role.HANDLER, Role.REVIEWER)
STAFF_API = "/api/v1/staff/consultations"
CITIZEN_API = "/api/v1/consultations"
COMMENTS_SHOWN = 20
TABS = (("projects", "征询项目"), ("moderation", "留言审核"))


# The city-time filter and the forgiving query-string reader are the opinion console's.
bp.add_app_template_filter(local_time, "cs_time")


def _pager(page: int, per_page: int, total: int) -> dict[str, Any]:
    args = request.args.to_dict()

    def link(number: int) -> str:
        return url_for(request.endpoint, **(request.view_args or {}), **(args | {"page": number}))

    return {
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page * per_page < total else None,
        "page": page,
        "pages": max(1, -(-total // per_page)),
        "total": total,
    }


# ---------------------------------------------------------------- citizens (H5)


@bp.get("/h5/consultations")
@limiter.limit(public_limit)
def projects_page():
    """项目征询: the published projects, newest first."""
    rows = db.session.scalars(service.published_projects().limit(50)).all()
    counts = present.participants_by_project(p.id for p in rows)
    items = [present.list_item(p, counts.get(p.id, 0)) for p in rows]
    return render_template("consultations/h5/projects.html", items=items)


@bp.get("/h5/consultations/<code>")
@limiter.limit(public_limit)
def project_page(code: str):
    """A project as its plate opens it: photos, what and where, the phases, the result note."""
    project = present.project_view(service.public_project(code))
    return render_template(
        "consultations/h5/project.html", p=project, map_config=geo_api.map_config()
    )


@bp.get("/h5/consultations/<code>/<kind>")
@limiter.limit(public_limit)
def phase_page(code: str, kind: str):
    """A phase: its questions to answer (the citizen's earlier answers filled in, changeable
    while it is open), comments and proposals; signing in is asked for before taking part."""
    project = service.public_project(code)
    phase = service.phase_of(project, kind)
    citizen = current_citizen()
    view = present.project_view(project)
    shown = next(p for p in view["phases"] if p["kind"] == kind)
    comments = db.session.scalars(
        participation.visible_comments(phase, citizen).limit(COMMENTS_SHOWN)
    )
    mine = present.response_view(participation.my_response(citizen, phase) if citizen else None)
    api = f"{CITIZEN_API}/projects/{project.code}/phases/{kind}"
    return render_template(
        "consultations/h5/phase.html",
        p=view,
        phase=shown,
        mine=mine,
        signed_in=bool(citizen),
        comments=[present.comment_view(c, citizen.id if citizen else None) for c in comments],
        login_url=url_for("wechat.oauth_start", next=request.full_path.rstrip("?")),
        config={
            "response": f"{api}/response",
            "comments": f"{api}/comments",
            "open": shown["state"] == "open",
            "signedIn": bool(citizen),
        },
        comment_kinds=[(k.value, k.label) for k in CommentKind],
    )


# ---------------------------------------------------------------- staff (console)


def _frame(template: str, staff: StaffUser, tab: str, **context: Any) -> str:
    return render(
        template,
        staff,
        tabs=TABS,
        tab=tab,
        can_run=staff.has_role(*RUNNERS),
        api=STAFF_API,
        **context,
    )


def department_options(staff: StaffUser) -> list[tuple[int, str]]:
    """The active departments the account may make responsible for a project."""
    rows = db.session.execute(
        select(Department.id, Department.name)
        .where(Department.is_active.is_(True))
        .order_by(Department.code)
    )
    return [(i, name) for i, name in rows if scope.covers(staff, department_id=i)]


@nav_item("项目征询", MODERATORS, order=26, endpoint="consultation_pages.console_projects")
@bp.get("/console/consultations")
@staff_page(*MODERATORS)
def console_projects(staff: StaffUser):
    """The projects in the account's scope (reviewers: to the moderation queue)."""
    args = load_args(StaffListArgs())
    query = service.scoped(select(ConsultationProject), staff)
    if args["status"]:
        query = query.where(ConsultationProject.status == args["status"])
    if args["kind"]:
        query = query.where(ConsultationProject.kind == args["kind"])
    if args["q"]:
        query = query.where(ConsultationProject.name.contains(args["q"], autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(ConsultationProject.id.desc())
        .limit(args["per_page"])
        .offset((args["page"] - 1) * args["per_page"])
    ).all()
    counts = present.participants_by_project(p.id for p in rows)
    return _frame(
        "consultations/console/projects.html",
        staff,
        "projects",
        items=[present.list_item(p, counts.get(p.id, 0), staff=True) for p in rows],
        filters={k: args.get(k) or "" for k in ("status", "kind", "q")},
        statuses=list(STATUS_LABELS.items()),
        kinds=list(KIND_LABELS.items()),
        pager=_pager(args["page"], args["per_page"], total),
    )


def _editor(staff: StaffUser, project: dict[str, Any] | None):
    return _frame(
        "consultations/console/edit.html",
        staff,
        "projects",
        project=project,
        kinds=list(KIND_LABELS.items()),
        departments=department_options(staff),
        map_config=geo_api.map_config(),
    )


@bp.get("/console/consultations/new")
@staff_page(*RUNNERS)
def console_new(staff: StaffUser):
    """A new project: name, kind, unit, description, place on the map, photos."""
    return _editor(staff, None)


@bp.get("/console/consultations/<int:project_id>/edit")
@staff_page(*RUNNERS)
def console_edit(project_id: int, staff: StaffUser):
    """Change a project's fields, place and photos."""
    return _editor(staff, present.project_view(_project(staff, project_id), staff=True))


def _project(staff: StaffUser, project_id: int) -> ConsultationProject:
    """The project, 404 outside the account's scope too (a page does not say it exists)."""
    project = db.session.get(ConsultationProject, project_id)
    if project is None or not scope.covers(staff, department_id=project.department_id):
        raise NotFound(service.NOT_FOUND, code="project_not_found")
    return project


@bp.get("/console/consultations/<int:project_id>")
@staff_page(*RUNNERS)
def console_project(project_id: int, staff: StaffUser):
    """A project: its phases, plates, results (charts and map), export, the result note and
    its comments to moderate."""
    project = _project(staff, project_id)
    view = present.project_view(project, staff=True)
    comments = db.session.scalars(
        participation.moderation_queue(staff, None, project.id).limit(100)
    ).all()
    return _frame(
        "consultations/console/project.html",
        staff,
        "projects",
        p=view,
        results=results.project_results(project),
        map_config=geo_api.map_config(),
        comments=[present.staff_comment_view(c) for c in comments],
        missing=[(k.value, k.label) for k in PHASE_ORDER if project.phase(k) is None],
    )


@bp.get("/console/consultations/<int:project_id>/phases/<kind>")
@staff_page(*RUNNERS)
def console_phase(project_id: int, kind: str, staff: StaffUser):
    """A phase's dates, introduction and questions (a new phase starts from a template)."""
    project = _project(staff, project_id)
    try:
        phase_kind = PhaseKind(kind)
    except ValueError:
        raise NotFound("没有这个征询阶段", code="phase_not_found") from None
    view = present.project_view(project, staff=True)
    phase = next((p for p in view["phases"] if p["kind"] == kind), None)
    frozen = bool(phase and (phase["responses"] or service.has_entries(project.phase(phase_kind))))
    return _frame(
        "consultations/console/phase.html",
        staff,
        "projects",
        p=view,
        kind=kind,
        kind_label=PHASE_LABELS[phase_kind],
        phase=phase or _template(phase_kind),
        frozen=frozen,
        is_new=phase is None,
        question_kinds=list(QUESTION_LABELS.items()),
    )


def _template(kind: PhaseKind) -> dict[str, Any]:
    """What a new phase starts from: two weeks from tomorrow, a first question of its kind."""
    start = (datetime.now(LOCAL_TZ) + timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    first = {
        PhaseKind.NEEDS: {
            "kind": "multiple",
            "title": "您最希望这里增加哪些设施？",
            "options": ["座椅", "儿童游乐设施", "健身器材", "照明", "绿化"],
            "required": True,
            "max_choices": 3,
        },
        PhaseKind.PROPOSALS: {
            "kind": "single",
            "title": "您支持哪个设计方案？",
            "options": ["方案一", "方案二"],
            "required": True,
        },
        PhaseKind.OUTCOME: {
            "kind": "rating",
            "title": "您对建成效果的总体满意度",
            "options": [],
            "required": True,
        },
    }[kind]
    return {
        "kind": kind.value,
        "title": kind.label,
        "intro": "",
        "opens_at": start.isoformat(),
        "closes_at": (start + timedelta(days=14)).isoformat(),
        "questions": [first],
        "allow_comments": True,
        "allow_proposals": kind == PhaseKind.PROPOSALS,
    }


@bp.get("/console/consultations/moderation")
@staff_page(*MODERATORS)
def console_moderation(staff: StaffUser):
    """Comments and proposals to approve or reject (pending by default)."""
    args = load_args(ModerationArgs())
    if "status" not in request.args:
        args["status"] = "pending"
    query = participation.moderation_queue(staff, args["status"], args["project_id"])
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
    ).all()
    return _frame(
        "consultations/console/moderation.html",
        staff,
        "moderation",
        items=[present.staff_comment_view(c) for c in rows],
        status=args["status"] or "",
        statuses=list(COMMENT_STATUS_LABELS.items()),
        pager=_pager(args["page"], args["per_page"], total),
    )


def todos(staff: StaffUser) -> list[dict[str, Any]]:
    """待审核的征询留言 on the console home, for moderators."""
    if not staff.has_role(*MODERATORS):
        return []
    count = participation.pending_count(staff)
    return (
        [
            {
                "label": "待审核征询留言",
                "count": count,
                "url": url_for("consultation_pages.console_moderation"),
                "urgent": False,
            }
        ]
        if count
        else []
    )


def init_app(app: Flask) -> None:
    """Register the pages and the console to-do count."""
    app.register_blueprint(bp)
    add_todos(app, todos)
