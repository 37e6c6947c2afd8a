"""Staff API: queues, a case with its full timeline, workflow actions, hotline/patrol entry."""

from __future__ import annotations

from functools import wraps

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm.exc import StaleDataError

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import check_version, commit
from app.errors import Conflict, Forbidden
from app.extensions import db
from reports import present, queries, service, workflow
from reports.api import REPORT_IDEMPOTENCY_DOC, idempotency_key, load_body, submit_with_uploads
from reports.models import Channel
from reports.schemas import (
    ActionIn,
    CoordArgs,
    QueueArgs,
    StaffQueueOut,
    StaffReportForm,
    StaffReportIn,
    StaffReportOut,
    submission_doc,
)
from reports.transitions import Params, transition

STALE = "案件已被他人更新，请刷新后重试"
blp = Blueprint("staff_reports", __name__, url_prefix="/api/v1/staff/reports",
                description="案件办理（工作人员）")  # fmt: skip


@blp.route("")
class StaffReports(MethodView):
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, StaffQueueOut)
    @document_errors(blp, 401, 403, 422)
    @staff_required()
    def get(self, args, staff):
        """Cases in this account's scope: triage (state=reported), by state, overdue, filters."""
        items, total = queries.staff_queue(staff, args)
        return {"items": [present.queue_item(r) for r in items], "total": total,
                "page": args["page"], "per_page": args["per_page"]}  # fmt: skip

    @blp.doc(
        requestBody=submission_doc(StaffReportIn, StaffReportForm),
        parameters=[REPORT_IDEMPOTENCY_DOC],
    )
    @blp.response(201, StaffReportOut)
    @blp.alt_response(200, schema=StaffReportOut, description="A retry: the report this key made")
    @document_errors(blp, 401, 403, 413, 415, 422, 503)
    @staff_required(Role.DISPATCHER, Role.INSPECTOR)
    def post(self, staff):
        """Enter a report: a hotline call (dispatchers) or a patrol finding (inspectors)."""
        data = load_body(StaffReportIn(), StaffReportForm())
        channel = Channel(data["channel"])
        needed = Role.DISPATCHER if channel == Channel.HOTLINE else Role.INSPECTOR
        if not staff.has_role(needed):
            raise Forbidden("您的角色不能录入此类上报", code="role_forbidden")
        sub = service.Submission(
            description=data["description"], channel=channel, lat=data.get("lat"),
            lng=data.get("lng"), coord_sys=data["coord_sys"], address=data.get("address"),
            category_code=data.get("category"), photo_ids=data["photos"],
            shop_id=data.get("shop_id"), idempotency_key=idempotency_key(),
            contact_phone=data.get("contact_phone"), answers=data.get("answers"),
            photos_required=channel == Channel.INSPECTOR)  # fmt: skip
        report, status = submit_with_uploads(sub, f"staff:{staff.id}", staff=staff)
        return present.staff_view(report, staff, data["coord_sys"]), status


@blp.route("/<number>")
class StaffReportDetail(MethodView):
    @blp.arguments(CoordArgs, location="query")
    @blp.response(200, StaffReportOut)
    @document_errors(blp, 401, 403, 404)
    @staff_required()
    def get(self, args, number, staff):
        """A case with its full timeline and the actions this account may take now."""
        return present.staff_view(queries.staff_report(staff, number), staff, args["coord_sys"])


def _action_role_required(view):
    """The role check of the action named in the path, before the body is read: a caller whose
    roles never allow it hears 403 rather than the body's field errors (unknown action: 404)."""

    @wraps(view)
    def wrapper(*args, action: str, staff, **kwargs):
        if (refused := workflow.role_refusal(staff, workflow.action_named(action))) is not None:
            raise refused
        return view(*args, action=action, staff=staff, **kwargs)

    return wrapper


@blp.route("/<number>/actions/<action>")
class StaffReportAction(MethodView):
    # Outermost: anonymous, citizen and wrong-role callers hear so before the body is read.
    @staff_required()
    @_action_role_required
    @blp.arguments(ActionIn)
    @blp.response(200, StaffReportOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, number, action, staff):
        """Take a workflow action (register, reject, dispatch, redispatch, accept, return,
        feedback, verify_pass, verify_fail, request/approve/deny_extension, suspend, resume,
        void, merge, archive). 409 if the case's state does not allow it or it changed
        meanwhile; 422 for a missing or wrong parameter (redispatch to the same department,
        feedback without a 5-500 character public_reply)."""
        report = queries.staff_report(staff, number)
        check_version(report, body.get("version"), STALE)
        ext = body.get("extension") or {}
        params = Params(note=body.get("note"), reason=body.get("reason"),
                        department_id=body.get("department_id"),
                        category_code=body.get("category"), photo_ids=body["photos"],
                        extension_amount=ext.get("amount"), extension_unit=ext.get("unit"),
                        target_number=body.get("target"),
                        public_reply=body.get("public_reply"))  # fmt: skip
        try:
            transition(report, action, staff, params)
            commit()
        except StaleDataError:
            db.session.rollback()
            raise Conflict(STALE, code="stale_version") from None
        return present.staff_view(report, staff)
