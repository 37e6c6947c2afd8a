"""Finance API of 车窗抛物 rewards: the ledger, batches with four eyes, payouts, failures, flags,
reconciliation and the monthly report. Every money action is in the audit log."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import Conflict, NotFound
from app.extensions import db
from app.media.models import Media
from reports.api import IDEMPOTENCY_DOC, idempotency_key
from reports.littering import exports, ledger, payouts, present, queries, reconcile
from reports.littering.models import (
    Channel,
    PayoutBatch,
    PayoutFlag,
    ReconciliationRun,
)
from reports.littering.schemas import (
    BatchIn,
    CancelIn,
    EntryArgs,
    MonthArgs,
    OfflineIn,
    PayoutArgs,
    RetryIn,
)

blp = Blueprint(
    "littering_finance",
    __name__,
    url_prefix="/api/v1/staff/rewards",
    description="车窗抛物奖励发放（财务）",
)

FINANCE = (Role.FINANCE,)
# On a write with a body the role check is the outermost decorator: a caller who may not act
# is told so (401/403) before the body is validated (422).


@blp.route("")
class Rewards(MethodView):
    @blp.arguments(EntryArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    @staff_required(*FINANCE)
    def get(self, args, staff):
        """Rewards by state (accrued: to batch; approved: to pay again), oldest first."""
        rows, total = queries.page(queries.rewards(args["state"]), args)
        check = ledger.check()
        return {
            "items": [present.entry_item(e) for e in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
            "totals": {
                "accrued_fen": check.accrued_fen,
                "paid_fen": check.paid_fen,
                "pending_fen": check.pending_fen,
                "cancelled_fen": check.cancelled_fen,
                "ledger_ok": check.ok,
            },
        }


@blp.route("/<int:entry_id>/retry")
class Retry(MethodView):
    @staff_required(*FINANCE)
    @blp.arguments(RetryIn)
    @blp.response(201)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, entry_id, staff):
        """Pay a reward again after its transfer failed, expired or was cancelled, or could not
        be paid by WeChat (``channel``: offline hands it to bank or cash)."""
        channel = Channel(body["channel"]) if body["channel"] else None
        payout = payouts.retry(queries.entry_by_id(entry_id, lock=True), staff, channel)
        try:
            commit()
        except IntegrityError:  # a parallel retry made the live payout first
            db.session.rollback()
            raise Conflict("该奖励已在发放中", code="payout_live") from None
        return present.payout_view(payout), 201


@blp.route("/<int:entry_id>/cancel")
class CancelReward(MethodView):
    @staff_required(*FINANCE)
    @blp.arguments(CancelIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, entry_id, staff):
        """Cancel a reward that is not being paid (with the reason)."""
        entry = ledger.cancel(queries.entry_by_id(entry_id, lock=True), staff, body["reason"])
        commit()
        return present.entry_item(entry)


@blp.route("/batches")
class Batches(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required(*FINANCE)
    def get(self, staff):
        """Batches, newest first."""
        rows = db.session.scalars(select(PayoutBatch).order_by(PayoutBatch.id.desc()).limit(200))
        return {"items": [present.batch_view(b) for b in rows]}

    @staff_required(*FINANCE)
    @blp.arguments(BatchIn)
    @blp.doc(parameters=[IDEMPOTENCY_DOC])
    @blp.response(201)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Prepare a batch of accrued rewards; another account must release it."""
        key = idempotency_key()
        try:
            batch = payouts.prepare_batch(
                staff,
                Channel(body["channel"]),
                body["entry_ids"],
                limit=body["limit"],
                note=body["note"],
                idempotency_key=key,
            )
            commit()
        except IntegrityError:  # the same key, twice at once: the first one's batch
            db.session.rollback()
            batch = payouts.batch_by_key(f"staff:{staff.id}:{key}" if key else None)
            if batch is None:
                raise
        return present.batch_view(batch, entries=True), 201


@blp.route("/batches/<number>")
class BatchDetail(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    @staff_required(*FINANCE)
    def get(self, number, staff):
        """A batch with its rewards and their payouts."""
        return present.batch_view(queries.batch_by_number(number), entries=True)


@blp.route("/batches/<number>/release")
class Release(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409)
    @staff_required(Role.FINANCE, Role.ADMIN)
    def post(self, number, staff):
        """Release a batch someone else prepared: its rewards are approved and paid."""
        batch = payouts.release_batch(queries.batch_by_number(number), staff)
        commit()
        return present.batch_view(batch, entries=True)


@blp.route("/batches/<number>/cancel")
class CancelBatch(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409)
    @staff_required(*FINANCE)
    def post(self, number, staff):
        """Withdraw a prepared batch; its rewards can be batched again."""
        batch = payouts.cancel_batch(queries.batch_by_number(number), staff)
        commit()
        return present.batch_view(batch)


@blp.route("/payouts")
class Payouts(MethodView):
    @blp.arguments(PayoutArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    @staff_required(*FINANCE)
    def get(self, args, staff):
        """Payouts by state (failed: the failure queue; offline_pending: to record)."""
        rows, total = queries.page(queries.payouts(args["state"]), args)
        return {
            "items": [
                present.payout_view(p) | {"entry_id": p.entry_id, "report": p.entry.report.number}
                for p in rows
            ],
            "total": total,
        }


@blp.route("/payouts/<number>/offline")
class RecordOffline(MethodView):
    @staff_required(*FINANCE)
    @blp.arguments(OfflineIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, number, staff):
        """Record an offline payment with its bank or receipt reference and a voucher scan."""
        attachment = None
        if body["attachment"]:
            attachment = db.session.scalar(
                select(Media).where(
                    Media.public_id == body["attachment"], Media.staff_id == staff.id
                )
            )
            if attachment is None:
                raise NotFound("凭证文件不存在", code="media_not_found")
        payout = payouts.record_offline(
            queries.payout_by_number(number, lock=True),
            staff,
            body["reference"],
            attachment.id if attachment else None,
        )
        commit()
        return present.payout_view(payout)


@blp.route("/flags")
class Flags(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required(*FINANCE)
    def get(self, staff):
        """What WeChat Pay said that did not match the ledger (never applied)."""
        rows = db.session.scalars(select(PayoutFlag).order_by(PayoutFlag.id.desc()).limit(500))
        return {
            "items": [
                {
                    "id": f.id,
                    "out_bill_no": f.out_bill_no,
                    "kind": f.kind,
                    "detail": f.detail,
                    "created_at": f.created_at.isoformat(),
                    "resolved": f.resolved_at is not None,
                }
                for f in rows
            ]
        }


@blp.route("/reconciliation")
class Reconciliation(MethodView):
    @blp.response(200)
    @document_errors(blp, 401, 403)
    @staff_required(*FINANCE)
    def get(self, staff):
        """The latest reconciliation runs (`flask rewards reconcile`, run daily by the worker)."""
        rows = db.session.scalars(
            select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(60)
        )
        return {"items": [reconcile.run_view(r) for r in rows], "ledger": ledger.check().__dict__}


@blp.route("/monthly")
class Monthly(MethodView):
    @blp.arguments(MonthArgs, location="query")
    @blp.doc(responses={"200": {"description": "JSON rows, or a CSV or XLSX file"}})
    @document_errors(blp, 401, 403, 422)
    @staff_required(Role.FINANCE, Role.REVIEWER)
    def get(self, args, staff):
        """Received, valid, rewarded and paid by month (JSON, CSV or XLSX)."""
        rows = reconcile.monthly(args["year"])
        if args["format"] == "json":
            return {"items": rows}
        return exports.monthly(rows, args["format"], request.args.get("year"))
