"""The citizen's data and account: GET /api/v1/me/data, DELETE /api/v1/me."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

import marshmallow as ma
from flask import jsonify, request, session
from flask.views import MethodView
from flask_smorest import Blueprint

from app import privacy
from app.apispec import document_errors
from app.auth.current import bearer_token, current_citizen
from app.db import commit
from app.errors import Forbidden, Unauthorized, ValidationFailed
from app.extensions import limiter
from app.ratelimits import public_limit

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="我的数据与账号注销")

KEY_PATTERN = r"^[\x21-\x7e]{8,64}$"  # visible ASCII
IDEMPOTENCY_DOC = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string", "pattern": KEY_PATTERN},
    "description": "Parallel or retried requests with the same key make one deletion and all "
    "get its record (200), also after the account is gone.",
}


class DataOut(ma.Schema):
    exported_at = ma.fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    sections = ma.fields.Dict(
        keys=ma.fields.String(),
        required=True,
        metadata={"description": "account: the account itself; then one entry per feature"},
    )


class DeleteIn(ma.Schema):
    confirm = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(
            [privacy.CONFIRM_PHRASE], error=f"请输入“{privacy.CONFIRM_PHRASE}”以确认注销账号"
        ),
        metadata={"description": f"Must be “{privacy.CONFIRM_PHRASE}”"},
    )


class DeletionOut(ma.Schema):
    deleted_at = ma.fields.DateTime(required=True)
    steps = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Rows each step deleted or anonymised"},
    )
    message = ma.fields.String(required=True)


def receipt(deletion: privacy.AccountDeletion) -> dict[str, Any]:
    """What the citizen is told about their deletion."""
    return {"deleted_at": deletion.created_at, "steps": deletion.steps,
            "message": "账号已注销：个人信息已删除，您上报的问题记录已匿名保留"}  # fmt: skip


def citizen_only():
    """The signed-in citizen; 401 anonymous, 403 staff."""
    user = current_citizen()
    if user is None:
        if bearer_token() is not None:
            raise Forbidden("仅限市民使用", code="citizen_only")
        raise Unauthorized()
    return user


def header_key() -> str:
    """The Idempotency-Key header as sent (stripped; may be empty)."""
    return request.headers.get("Idempotency-Key", "").strip()


def replay_or_citizen(view: Callable[..., Any]) -> Callable[..., Any]:
    """A request whose key already deleted an account gets that record (the token it carries
    died with the account); anything else needs a signed-in citizen, passed as ``citizen``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = header_key()
        done = privacy.deletion_for_key(key) if re.fullmatch(KEY_PATTERN, key) else None
        if done is not None:
            return jsonify(DeletionOut().dump(receipt(done)))
        return view(*args, citizen=citizen_only(), **kwargs)

    return wrapper


@blp.route("/data")
class MyData(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, DataOut)
    @document_errors(blp, 401, 403, 429)
    def get(self):
        """Everything the app holds about the signed-in citizen (PIPL: the right to know and to a
        copy): the account, its WeChat bindings and uploads, and each feature's records."""
        return privacy.export_user(citizen_only())


@blp.route("")
class Me(MethodView):
    decorators = [limiter.limit(public_limit)]

    @replay_or_citizen
    @blp.arguments(DeleteIn)
    @blp.doc(parameters=[IDEMPOTENCY_DOC])
    @blp.response(200, DeletionOut)
    @document_errors(blp, 401, 403, 409, 422, 429)
    def delete(self, body, citizen):
        """Delete the signed-in citizen's account (PIPL: the right to deletion).

        Body ``{"confirm": "确认注销"}`` and an Idempotency-Key. The WeChat bindings, nickname and
        phone are deleted and every sign-in ends; reports stay as city records without the
        person (contact details removed). 409 ``rewards_unsettled`` while a 车窗抛物 reward is
        owed or being paid. A later sign-in with the same WeChat starts a new, empty account."""
        key = header_key()
        if not re.fullmatch(KEY_PATTERN, key):
            raise ValidationFailed(fields={"Idempotency-Key": ["请提供8至64个可见ASCII字符"]})
        deletion, _ = privacy.delete_account(citizen, key, body["confirm"])
        commit()
        session.pop("citizen_id", None)
        return receipt(deletion)
