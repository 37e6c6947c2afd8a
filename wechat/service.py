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
from wechat import followers

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


class MediaFetchFailed(WeChatError):
    """A temporary media could not be downloaded; ``errcode`` says why (40007: no such media,
    or expired after WeChat's 3 days; ``retryable`` for busy, rate limits and the network)."""

    code, message = "wechat_media_failed", "微信素材下载失败"


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


def get_media(media_id: str) -> bytes:
    """The bytes of a public-account temporary media (an image message's MediaId), at most
    MEDIA_MAX_BYTES; a rejected token (40001/42001) is refreshed once. Raises MediaFetchFailed."""
    api = wxclient.mp_client()
    limit = current_app.config["MEDIA_MAX_BYTES"]
    try:
        token = api.access_token
        for attempt in (1, 2):
            try:
                return api.get_media(media_id, token, limit)
            except WeChatClientException as exc:
                if attempt == 1 and _errcode(exc) in TOKEN_REJECTED:
                    log.info("wechat media/get: token rejected (%s), refreshing", _errcode(exc))
                    token = api.refresh_after_rejection(token)
                    continue
                raise
    except requests.RequestException as exc:
        log.warning("wechat media/get unreachable: %s", type(exc).__name__)
        raise MediaFetchFailed("暂时无法连接微信，请稍后再试", code="wechat_unavailable") from None
    except WeChatClientException as exc:
        errcode = _errcode(exc)
        log.warning("wechat media/get %.16s... failed: errcode=%s", media_id, errcode)
        raise MediaFetchFailed(errcode=errcode) from None
    raise MediaFetchFailed()  # pragma: no cover - the loop returns or raises


# -- the public account as a conversation (issue 15): menu push, customer-service messages ------

# 45015: the person last wrote more than 48 hours ago; 45047: the window's 5 messages are used.
CUSTOM_WINDOW_CLOSED = frozenset({45015, 45047})
MENU_ERRORS = {
    40016: "一级菜单个数不符合要求", 40017: "菜单按钮类型不正确", 40018: "一级菜单名称过长",
    40019: "菜单事件标识过长", 40020: "菜单网页地址过长", 40023: "子菜单个数不符合要求",
    40024: "子菜单按钮类型不正确", 40025: "子菜单名称过长", 40026: "子菜单事件标识过长",
    40027: "子菜单网页地址过长", 40054: "子菜单网页地址的域名不正确",
    40055: "菜单网页地址的域名不正确", 40165: "小程序页面路径不正确",
    48001: "公众号没有菜单接口权限",
}  # fmt: skip


class MenuPushFailed(WeChatError):
    """WeChat did not take the menu; ``errcode`` says why."""

    code, message = "wechat_menu_failed", "菜单推送失败"


def create_menu(body: dict[str, Any]) -> None:
    """Push the public account's custom menu (``cgi-bin/menu/create``, replaces the old one)."""
    try:
        _send(wxclient.mp_client(), "cgi-bin/menu/create", body)
    except MessageSendFailed as exc:
        if exc.errcode is None:
            raise MenuPushFailed(exc.message, code=exc.code, errcode=None) from None
        reason = MENU_ERRORS.get(exc.errcode, "微信拒绝了该菜单")
        raise MenuPushFailed(f"菜单推送失败：{reason}（微信错误码 {exc.errcode}）",
                             errcode=exc.errcode) from None  # fmt: skip


def send_custom_text(openid: str, content: str) -> int | None:
    """Send a public-account customer-service text message (``cgi-bin/message/custom/send``),
    allowed within 48 hours of the person's last message; raises MessageSendFailed (errcode in
    CUSTOM_WINDOW_CLOSED when the window is closed or used up)."""
    body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
    return _send(wxclient.mp_client(), "cgi-bin/message/custom/send", body)


def mp_in_service_window(openid: str, app_id: str | None = None) -> bool:
    """True when the public-account follower ``openid`` wrote to the account recently enough for
    a customer-service message (see wechat.followers)."""
    return followers.in_service_window(openid, app_id)


def mp_last_message_at(openid: str, app_id: str | None = None):
    """When the follower last sent the account a message (None: never, or unknown)."""
    row = followers.follower(openid, app_id)
    return row.last_message_at if row is not None else None
