"""Citizen API: choosing to hear about one's cases (订阅消息, 关注公众号), said plainly."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from app.apispec import document_errors
from app.auth.current import citizen_required
from app.db import commit
from app.errors import ValidationFailed
from app.extensions import limiter
from app.ratelimits import public_limit
from reports.api import IDEMPOTENCY_DOC, citizen_key, idempotency_key
from wechat import subscriptions

blp = Blueprint(
    "report_notifications",
    __name__,
    url_prefix="/api/v1/notifications",
    description="办理进展通知（订阅消息、关注公众号）",
)
KEY_DOC = IDEMPOTENCY_DOC | {
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[!-~]+$"},
    "description": "One per subscribe prompt: a retry with the same key adds nothing.",
}


class MiniProgramOptions(ma.Schema):
    template_ids = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "tmplIds to pass to wx.requestSubscribeMessage at submission"},
    )
    long_term = ma.fields.Boolean()
    remaining = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "messages the citizen's acceptances still allow (null: long-term)"
        },
    )
    explain = ma.fields.String()


class PublicAccountOptions(ma.Schema):
    name = ma.fields.String()
    follow_url = ma.fields.String(metadata={"description": "what the follow QR code holds"})
    explain = ma.fields.String()


class NotifyOptionsOut(ma.Schema):
    """What a citizen can choose, and what each choice gives."""

    miniprogram = ma.fields.Nested(MiniProgramOptions)
    public_account = ma.fields.Nested(PublicAccountOptions)
    always = ma.fields.String()


KEY_MISSING = "请为每次订阅结果提供唯一的请求标识"
ANSWERS = ("accept", "reject", "ban", "filter")


class SubscribeIn(ma.Schema):
    """The result of wx.requestSubscribeMessage, as the mini-program got it."""

    results = ma.fields.Dict(
        keys=ma.fields.String(),  # a template id; ones we did not ask for are ignored
        values=ma.fields.String(validate=validate.OneOf(ANSWERS, error="未知的订阅结果")),
        required=True,
        validate=validate.Length(min=1, max=3),
        metadata={
            "example": {"tmpl-id": "accept"},
            "minProperties": 1,
            "maxProperties": 3,
            "propertyNames": {"minLength": 1, "maxLength": 64},
        },
    )
    report = ma.fields.String(
        validate=validate.Length(max=20),
        allow_none=True,
        metadata={"description": "the case the prompt was shown for"},
    )


@blp.route("/options")
class Options(MethodView):
    decorators = [limiter.limit(public_limit)]

    @citizen_required
    @blp.response(200, NotifyOptionsOut)
    @document_errors(blp, 401, 403, 429)
    def get(self, citizen):
        """The templates to ask for, how many messages the citizen's consent allows, and the
        public account to follow."""
        return subscriptions.options(citizen.id)


@blp.route("/subscribe")
class Subscribe(MethodView):
    decorators = [limiter.limit(public_limit, key_func=citizen_key)]

    @citizen_required  # outermost: a caller who may not subscribe hears so before the body
    @blp.arguments(SubscribeIn)
    @blp.doc(parameters=[KEY_DOC])
    @blp.response(200, NotifyOptionsOut)
    @document_errors(blp, 401, 403, 422, 429)
    def post(self, body, citizen):
        """Keep the citizen's answers to the subscribe prompt: each "accept" lets one message
        through (kept for the case's result). Unknown templates are ignored."""
        key = idempotency_key()
        if key is None:
            raise ValidationFailed(fields={"Idempotency-Key": [KEY_MISSING]})
        subscriptions.record(citizen.id, body["results"], key, body.get("report"))
        commit()
        return subscriptions.options(citizen.id)
