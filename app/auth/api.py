"""Sign-in API: mini-program code exchange, staff login for scripts, sign-out, who am I."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth import service
from app.auth.current import bearer_token, citizen_required, staff_required
from app.auth.models import WechatApp
from app.auth.schemas import (
    CitizenOut,
    CitizenTokenOut,
    MiniProgramLoginIn,
    StaffLoginIn,
    StaffOut,
    StaffTokenOut,
)
from app.errors import BadRequest
from app.extensions import db, limiter
from app.ratelimits import login_limit, public_limit

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌")


def citizen_view(user) -> dict:
    """A citizen as returned to themselves."""
    return {
        "id": user.id,
        "nickname": user.nickname,
        "apps": sorted({i.app_kind.value for i in user.identities}),
    }


@blp.route("/miniprogram")
class MiniProgramLogin(MethodView):
    decorators = [limiter.limit(login_limit)]

    @blp.arguments(MiniProgramLoginIn)
    @blp.response(200, CitizenTokenOut)
    @document_errors(blp, 401, 403, 422, 429, 502, 503)
    def post(self, body):
        """Exchange a wx.login() code for our bearer token.

        WeChat errors: 40029 (invalid code) -> 401 wechat_code_invalid, 45011 -> 429,
        40226 (high-risk user) -> 403, -1 (busy) or unreachable -> 503.
        """
        from wechat import service as wx

        session = wx.miniprogram_code_to_session(body["code"])
        user, is_new = service.citizen_from_wechat(
            WechatApp.MINIPROGRAM,
            session.app_id,
            session.openid,
            unionid=session.unionid,
            session_key=session.session_key,
        )
        raw, token = service.issue_token(user=user)
        db.session.commit()
        return {
            "token": raw,
            "token_type": "Bearer",
            "expires_at": token.expires_at,
            "user": citizen_view(user),
            "is_new": is_new,
        }


@blp.route("/staff/login")
class StaffLogin(MethodView):
    decorators = [limiter.limit(login_limit)]

    @blp.arguments(StaffLoginIn)
    @blp.response(200, StaffTokenOut)
    @document_errors(blp, 401, 403, 422, 429)
    def post(self, body):
        """Staff sign-in for scripts: a bearer token that expires after STAFF_TOKEN_TTL_HOURS."""
        try:
            staff = service.authenticate_staff(body["username"], body["password"])
        except (service.LoginFailed, service.AccountLocked):
            db.session.commit()  # keep the failure count and lock
            raise
        raw, token = service.issue_token(staff=staff)
        db.session.commit()
        return {
            "token": raw,
            "token_type": "Bearer",
            "expires_at": token.expires_at,
            "staff": staff,
        }


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(204)
    @document_errors(blp, 400, 401)
    def post(self):
        """Revoke the bearer token this request carries."""
        token = bearer_token()
        if token is None:
            raise BadRequest("此接口只用于注销令牌", code="no_token")
        service.revoke_token(token)
        db.session.commit()


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
