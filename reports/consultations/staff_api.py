"""Staff API of project consultations: projects and their phases, publishing and closing, the
results, exports and QR plates, the result note (participants are notified), and moderation.

Projects are run by dispatchers and handlers (admins hold every role) for their department and
the units below it (``app.auth.scope``); reviewers moderate comments too.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from app import audit
from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import NotFound
from app.extensions import db
from reports.consultations import notices, participation, plates, present, results, service
from reports.consultations.models import ConsultationProject, PhaseKind
from reports.consultations.schemas import (
    ConsultationModerateIn,
    ConsultationPhaseIn,
    ConsultationProjectIn,
    ConsultationProjectPatch,
    ConsultationResultIn,
    ExportArgs,
    ModerationArgs,
    PlateArgs,
    StaffListArgs,
)

blp = Blueprint(
    "staff_consultations",
    __name__,
    url_prefix="/api/v1/staff/consultations",
    description="项目征询：项目与阶段、结果统计与导出、二维码、结果公示、留言审核（工作人员）",
)

RUNNERS = (Role.DISPATCHER, Role.HANDLER)
MODERATORS = (Role.DISPATCHER, Role.HANDLER, Role.REVIEWER)
FILE_DOC = {"200": {"description": "A file: CSV (UTF-8 with BOM) or XLSX; PNG, SVG or PDF"}}
IMAGE_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def _kind(kind: str) -> PhaseKind:
    try:
        return PhaseKind(kind)
    except ValueError:
        raise NotFound("没有这个征询阶段", code="phase_not_found") from None


def _view(project: ConsultationProject) -> dict:
    return present.project_view(project, staff=True)


@blp.route("/projects")
class Projects(MethodView):
    @staff_required(*RUNNERS)
    @blp.arguments(StaffListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Projects in the account's scope, newest first; by status, kind and name."""
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
        return {
            "items": [present.list_item(p, counts.get(p.id, 0), staff=True) for p in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }

    @staff_required(*RUNNERS)
    @blp.arguments(ConsultationProjectIn)
    @blp.response(201)
    @document_errors(blp, 401, 403, 422)
    def post(self, body, staff):
        """A new project (a draft): name, kind, description, place (a point and/or an area),
        the responsible unit (default: the account's department), photos."""
        project = service.create_project(staff, body)
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>")
class Project(MethodView):
    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def get(self, project_id, staff):
        """A project with its phases (questions, dates, counts) and plate URLs."""
        return _view(service.project_for_staff(staff, project_id))

    @staff_required(*RUNNERS)
    @blp.arguments(ConsultationProjectPatch)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, project_id, staff):
        """Change a project (not once ended); photos added to a published project are
        published at once."""
        project = service.update_project(staff, service.project_for_staff(staff, project_id), body)
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>/phases/<kind>")
class Phase(MethodView):
    @staff_required(*RUNNERS)
    @blp.arguments(ConsultationPhaseIn)
    @blp.response(200)
    @blp.alt_response(201, description="The phase was created")
    @document_errors(blp, 401, 403, 404, 409, 422)
    def put(self, body, project_id, kind, staff):
        """Set a phase (needs 问需, proposals 问计, outcome 问效): dates, questions, comments and
        proposals allowed. The questions cannot change once someone answered."""
        project = service.project_for_staff(staff, project_id)
        _, created = service.set_phase(staff, project, _kind(kind), body)
        commit()
        return _view(project), 201 if created else 200

    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409)
    def delete(self, project_id, kind, staff):
        """Remove a phase nobody took part in."""
        project = service.project_for_staff(staff, project_id)
        service.delete_phase(staff, project, _kind(kind))
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>/phases/<kind>/close")
class ClosePhase(MethodView):
    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def post(self, project_id, kind, staff):
        """Close a phase now (no more answers or comments); idempotent."""
        project = service.project_for_staff(staff, project_id)
        service.close_phase(staff, service.phase_of(project, _kind(kind).value))
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>/publish")
class Publish(MethodView):
    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409)
    def post(self, project_id, staff):
        """Publish a draft: its page, plates and phases go live, its photos become public.
        Idempotent; 409 without a phase."""
        project = service.project_for_staff(staff, project_id)
        service.publish(staff, project)
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>/close")
class Close(MethodView):
    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409)
    def post(self, project_id, staff):
        """End a published project: every phase closes. Idempotent."""
        project = service.project_for_staff(staff, project_id)
        service.close_project(staff, project)
        commit()
        return _view(project)


