"""Mini-program codes (wxa/getwxacodeunlimit): image bytes, or WeChat's error as WeChatError.

WeChat limits this API (about 5000 calls a minute): callers pre-generate in a batch and store the
images, never on a citizen's request. ``scene`` is at most 32 visible characters.
"""

from __future__ import annotations

import logging
import re

import requests
from flask import current_app
from wechatpy.exceptions import WeChatClientException

from wechat import client as wxclient
from wechat.service import TOKEN_REJECTED, WeChatError, _errcode

log = logging.getLogger(__name__)

PATH = "wxa/getwxacodeunlimit"
# What WeChat accepts in a scene: letters, digits and !#$&'()*+,/:;=?@-._~, 1..32 characters.
SCENE_RE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
ENV_VERSION = {"formal": "release", "trial": "trial", "developer": "develop"}
INVALID_SCENE = 40169


def image_type(data: bytes) -> str | None:
    """image/png or image/jpeg by the file's magic bytes, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else None


def get_wxacode_unlimit(scene: str, page: str, width: int = 430) -> bytes:
    """The image of a mini-program code opening ``page`` with ``scene``; raises WeChatError."""
    if not SCENE_RE.fullmatch(scene):
        raise WeChatError("小程序码参数无效", errcode=INVALID_SCENE)
    state = current_app.config["WECHAT_MINIPROGRAM_STATE"]
    body = {
        "scene": scene,
        "page": page,
        "width": width,
        "check_path": False,
        "env_version": ENV_VERSION.get(state, "release"),
    }
    api = wxclient.mini_client()
    try:
        return _call(api, body)
    except requests.RequestException as exc:
        log.warning("wechat %s unreachable: %s", PATH, type(exc).__name__)
        raise WeChatError("暂时无法连接微信，请稍后再试", errcode=None) from None
    except WeChatClientException as exc:
        log.warning("wechat %s failed: errcode=%s", PATH, _errcode(exc))
        raise WeChatError(errcode=_errcode(exc)) from None


def _call(api: wxclient.ApiClient, body: dict) -> bytes:
    """POST with the cached token; a rejected token is refreshed once."""
    token = api.access_token
    for attempt in (1, 2):
        try:
            res = api.post(wxclient.REAL_API_BASE + PATH, params={"access_token": token}, data=body)
        except WeChatClientException as exc:
            if attempt == 1 and _errcode(exc) in TOKEN_REJECTED:
                token = api.refresh_after_rejection(token)
                continue
            raise
        if isinstance(res, requests.Response) and image_type(res.content):
            return res.content
        raise WeChatClientException(None, "not an image", client=api)
    raise AssertionError("unreachable")  # pragma: no cover
