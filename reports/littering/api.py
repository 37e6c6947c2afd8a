"""Citizen API of 车窗抛物: report with evidence, plate suggestions, follow reports and rewards."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.apispec import document_errors
from app.auth.current import citizen_required
from app.db import commit
from app.errors import NotFound
from app.extensions import db, limiter
from app.ratelimits import public_limit, report_limit
from reports.api import IDEMPOTENCY_DOC, citizen_key, idempotency_key, load_body
from reports.littering import present, service
from reports.littering.models import EntryState, LitteringReport, RewardEntry
from reports.littering.rules import yuan
from reports.littering.schemas import LitteringIn, PageArgs, SuggestIn

blp = Blueprint(
    "littering", __name__, url_prefix="/api/v1/littering", description="车窗抛物举报（市民）"
)

DEVICE_DOC = {
    "in": "header",
    "name": "X-Device-Id",
    "schema": {"type": "string", "maxLength": 64},
    "description": "The mini-program's device id (fraud signals only).",
}


def _device_id() -> str | None:
    raw = request.headers.get("X-Device-Id", "").strip()
    return raw[:64] if raw and raw.isascii() and raw.isprintable() else None


@blp.route("/reports")
class LitteringReports(MethodView):
    decorators = [limiter.limit(report_limit, key_func=citizen_key, methods=["POST"])]

    @blp.doc(
        requestBody={"required": True, "content": {"application/json": {"schema": LitteringIn}}},
        parameters=[IDEMPOTENCY_DOC, DEVICE_DOC],
    )
    @blp.response(201)
    @blp.alt_response(200, description="A retry: the report this key created")
    @document_errors(blp, 401, 422, 429)
    @citizen_required
    def post(self, citizen):
        """Report rubbish thrown from a vehicle: plate, time, place and 2-9 photos or a video."""
        data = load_body(LitteringIn())
        sub = service.Submission(
            plate=data["plate"],
            plate_colour=data["plate_colour"],
            occurred_at=data["occurred_at"],
            media_ids=data["media"],
            lat=data["lat"],
            lng=data["lng"],
            coord_sys=data["coord_sys"],
            address=data["address"],
            vehicle_type=data["vehicle_type"],
            vehicle_colour=data["vehicle_colour"],
            description=data["description"],
            payee_name=data["payee_name"],
            device_id=_device_id(),
            client_ip=request.remote_addr,
            idempotency_key=idempotency_key(),
        )
        try:
            report, created = service.submit(sub, citizen)
            commit()
        except IntegrityError:
            db.session.rollback()  # a concurrent retry with the same key won the race
            report = service.find_by_key(service.scoped_key(citizen, sub.idempotency_key))
            if report is None:
                raise
            created = False
        return present.citizen_view(report), 201 if created else 200

    @citizen_required
    @blp.arguments(PageArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 422)
    def get(self, args, citizen):
        """My littering reports, newest first, with my reward totals."""
        base = select(LitteringReport).where(LitteringReport.reporter_id == citizen.id)
        total = db.session.scalar(select(func.count()).select_from(base.subquery()))
        rows = db.session.scalars(
            base.order_by(LitteringReport.id.desc())
            .offset((args["page"] - 1) * args["per_page"])
            .limit(args["per_page"])
        ).all()
        return {
            "items": [present.citizen_view(r, detail=False) for r in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
            "rewards": reward_totals(citizen.id),
        }


def reward_totals(user_id: int) -> dict:
    """The citizen's reward totals: received, on the way, and how many to confirm."""
    rows = db.session.execute(
        select(RewardEntry.state, func.count(), func.coalesce(func.sum(RewardEntry.amount_fen), 0))
        .where(RewardEntry.user_id == user_id)
        .group_by(RewardEntry.state)
    ).all()
    by_state = {EntryState(s): (int(n), int(fen)) for s, n, fen in rows}
    paid = by_state.get(EntryState.PAID, (0, 0))[1]
    pending = sum(
        fen for s, (_n, fen) in by_state.items() if s not in (EntryState.PAID, EntryState.CANCELLED)
    )
    return {
        "paid_fen": paid,
        "paid_yuan": yuan(paid),
        "pending_fen": pending,
        "pending_yuan": yuan(pending),
    }


def own_report(citizen, number: str) -> LitteringReport:
    """One of this citizen's reports; 404 for anyone else's."""
    report = db.session.scalar(
        select(LitteringReport).where(
            LitteringReport.number == number, LitteringReport.reporter_id == citizen.id
        )
    )
    if report is None:
        raise NotFound("未找到该举报", code="report_not_found")
    return report


@blp.route("/reports/<number>")
class LitteringReportDetail(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 404)
    @citizen_required
    def get(self, number, citizen):
        """One of my reports: status, reason, reward, and what confirming receipt needs."""
        return present.citizen_view(own_report(citizen, number))


@blp.route("/plate-suggestions")
class PlateSuggestions(MethodView):
    decorators = [limiter.limit(public_limit, key_func=citizen_key)]

    @citizen_required
    @blp.arguments(SuggestIn)
    @blp.response(200)
    @document_errors(blp, 401, 422, 429)
    def post(self, body, citizen):
        """Plates read by OCR from my uploaded photos: a suggestion to check, never trusted."""
        return {
            "suggestions": service.suggest_for_media(service.owned_media(body["media"], citizen))
        }
