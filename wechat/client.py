"""wechatpy clients bound to our configuration: base URLs, timeouts, the shared token cache.

Base URLs are read from the config at call time. With the emulator on and no WECHAT_API_BASE_URL,
calls go to the in-process emulator through a WSGI transport adapter: the server never calls
itself over HTTP (a gunicorn worker waiting on itself would deadlock).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.oauth import WeChatOAuth
from wechatpy.session import SessionStorage
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage
from wsgiadapter import WSGIAdapter

from app.extensions import redis_client

log = logging.getLogger(__name__)

REAL_API_BASE = "https://api.weixin.qq.com/"
REAL_OAUTH_BASE = "https://open.weixin.qq.com/connect/"
EMULATOR_INTERNAL_BASE = "http://wechat-emulator.internal/"
DEFAULT_CACHE_PREFIX = "zhcg:wechat"
# Refresh a cached token this long before WeChat says it expires.
TOKEN_MARGIN = 60


def _state() -> dict[str, Any]:
    """Per-app WeChat state kept in app.extensions (token caches, Redis client)."""
    return current_app.extensions.setdefault("wechat", {"memory": {}, "redis": {}})


def emulator():
    """The in-process emulator of this app, or None when the emulator is off."""
    return current_app.extensions.get("wechat_emulator")


def api_base_url() -> str:
    """Where API calls go: config, else the in-process emulator, else WeChat."""
    base = current_app.config.get("WECHAT_API_BASE_URL") or ""
    if not base:
        base = EMULATOR_INTERNAL_BASE if emulator() is not None else REAL_API_BASE
    return base.rstrip("/") + "/"


def oauth_base_url() -> str:
    """Where the browser is sent to authorize: config, else the emulator page, else WeChat."""
    cfg = current_app.config
    base = cfg.get("WECHAT_OAUTH_BASE_URL") or ""
    if not base:
        if emulator() is not None:
            base = f"{cfg['PUBLIC_BASE_URL']}/_wechat/connect/"
        else:
            base = REAL_OAUTH_BASE
    return base.rstrip("/") + "/"


class WeChatHttp(requests.Session):
    """A requests session with a default timeout that sends WeChat API URLs to ``api_base``."""

    def __init__(self, api_base: str, timeout: float) -> None:
        super().__init__()
        self.api_base = api_base
        self.default_timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if url.startswith(REAL_API_BASE) and self.api_base != REAL_API_BASE:
            url = self.api_base + url[len(REAL_API_BASE) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class _StrContentLength:
    """WSGIAdapter puts an int in CONTENT_LENGTH; WSGI (and werkzeug) want a string."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        environ["CONTENT_LENGTH"] = str(environ.get("CONTENT_LENGTH") or "")
        return self.wsgi_app(environ, start_response)


def http_session() -> WeChatHttp:
    """A session for WeChat calls; the in-process emulator is mounted when it is the target."""
    base = api_base_url()
    http = WeChatHttp(base, current_app.config["WECHAT_HTTP_TIMEOUT"])
    emu = emulator()
    if emu is not None and base == EMULATOR_INTERNAL_BASE:
        # log_function: the adapter would log query strings, which carry the app secret.
        adapter = WSGIAdapter(_StrContentLength(emu), log_function=lambda _resp: None)
        http.mount(EMULATOR_INTERNAL_BASE, adapter)
    return http


class SharedTokenCache(RedisStorage):
    """The token cache in Redis, shared by every worker, with this process's memory behind it.

    Every token is also kept in the process; when Redis fails (or is paused after a failure,
    see app.extensions.RedisBreaker, so no call waits on it) reads come from the process and
    writes stay there. Workers then each keep their own copy: stable_token hands every caller
    the same token, so none invalidates another's.
    """

    def __init__(self, conn: redis.Redis, prefix: str, local: MemoryStorage) -> None:
        super().__init__(conn, prefix=prefix)
        self.local = local

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return super().get(key, default)
        except redis.RedisError as exc:
            log.debug("wechat token cache: Redis unavailable (%s), using the process's", exc)
            return self.local.get(key, default)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        self.local.set(key, value, ttl)
        try:
            super().set(key, value, ttl)
        except redis.RedisError as exc:
            log.debug("wechat token cache: Redis unavailable (%s), kept in the process", exc)

    def delete(self, key: str) -> None:
        self.local.delete(key)
        try:
            super().delete(key)
        except redis.RedisError as exc:
            log.debug("wechat token cache: Redis unavailable (%s)", exc)


def token_storage() -> SessionStorage:
    """Redis when REDIS_URL is set (shared by every worker, the process's memory when Redis
    fails), else one in-process memory store."""
    cfg = current_app.config
    state = _state()
    # One memory store per API base: tokens of a test emulator are no good against WeChat.
    local = state["memory"].setdefault(api_base_url(), MemoryStorage())
    url = cfg.get("REDIS_URL")
    if not url:
        return local
    conn = state["redis"].get(url)
    if conn is None:
        conn = state["redis"][url] = redis_client(current_app, url)  # short waits, a breaker
    prefix = cfg.get("WECHAT_TOKEN_CACHE_PREFIX", DEFAULT_CACHE_PREFIX)
    return SharedTokenCache(conn, prefix, local)


