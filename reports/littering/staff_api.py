"""Staff API of 车窗抛物: the review queue and decisions, enforcement leads, rules and bans."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from app import audit
from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.geo.models import Region
from reports.littering import exports, present, queries, rules, service
from reports.littering.models import (
    INVALID_REASONS,
    Ban,
    Lead,
    LeadState,
    RewardRule,
)
from reports.littering.plates import PLATE_COLOURS
from reports.littering.schemas import BanIn, LeadArgs, LeadIn, ReviewIn, RuleIn, StaffListArgs

blp = Blueprint(
    "staff_littering",
    __name__,
    url_prefix="/api/v1/staff/littering",
    description="车窗抛物审核、违法线索与规则（工作人员）",
)

REVIEWERS = (Role.REVIEWER,)
ENFORCERS = (Role.HANDLER, Role.DISPATCHER, Role.REVIEWER)


@blp.route("/reports")
class ReviewQueue(MethodView):
    @staff_required(*REVIEWERS)
    @blp.arguments(StaffListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """The review queue (state=pending, oldest first) or reports by state and plate."""
        query = queries.review_queue(args["state"], args["plate"])
        rows, total = queries.page(query, args)
        return {
            "items": [present.staff_item(r) for r in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/reports/<number>")
class ReviewDetail(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    @staff_required(*REVIEWERS)
    def get(self, number, staff):
        """A report with its evidence, OCR suggestion, fraud signals and the same car's reports."""
        return present.staff_view(queries.report_by_number(number))


@blp.route("/reports/<number>/review")
class Review(MethodView):
    @staff_required(*REVIEWERS)
    @blp.arguments(ReviewIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, number, staff):
        """Decide: valid (a lead, and a reward for the first reporter) or invalid with a reason."""
        report = queries.report_by_number(number)
        service.review(report, staff, service.Decision(**body))
        commit()
        return present.staff_view(report)


@blp.route("/meta")
class Meta(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required()
    def get(self, staff):
        """Labels the pages use: invalid reasons, plate colours, lead states."""
        return {
            "invalid_reasons": INVALID_REASONS,
            "plate_colours": PLATE_COLOURS,
            "lead_states": {s.value: s for s in LeadState},
        }


# ---------------------------------------------------------------- leads (违法线索)


@blp.route("/leads")
class Leads(MethodView):
    @staff_required(*ENFORCERS)
    @blp.arguments(LeadArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Violation leads from valid reports, by state, for the enforcement unit."""
        rows, total = queries.page(queries.leads_in_scope(staff, args["state"]), args)
        return {
            "items": [present.lead_view(x) for x in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


FILE_DOC = {"200": {"description": "A CSV (UTF-8 with BOM) or XLSX file"}}


@blp.route("/leads/export")
class LeadsExport(MethodView):
    @staff_required(*ENFORCERS)
    @blp.arguments(LeadArgs, location="query")
    @blp.doc(responses=FILE_DOC)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """The leads as CSV or XLSX (plate, time, place, evidence count, status)."""
        rows = db.session.scalars(queries.leads_in_scope(staff, args["state"]).limit(50_000)).all()
        audit.record(
            "littering.leads.export",
            "littering_lead",
            "*",
            actor=staff,
            count=len(rows),
            format=args["format"],
        )
        commit()
        return exports.leads(rows, args["format"])


@blp.route("/leads/<int:lead_id>")
class LeadDetail(MethodView):
    @staff_required(*ENFORCERS)
    @blp.arguments(LeadIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, lead_id, staff):
        """Move a lead: 立案 (with the case number), 处罚 (with the penalty), 结案."""
        lead = db.session.scalar(queries.leads_in_scope(staff).where(Lead.id == lead_id))
        if lead is None:
            raise NotFound("未找到该线索", code="lead_not_found")
        service.update_lead(lead, staff, **body)
        commit()
        return present.lead_view(lead)


# ---------------------------------------------------------------- rules and bans (admins)


def rule_view(rule: RewardRule) -> dict:
    """A rule version as admins edit it."""
    return {name: getattr(rule, name) for name in rules.RULE_FIELDS} | {
        "version": rule.version,
        "created_at": rule.created_at.isoformat(),
    }


@blp.route("/rules")
class Rules(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required(Role.REVIEWER, Role.FINANCE)
    def get(self, staff):
        """The current rule and every earlier version."""
        current = rules.current_rule()
        commit()
        history = db.session.scalars(select(RewardRule).order_by(RewardRule.version.desc()))
        return {"current": rule_view(current), "history": [rule_view(r) for r in history]}

    @staff_required(Role.ADMIN)
    @blp.arguments(RuleIn)
    @blp.response(201)
    @document_errors(blp, 401, 403, 422)
    def post(self, body, staff):
        """Save a new version of the rules (decisions from now on apply it)."""
        if not body:
            raise Conflict("没有修改任何规则", code="nothing_changed")
        if "region_codes" in body:
            known = set(db.session.scalars(select(Region.code)))
            unknown = [c for c in body["region_codes"] if c not in known]
            if unknown:
                raise ValidationFailed(
                    fields={"region_codes": [f"区域不存在：{'、'.join(unknown)}"]}
                )
        rule = rules.save_rule(body, staff)
        commit()
        return rule_view(rule), 201


@blp.route("/bans")
class Bans(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required(*REVIEWERS)
    def get(self, staff):
        """The ban list."""
        rows = db.session.scalars(select(Ban).where(Ban.is_active.is_(True)).order_by(Ban.id))
        return {
            "items": [
                {"id": b.id, "kind": b.kind, "value": b.value, "reason": b.reason} for b in rows
            ]
        }

    @staff_required(Role.ADMIN, Role.REVIEWER)
    @blp.arguments(BanIn)
    @blp.response(201)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a citizen, a device or an address to the ban list (its reports are flagged)."""
        if not staff.has_role(Role.ADMIN) and not staff.has_role(Role.REVIEWER):
            raise Forbidden()
        ban = db.session.scalar(
            select(Ban).where(Ban.kind == body["kind"], Ban.value == body["value"])
        )
        if ban is None:
            ban = Ban(created_by_id=staff.id, **body)
            db.session.add(ban)
        ban.is_active, ban.reason = True, body["reason"]
        db.session.flush()
        audit.record("littering.ban", "littering_ban", ban.id, actor=staff, **body)
        commit()
        return {"id": ban.id, "kind": ban.kind, "value": ban.value, "reason": ban.reason}, 201
