"""Sign-in API: staff login for scripts, sign-out, who am I (the mini-program code exchange is
WeChat's, in ``wechat.login_api``, on the same /api/v1/auth prefix)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth import service
from app.auth.current import bearer_token, citizen_required, staff_required
from app.auth.schemas import (
    CitizenOut,
    StaffLoginIn,
    StaffOut,
    StaffTokenOut,
)
from app.db import commit
from app.errors import Unauthorized
from app.extensions import limiter
from app.ratelimits import login_limit, public_limit

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌")


def citizen_view(user) -> dict:
    """A citizen as returned to themselves."""
    return {
        "id": user.id,
        "nickname": user.nickname,
        "apps": sorted({i.app_kind.value for i in user.identities}),
    }


@blp.route("/staff/login")
class StaffLogin(MethodView):
    decorators = [limiter.limit(login_limit)]

    @blp.arguments(StaffLoginIn)
    @blp.response(200, StaffTokenOut)
    @document_errors(blp, 401, 422, 429)
    def post(self, body):
        """Staff sign-in for scripts: a bearer token that expires after STAFF_TOKEN_TTL_HOURS.

        Unknown user, wrong password and an account locked after LOGIN_MAX_FAILURES failures
        all answer the same 401 invalid_credentials."""
        try:
            staff = service.authenticate_staff(body["username"], body["password"])
        except service.LoginFailed:
            commit()  # keep the failure count and lock
            raise
        raw, token = service.issue_token(staff=staff)
        commit()
        return {
            "token": raw,
            "token_type": "Bearer",
            "expires_at": token.expires_at,
            "staff": staff,
        }


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @document_errors(blp, 401)
    def post(self):
        """Revoke the bearer token this request carries (a console session signs out at /logout)."""
        token = bearer_token()
        if token is None:
            raise Unauthorized("此接口只用于注销令牌，请求未携带令牌", code="no_token")
        service.revoke_token(token)
        commit()


@blp.route("/me")
class Me(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, CitizenOut)
    @document_errors(blp, 401)
    @citizen_required
    def get(self, citizen):
        """The signed-in citizen."""
        return citizen_view(citizen)


@blp.route("/staff/me")
class StaffMe(MethodView):
    @blp.response(200, StaffOut)
    @document_errors(blp, 401, 403)
    @staff_required()
    def get(self, staff):
        """The signed-in staff account."""
        return staff


__all__ = ["blp"]