class ApiClient(WeChatClient):
    """WeChatClient with stable_token, an expiry kept in the shared cache, and no hidden retries."""

    def __init__(self, appid: str, secret: str, storage: SessionStorage, http: WeChatHttp) -> None:
        super().__init__(appid, secret, session=storage, timeout=http.default_timeout)
        self.auto_retry = False  # wechatpy retries 40001 without limit; the service retries once
        self._http = http

    @property
    def expires_key(self) -> str:
        return f"{self.access_token_key}_expires_at"

    @property
    def access_token(self) -> str:
        """The cached token, fetched with stable_token when missing or about to expire."""
        token = self.session.get(self.access_token_key)
        expires_at = self.session.get(self.expires_key) or 0
        if token and expires_at - time.time() > TOKEN_MARGIN:
            return token
        return self.fetch_access_token()["access_token"]

    def fetch_access_token(self, force_refresh: bool = False) -> dict[str, Any]:
        """POST cgi-bin/stable_token: workers asking at once get the same token, none lost."""
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
            "force_refresh": force_refresh,
        }
        res = self._http.post(REAL_API_BASE + "cgi-bin/stable_token", json=body)
        result = self.decode(res)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.session.set(self.expires_key, int(time.time()) + expires_in, expires_in)
        return result

    def refresh_after_rejection(self, rejected: str) -> str:
        """A new token after WeChat refused ``rejected`` (40001/42001)."""
        token = self.fetch_access_token()["access_token"]
        if token == rejected:
            token = self.fetch_access_token(force_refresh=True)["access_token"]
        return token

    def decode(self, res: requests.Response) -> dict[str, Any]:
        """The JSON answer of a call made without wechatpy's request helper; raises on errcode."""
        try:
            res.raise_for_status()
        except requests.HTTPError:
            raise WeChatClientException(None, None, client=self, response=res) from None
        result = self._handle_result(res)
        if not isinstance(result, dict):
            raise WeChatClientException(None, "not a JSON answer", client=self, response=res)
        return result

    def code_to_session(self, js_code: str) -> dict[str, Any]:
        """sns/jscode2session (needs no access token, unlike wechatpy's wxa.code_to_session)."""
        params = {
            "appid": self.appid,
            "secret": self.secret,
            "js_code": js_code,
            "grant_type": "authorization_code",
        }
        return self.decode(self._http.get(REAL_API_BASE + "sns/jscode2session", params=params))

    def post_json(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        """POST a JSON body to an API path (relative to the API root) with ``token``."""
        return self.post(REAL_API_BASE + path, params={"access_token": token}, data=body)

    def get_media(self, media_id: str, token: str, max_bytes: int) -> bytes:
        """cgi-bin/media/get: a temporary media's bytes (an image a citizen sent the account).
        WeChat answers errors as JSON (no image starts with "{"): raised with their errcode, as
        is a file over ``max_bytes`` (not read any further)."""
        params = {"access_token": token, "media_id": media_id}
        chunks, size = [], 0
        with self._http.get(REAL_API_BASE + "cgi-bin/media/get", params=params,
                            stream=True) as res:  # fmt: skip
            if not res.ok:
                raise WeChatClientException(None, None, client=self, response=res)
            for chunk in res.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise WeChatClientException(47001, "media larger than allowed", client=self)
                chunks.append(chunk)
        data = b"".join(chunks)
        if data[:1] == b"{":
            try:
                answer = json.loads(data)
            except ValueError:
                answer = {}
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            errmsg = answer.get("errmsg") if isinstance(answer, dict) else None
            raise WeChatClientException(errcode, errmsg, client=self, response=res)
        return data


class OAuthClient(WeChatOAuth):
    """WeChatOAuth with our base URLs and session. Holds one user's token: one per request."""

    def __init__(
        self,
        app_id: str,
        secret: str,
        http: WeChatHttp,
        *,
        redirect_uri: str = "",
        scope: str = "snsapi_base",
        state: str = "",
        oauth_base: str = REAL_OAUTH_BASE,
    ) -> None:
        super().__init__(app_id, secret, redirect_uri, scope=scope, state=state)
        self._http = http
        self.OAUTH_BASE_URL = oauth_base


def mini_client() -> ApiClient:
    """A client for the mini-program."""
    cfg = current_app.config
    return ApiClient(
        cfg["WECHAT_MINI_APP_ID"], cfg["WECHAT_MINI_APP_SECRET"], token_storage(), http_session()
    )


def mp_client() -> ApiClient:
    """A client for the public account."""
    cfg = current_app.config
    return ApiClient(
        cfg["WECHAT_MP_APP_ID"], cfg["WECHAT_MP_APP_SECRET"], token_storage(), http_session()
    )


def oauth_client(
    redirect_uri: str = "", scope: str = "snsapi_base", state: str = ""
) -> OAuthClient:
    """A fresh public-account OAuth client (never share one between requests)."""
    cfg = current_app.config
    return OAuthClient(
        cfg["WECHAT_MP_APP_ID"],
        cfg["WECHAT_MP_APP_SECRET"],
        http_session(),
        redirect_uri=redirect_uri,
        scope=scope,
        state=state,
        oauth_base=oauth_base_url(),
    )
