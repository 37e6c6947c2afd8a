"""WeChat operations used by the rest of the app: sign-in and notifications.

WeChat errors become our typed exceptions here (raised, never returned). Logs carry errcodes,
never the app secret, a session_key or an access token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests
from flask import current_app
from wechatpy.exceptions import WeChatClientException

from app.errors import AppError, Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized
from wechat import client as wxclient

log = logging.getLogger(__name__)

TOKEN_REJECTED = {40001, 42001}
# Worth retrying later: busy, rate limits, token trouble, network. Anything else will fail again.
TRANSIENT_ERRCODES = {None, -1, 45009, 45011, 40001, 42001}


@dataclass(frozen=True)
class MiniSession:
    """What sns/jscode2session tells us. session_key never leaves the server."""

    app_id: str
    openid: str
    unionid: str | None
    session_key: str


@dataclass(frozen=True)
class OAuthResult:
    """What sns/oauth2/access_token tells us about the person signing in."""

    openid: str
    unionid: str | None
    is_snapshotuser: bool
    scope: str


class WeChatError(AppError):
    """WeChat answered an error we do not map to something more specific."""

    status, code, message = 502, "wechat_error", "微信服务异常，请稍后再试"

    def __init__(self, message: str | None = None, *, errcode: int | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.errcode = errcode

    @property
    def retryable(self) -> bool:
        """True if sending again later may succeed (busy, rate limit, network)."""
        return self.errcode in TRANSIENT_ERRCODES


class MessageSendFailed(WeChatError):
    """A subscribe or template message was not delivered; ``errcode`` says why."""

    code, message = "wechat_send_failed", "微信消息发送失败"


def _errcode(exc: Exception) -> int | None:
    code = getattr(exc, "errcode", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def _sign_in_error(exc: Exception, api: str) -> AppError:
    """The typed exception for a failed sign-in call (code exchange)."""
    if isinstance(exc, requests.RequestException):
        # The exception text holds the URL and its query string (the secret): log the type only.
        log.warning("wechat %s unreachable: %s", api, type(exc).__name__)
        return ServiceUnavailable("暂时无法连接微信，请稍后再试", code="wechat_unavailable")
    errcode = _errcode(exc)
    log.warning("wechat %s failed: errcode=%s", api, errcode)
    if errcode in (40029, 40163):
        return Unauthorized("登录凭证无效或已过期，请重新登录", code="wechat_code_invalid")
    if errcode in (45011, 45009):
        return TooManyRequests("登录过于频繁，请稍后再试", code="wechat_rate_limited")
    if errcode == 40226:
        return Forbidden("当前微信账号存在安全风险，暂时无法登录", code="wechat_risky_user")
    if errcode == -1:
        return ServiceUnavailable("微信系统繁忙，请稍后再试", code="wechat_busy")
    if errcode is None:
        return ServiceUnavailable("暂时无法连接微信，请稍后再试", code="wechat_unavailable")
    return WeChatError(errcode=errcode)


def miniprogram_code_to_session(code: str) -> MiniSession:
    """Exchange a wx.login() code for the caller's openid (and unionid when bound)."""
    api = wxclient.mini_client()
    try:
        result = api.code_to_session(code)
    except (WeChatClientException, requests.RequestException) as exc:
        raise _sign_in_error(exc, "jscode2session") from None
    if not result.get("openid") or not result.get("session_key"):
        log.error("wechat jscode2session answered without openid or session_key")
        raise WeChatError()
    return MiniSession(
        app_id=api.appid,
        openid=result["openid"],
        unionid=result.get("unionid") or None,
        session_key=result["session_key"],
    )


def oauth_authorize_url(redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
    """The public-account authorize URL (ends in #wechat_redirect, as WeChat requires)."""
    return wxclient.oauth_client(redirect_uri, scope, state).authorize_url


def oauth_exchange(code: str) -> OAuthResult:
    """Exchange an OAuth code from the authorize redirect for the person's openid."""
    oauth = wxclient.oauth_client()
    try:
        result = oauth.fetch_access_token(code)
    except (WeChatClientException, requests.RequestException) as exc:
        raise _sign_in_error(exc, "oauth2/access_token") from None
    except (ValueError, KeyError):
        log.error("wechat oauth2/access_token answered something unexpected")
        raise WeChatError() from None
    return OAuthResult(
        openid=result["openid"],
        unionid=result.get("unionid") or None,
        is_snapshotuser=int(result.get("is_snapshotuser") or 0) == 1,
        scope=result.get("scope", ""),
    )


def _send(api: wxclient.ApiClient, path: str, body: dict[str, Any]) -> int | None:
    """POST a message; a rejected token (40001/42001) is refreshed once and the send retried."""
    try:
        token = api.access_token
        for attempt in (1, 2):
            try:
                return api.post_json(path, body, token).get("msgid")
            except WeChatClientException as exc:
                if attempt == 1 and _errcode(exc) in TOKEN_REJECTED:
                    log.info("wechat %s: token rejected (%s), refreshing", path, _errcode(exc))
                    token = api.refresh_after_rejection(token)
                    continue
                raise
    except requests.RequestException as exc:
        log.warning("wechat %s unreachable: %s", path, type(exc).__name__)
        raise MessageSendFailed(
            "暂时无法连接微信，请稍后再试", code="wechat_unavailable", errcode=None
        ) from None
    except WeChatClientException as exc:
        errcode = _errcode(exc)
        log.warning("wechat %s to %s failed: errcode=%s", path, body.get("touser"), errcode)
        raise MessageSendFailed(errcode=errcode) from None
    return None  # pragma: no cover - the loop returns or raises


def send_subscribe_message(
    openid: str, template_id: str, data: dict[str, Any], page: str | None = None
) -> int | None:
    """Send a mini-program subscribe message; returns WeChat's msgid."""
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "miniprogram_state": current_app.config["WECHAT_MINIPROGRAM_STATE"],
        "lang": "zh_CN",
    }
    if page:
        body["page"] = page
    return _send(wxclient.mini_client(), "cgi-bin/message/subscribe/send", body)


def send_template_message(
    openid: str, template_id: str, data: dict[str, Any], url: str | None = None
) -> int | None:
    """Send a public-account template message; returns WeChat's msgid."""
    body: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
    if url:
        body["url"] = url
    return _send(wxclient.mp_client(), "cgi-bin/message/template/send", body)
