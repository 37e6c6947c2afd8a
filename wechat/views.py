"""Public-account H5 OAuth sign-in, and the emulator mount when WECHAT_EMULATOR is on."""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import Blueprint, Flask, current_app, redirect, request, session, url_for
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from app.auth.models import WechatApp
from app.auth.service import citizen_from_wechat
from app.db import commit
from app.errors import BadRequest, Forbidden
from app.extensions import limiter
from app.ratelimits import login_limit
from app.urls import safe_next
from wechat import service
from wechat.emulator import emulator_from_config

log = logging.getLogger(__name__)

bp = Blueprint("wechat", __name__, template_folder="templates")

PENDING_KEY = "wechat_oauth"


@bp.get("/auth/wechat")
@limiter.limit(login_limit)
def oauth_start():
    """Send the browser to WeChat's authorize page, remembering state and where to return."""
    state = secrets.token_urlsafe(24)
    target = safe_next(request.args.get("next"), url_for("h5.home"))
    session[PENDING_KEY] = {"state": state, "next": target}
    redirect_uri = current_app.config["PUBLIC_BASE_URL"] + url_for("wechat.oauth_callback")
    scope = current_app.config["WECHAT_OAUTH_SCOPE"]
    return redirect(service.oauth_authorize_url(redirect_uri, state, scope), 302)


@bp.get("/auth/wechat/callback")
@limiter.limit(login_limit)
def oauth_callback():
    """WeChat sends the browser back here with ?code&state: sign the citizen in."""
    pending = session.pop(PENDING_KEY, None)  # single use, whatever happens next
    state = request.args.get("state", "")
    expected = pending.get("state", "") if isinstance(pending, dict) else ""
    if not state or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        raise BadRequest("登录请求已失效，请返回重新登录", code="oauth_state_invalid")
    code = request.args.get("code", "")
    if not code:
        raise BadRequest("您已取消微信授权，未登录", code="oauth_denied")
    result = service.oauth_exchange(code)
    if result.is_snapshotuser:
        raise Forbidden(
            "当前为朋友圈快照页面，请点击页面下方“使用完整服务”后再登录",
            code="wechat_snapshot_user",
        )
    app_id = current_app.config["WECHAT_MP_APP_ID"]
    user, created = citizen_from_wechat(WechatApp.MP, app_id, result.openid, unionid=result.unionid)
    session.clear()  # a fresh session for the signed-in citizen (no fixation)
    session["citizen_id"] = user.id
    commit()
    log.info("citizen %s signed in via public-account OAuth (new=%s)", user.id, created)
    return redirect(pending["next"], 302)


def init_app(app: Flask) -> None:
    """Register the sign-in routes and, with WECHAT_EMULATOR, mount the emulator at /_wechat/."""
    app.register_blueprint(bp)
    if app.config.get("WECHAT_EMULATOR"):
        emulator = emulator_from_config(app.config)
        app.extensions["wechat_emulator"] = emulator
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/_wechat": emulator})  # type: ignore[method-assign]
