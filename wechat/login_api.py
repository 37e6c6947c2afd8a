"""Mini-program sign-in: a ``wx.login()`` code exchanged at WeChat for our bearer token.

It shares the /api/v1/auth prefix with the shell's sign-in API; it lives here because only
``wechat`` talks to WeChat.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth import service
from app.auth.api import citizen_view
from app.auth.models import WechatApp
from app.auth.schemas import CitizenTokenOut, MiniProgramLoginIn
from app.db import commit
from app.extensions import limiter
from app.ratelimits import login_limit
from wechat import service as wx

blp = Blueprint("wechat_login", __name__, url_prefix="/api/v1/auth", description="登录与令牌")


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
        session = wx.miniprogram_code_to_session(body["code"])
        user, is_new = service.citizen_from_wechat(
            WechatApp.MINIPROGRAM,
            session.app_id,
            session.openid,
            unionid=session.unionid,
            session_key=session.session_key,
        )
        raw, token = service.issue_token(user=user)
        commit()
        return {
            "token": raw,
            "token_type": "Bearer",
            "expires_at": token.expires_at,
            "user": citizen_view(user),
            "is_new": is_new,
        }