@blp.route("/projects/<int:project_id>/result")
class Result(MethodView):
    @staff_required(*RUNNERS)
    @blp.arguments(ConsultationResultIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, project_id, staff):
        """Publish (or correct) the result note (结果公示). The first time, everyone who took part
        is notified (through the outbox, once, however often this is sent)."""
        project = service.project_for_staff(staff, project_id)
        notified = notices.publish_result(staff, project, body["text"])
        commit()
        return _view(project) | {"notified": notified}


@blp.route("/projects/<int:project_id>/results")
class Results(MethodView):
    @staff_required(*RUNNERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def get(self, project_id, staff):
        """Per phase: responses, participation by day, each question's tally (options' counts
        and shares, ratings' distribution and average, the latest texts), comments by status."""
        return results.project_results(service.project_for_staff(staff, project_id))


@blp.route("/projects/<int:project_id>/export")
class Export(MethodView):
    @staff_required(*RUNNERS)
    @blp.arguments(ExportArgs, location="query")
    @blp.doc(responses=FILE_DOC)
    @document_errors(blp, 401, 403, 404, 422)
    def get(self, args, project_id, staff):
        """The results as XLSX (汇总, 答卷 per phase, 留言与建议) or one part as CSV. No names,
        phones or accounts: a response is known by its number. Audited."""
        project = service.project_for_staff(staff, project_id)
        audit.record(
            "consultation.export",
            "consultation_project",
            project.id,
            actor=staff,
            format=args["format"],
            part=args["part"],
        )
        commit()
        if args["format"] == "xlsx":
            return results.xlsx_file(project)
        return results.csv_file(project, args["part"])


@blp.route("/projects/<int:project_id>/plate")
class Plate(MethodView):
    @staff_required(*RUNNERS)
    @blp.arguments(PlateArgs, location="query")
    @blp.doc(responses=FILE_DOC)
    @document_errors(blp, 401, 403, 404, 422)
    def get(self, args, project_id, staff):
        """The QR plate of the project or one phase: PNG or SVG of the code, or an A4 PDF plate
        with the name, the phase, the dates and the responsible unit."""
        project = service.project_for_staff(staff, project_id)
        phase = service.phase_of(project, args["phase"]) if args["phase"] else None
        url = plates.plate_url(project.code, args["phase"])
        fmt = args["format"]
        if fmt == "pdf":
            dates = (
                f"{present.local_day(phase.opens_at)} 至 {present.local_day(phase.closes_at)}"
                if phase
                else None
            )
            body = plates.pdf(
                url,
                name=project.name,
                phase=args["phase"],
                phase_label=phase.kind.label if phase else None,
                dates=dates,
                unit=project.department.name,
                code=project.code,
            )
        else:
            body = plates.png(url) if fmt == "png" else plates.svg(url)
        name = f"plate-{project.code}{'-' + args['phase'] if phase else ''}.{fmt}"
        resp = Response(body, mimetype=IMAGE_TYPES[fmt])
        resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
        resp.headers["Cache-Control"] = "private, no-cache"
        return resp


@blp.route("/comments")
class Comments(MethodView):
    @staff_required(*MODERATORS)
    @blp.arguments(ModerationArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Comments and proposals of the projects in the account's scope (by status and
        project), oldest first: the moderation queue."""
        query = participation.moderation_queue(staff, args["status"], args["project_id"])
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = db.session.scalars(
            query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
        ).all()
        return {
            "items": [present.staff_comment_view(c) for c in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/comments/<int:comment_id>/moderation")
class Moderate(MethodView):
    @staff_required(*MODERATORS)
    @blp.arguments(ConsultationModerateIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 422)
    def post(self, body, comment_id, staff):
        """Approve a comment or proposal (everyone sees it) or reject it (only its author sees
        it, as not passed); a decision may be changed later. Idempotent."""
        comment = participation.moderate(
            staff, comment_id, body["decision"] == "approve", body.get("reason")
        )
        commit()
        return present.staff_comment_view(comment)
