"""The observers' API (网络舆情): the queue, an item, its actions, and the counts.

Observers are dispatchers (the command centre's 受理 seats) and admins. Every action is
idempotent (reports.opinion.service): a double click or parallel requests make one case.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit, utcnow
from app.errors import NotFound
from reports import reference
from reports.opinion import present, queries, service
from reports.opinion.models import Satisfaction
from reports.opinion.schemas import (
    OpinionCaseIn,
    OpinionCountArgs,
    OpinionFollowupIn,
    OpinionIrrelevantIn,
    OpinionItemListArgs,
    OpinionReplyIn,
)

blp = Blueprint(
    "staff_opinion",
    __name__,
    url_prefix="/api/v1/staff/opinion",
    description="网络舆情：监测队列、转为案件、答复与回访、统计（工作人员）",
)

OBSERVERS = (Role.DISPATCHER,)  # admins hold every role


@blp.route("/items")
class Items(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionItemListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Posts by state (待处理 pending, 已转案件 case, 无关 irrelevant), source and month."""
        rows, total = queries.page(queries.items(staff, args), args)
        return {
            "items": [present.item_view(i) for i in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/items/<int:item_id>")
class Item(MethodView):
    @staff_required(*OBSERVERS)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def get(self, item_id, staff):
        """One post with its text, the filter's verdict and what observers recorded."""
        return present.item_view(queries.item_for(staff, item_id), detail=True)


@blp.route("/items/<int:item_id>/case")
class ToCase(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionCaseIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, item_id, staff):
        """转为案件 (channel 网络舆情): once; a repeat answers with the case made the first time."""
        queries.item_for(staff, item_id)
        if body.get("category") and reference.category_by_code(body["category"]) is None:
            raise NotFound(f"问题类别不存在：{body['category']}", code="category_not_found")
        req = service.CaseRequest(**body)
        item, created = service.to_case(item_id, staff, req)
        commit()
        return present.item_view(item, detail=True) | {"created": created}


@blp.route("/items/<int:item_id>/irrelevant")
class Irrelevant(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionIrrelevantIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, item_id, staff):
        """标记无关 (409 once it is a case)."""
        queries.item_for(staff, item_id)
        item = service.mark_irrelevant(item_id, staff, body.get("note"))
        commit()
        return present.item_view(item, detail=True)


@blp.route("/items/<int:item_id>/reply")
class Reply(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionReplyIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, item_id, staff):
        """答复: what was answered on the board and when (after 转为案件; once)."""
        queries.item_for(staff, item_id)
        at = body.get("replied_at")
        item = service.record_reply(item_id, staff, body["text"], min(at, utcnow()) if at else None)
        commit()
        return present.item_view(item, detail=True)


@blp.route("/items/<int:item_id>/followup")
class Followup(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionFollowupIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def post(self, body, item_id, staff):
        """回访: the poster's answer after the reply (once)."""
        queries.item_for(staff, item_id)
        item = service.record_followup(
            item_id, staff, body["result"], Satisfaction(body["satisfaction"])
        )
        commit()
        return present.item_view(item, detail=True)


@blp.route("/counts")
class Counts(MethodView):
    @staff_required(*OBSERVERS)
    @blp.arguments(OpinionCountArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 401, 403, 422)
    def get(self, args, staff):
        """Found, relevant, made cases, replied, followed up: per month of a year (local time,
        this year by default) and per year."""
        return service.counts(args.get("year") or service.local_year())
