"""A small WeChat API emulator: the documented request and response shapes, WeChat's error codes.

Used by the embedded default (mounted under ``/_wechat/`` and reached in-process by the client)
and by the tests (served over real HTTP). Stateless where it matters so several gunicorn workers
agree: access tokens are HMAC-signed values carrying their expiry. Counters and the list of sent
messages live on the instance (per process) for tests to inspect.

Test hooks (codes for ``sns/jscode2session`` and ``sns/oauth2/access_token``):

- ``test:<openid>`` signs in as ``openid``; ``test:<openid>:<unionid>`` also returns the unionid;
- ``snapshot:<openid>`` (OAuth) answers ``is_snapshotuser: 1`` (a Moments preview visitor);
- ``test-error:<errcode>`` answers that WeChat error (45011, 40226, -1, ...);
- anything else answers 40029 (invalid code).

Message sends: ``touser`` starting with ``noquota`` answers 43101 (subscribe), ``unfollowed``
answers 43004 (template), ``busy`` answers -1 (both).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import itertools
import json
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, render_template, request
from PIL import Image

TOKEN_TTL = 7200
# stable_token renews 5 minutes early and keeps the old token valid through the hand-over.
STABLE_RENEW_BEFORE = 300

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    40226: "invalid user, high risk level",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    41009: "missing openid",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    47003: "argument invalid! data is empty",
    48001: "api unauthorized",
}


class EmulatorError(Exception):
    """A WeChat error answer (HTTP 200 with errcode/errmsg, as WeChat does)."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WeChatEmulator:
    """The emulator's state (apps, signing key, counters) and its WSGI app."""

    def __init__(self, apps: Mapping[str, str], media_dir: str | None = None) -> None:
        self.apps = dict(apps)
        self.media = MediaStore(media_dir)  # cgi-bin/media/upload and media/get
        material = "|".join(f"{a}:{s}" for a, s in sorted(self.apps.items()))
        # Same apps -> same key in every worker, so tokens verify across processes.
        self._key = hashlib.sha256(f"wechat-emulator|{material}".encode()).digest()
        self._lock = threading.Lock()
        self._msgids = itertools.count(int(time.time()) % 100_000 * 1000 + 1)
        self.token_issuances: Counter[str] = Counter()
        self.sent_messages: deque[dict[str, Any]] = deque(maxlen=500)
        self.app = _build_flask_app(self)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    # Signed values ---------------------------------------------------------------------------

    def sign(self, payload: dict[str, Any]) -> str:
        """An opaque signed value carrying ``payload``."""
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def unsign(self, value: str, kind: str) -> dict[str, Any]:
        """The payload of a signed value of ``kind``; 40001 if forged, 42001 if expired."""
        body, _, mac = value.partition(".")
        good = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac, good):
            raise EmulatorError(40001)
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            raise EmulatorError(40001) from None
        if payload.get("k") != kind:
            raise EmulatorError(40001)
        if payload["exp"] <= time.time():
            raise EmulatorError(42001)
        return payload

    def make_access_token(self, appid: str, ttl: int = TOKEN_TTL, nonce: str | None = None) -> str:
        """A server access token for ``appid``; tests use a negative ttl for an expired one."""
        exp = int(time.time()) + ttl
        return self.sign({"k": "at", "a": appid, "exp": exp, "n": nonce or secrets.token_hex(6)})

    def _stable_token(self, appid: str) -> tuple[str, int]:
        """Normal-mode stable token: the same value for everyone within a 2-hour window."""
        now = int(time.time())
        start = now - now % TOKEN_TTL
        if start + TOKEN_TTL - now < STABLE_RENEW_BEFORE:
            start += TOKEN_TTL
        expires = start + TOKEN_TTL
        token = self.sign(
            {"k": "at", "a": appid, "exp": expires + STABLE_RENEW_BEFORE, "n": f"w{start}"}
        )
        # In the hand-over minutes the next window's token is served; WeChat never reports more
        # than the 2-hour lifetime, so neither do we.
        return token, min(expires - now, TOKEN_TTL)

    # Checks ----------------------------------------------------------------------------------

    def check_app(self, appid: str | None, secret: str | None) -> None:
        """WeChat's credential checks, in its order."""
        if not appid:
            raise EmulatorError(41002)
        if appid not in self.apps:
            raise EmulatorError(40013)
        if not secret:
            raise EmulatorError(41004)
        if not hmac.compare_digest(secret.encode(), self.apps[appid].encode()):
            raise EmulatorError(40125)

    def check_access_token(self, token: str | None) -> str:
        """The appid an access token belongs to."""
        if not token:
            raise EmulatorError(41001)
        return self.unsign(token, "at")["a"]

    def record(self, kind: str, appid: str, body: dict[str, Any]) -> int:
        """Keep a sent message for inspection; returns its msgid."""
        with self._lock:
            msgid = next(self._msgids)
            self.sent_messages.append(
                {"kind": kind, "appid": appid, "msgid": msgid, "at": time.time(), **body}
            )
        return msgid

    def count_issue(self, appid: str) -> None:
        """Count one access token handed out for ``appid``."""
        with self._lock:
            self.token_issuances[appid] += 1

    def messages(self, kind: str | None = None, touser: str | None = None) -> list[dict[str, Any]]:
        """Sent messages (this process), oldest first, optionally filtered."""
        return [
            m
            for m in list(self.sent_messages)
            if (kind is None or m["kind"] == kind) and (touser is None or m["touser"] == touser)
        ]


def parse_code(code: str | None, *, oauth: bool = False) -> dict[str, Any]:
    """The identity behind a test code, or the WeChat error it stands for."""
    if not code:
        raise EmulatorError(41008)
    if code.startswith("test-error:"):
        try:
            errcode = int(code.split(":", 1)[1])
        except ValueError:
            raise EmulatorError(40029) from None
        raise EmulatorError(errcode)
    prefix, _, rest = code.partition(":")
    openid, _, unionid = rest.partition(":")
    if not openid or len(openid) > 64 or len(unionid) > 64:
        raise EmulatorError(40029)
    if prefix == "test" or (oauth and prefix == "snapshot"):
        return {"openid": openid, "unionid": unionid or None, "snapshot": prefix == "snapshot"}
    raise EmulatorError(40029)


def error_json(errcode: int) -> Response:
    """WeChat's error shape: HTTP 200 with errcode and an errmsg ending in a request id."""
    rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    msg = ERRMSG.get(errcode, "unknown error")
    return jsonify({"errcode": errcode, "errmsg": f"{msg} rid: {rid}"})


def _json_body() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise EmulatorError(47001)
    return body


def _check_message(body: dict[str, Any]) -> None:
    """Required fields of a subscribe or template message."""
    if not body.get("touser") or not isinstance(body["touser"], str):
        raise EmulatorError(40003)
    if not body.get("template_id") or not isinstance(body["template_id"], str):
        raise EmulatorError(40037)
    data = body.get("data")
    if not isinstance(data, dict) or not data:
        raise EmulatorError(47003)
    for value in data.values():
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            raise EmulatorError(47003)


def _build_flask_app(emu: WeChatEmulator) -> Flask:
    """The emulator's routes."""
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(EmulatorError)
    def on_error(exc: EmulatorError) -> Response:
        return error_json(exc.errcode)

    _add_login_routes(app, emu)
    _add_token_routes(app, emu)
    _add_message_routes(app, emu)
    _add_authorize_page(app, emu)
    _add_wxacode_routes(app, emu)  # defined at the end of this module
    _add_media_routes(app, emu)  # likewise
    _add_mp_routes(app, emu)  # menus and customer-service messages, at the end too
    return app


def _add_login_routes(app: Flask, emu: WeChatEmulator) -> None:
    @app.get("/sns/jscode2session")
    def jscode2session():
        args = request.args
        emu.check_app(args.get("appid"), args.get("secret"))
        if args.get("grant_type") != "authorization_code":
            raise EmulatorError(40002)
        who = parse_code(args.get("js_code"))
        digest = hmac.new(emu._key, args["js_code"].encode(), hashlib.sha256).digest()
        answer = {"session_key": base64.b64encode(digest[:16]).decode(), "openid": who["openid"]}
        if who["unionid"]:
            answer["unionid"] = who["unionid"]
        return jsonify(answer)

    @app.get("/sns/oauth2/access_token")
    def oauth_access_token():
        args = request.args
        emu.check_app(args.get("appid"), args.get("secret"))
        if args.get("grant_type") != "authorization_code":
            raise EmulatorError(40002)
        who = parse_code(args.get("code"), oauth=True)
        scope = "snsapi_userinfo" if who["unionid"] else "snsapi_base"
        claims = {"a": args["appid"], "o": who["openid"], "u": who["unionid"], "s": scope}
        exp = int(time.time()) + TOKEN_TTL
        answer: dict[str, Any] = {
            "access_token": emu.sign({"k": "ut", "exp": exp, **claims}),
            "expires_in": TOKEN_TTL,
            "refresh_token": emu.sign({"k": "rt", "exp": exp + 30 * 86400, **claims}),
            "openid": who["openid"],
            "scope": scope,
        }
        if who["unionid"]:
            answer["unionid"] = who["unionid"]
        if who["snapshot"]:
            answer["is_snapshotuser"] = 1
        return jsonify(answer)

    @app.get("/sns/userinfo")
    def userinfo():
        token = request.args.get("access_token")
        if not token:
            raise EmulatorError(41001)
        claims = emu.unsign(token, "ut")
        openid = request.args.get("openid")
        if not openid:
            raise EmulatorError(41009)
        if openid != claims["o"]:
            raise EmulatorError(40003)
        if claims["s"] != "snsapi_userinfo":
            raise EmulatorError(48001)
        answer: dict[str, Any] = {
            "openid": openid,
            "nickname": "微信用户",
            "sex": 0,
            "province": "",
            "city": "",
            "country": "",
            "headimgurl": "",
            "privilege": [],
        }
        if claims["u"]:
            answer["unionid"] = claims["u"]
        return jsonify(answer)


def _add_token_routes(app: Flask, emu: WeChatEmulator) -> None:
    @app.get("/cgi-bin/token")
    def token():
        args = request.args
        if args.get("grant_type") != "client_credential":
            raise EmulatorError(40002)
        emu.check_app(args.get("appid"), args.get("secret"))
        emu.count_issue(args["appid"])
        return jsonify(
            {"access_token": emu.make_access_token(args["appid"]), "expires_in": TOKEN_TTL}
        )

    @app.post("/cgi-bin/stable_token")
    def stable_token():
        body = _json_body()
        if body.get("grant_type") != "client_credential":
            raise EmulatorError(40002)
        emu.check_app(body.get("appid"), body.get("secret"))
        emu.count_issue(body["appid"])
        if body.get("force_refresh") is True:
            value, expires_in = emu.make_access_token(body["appid"]), TOKEN_TTL
        else:
            value, expires_in = emu._stable_token(body["appid"])
        return jsonify({"access_token": value, "expires_in": expires_in})


def _add_message_routes(app: Flask, emu: WeChatEmulator) -> None:
    @app.post("/cgi-bin/message/subscribe/send")
    def subscribe_send():
        appid = emu.check_access_token(request.args.get("access_token"))
        body = _json_body()
        _check_message(body)
        if body["touser"].startswith("busy"):
            raise EmulatorError(-1)
        if body["touser"].startswith("noquota"):
            raise EmulatorError(43101)
        msgid = emu.record("subscribe", appid, _pick(body, "page", "miniprogram_state", "lang"))
        return jsonify({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    @app.post("/cgi-bin/message/template/send")
    def template_send():
        appid = emu.check_access_token(request.args.get("access_token"))
        body = _json_body()
        _check_message(body)
        if body["touser"].startswith("busy"):
            raise EmulatorError(-1)
        if body["touser"].startswith("unfollowed"):
            raise EmulatorError(43004)
        msgid = emu.record("template", appid, _pick(body, "url", "miniprogram"))
        return jsonify({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    @app.get("/")
    def index():
        """A page saying what this emulator is, the test codes, and the messages it was sent."""
        recent = emu.messages()[::-1][:50]
        return render_template("wechat_emulator/index.html", messages=recent)

    @app.get("/follow")
    def follow():
        """What the public account's follow QR code opens (WECHAT_MP_FOLLOW_URL) in the
        embedded mode: in WeChat it is the account's profile with its 关注 button."""
        return render_template("wechat_emulator/follow.html")

    @app.get("/_emulator/messages")
    def list_messages():
        """Debug: recent messages sent through this process, newest first."""
        found = emu.messages(request.args.get("kind"), request.args.get("touser"))
        return jsonify({"messages": found[::-1][:100], "token_issuances": emu.token_issuances})


def _pick(body: dict[str, Any], *optional: str) -> dict[str, Any]:
    kept = {k: body[k] for k in ("touser", "template_id", "data")}
    kept.update({k: body[k] for k in optional if k in body})
    return kept


AUTHORIZE_ERRORS = {
    "appid": "appid 参数错误",
    "redirect_uri": "redirect_uri 参数错误",
    "response_type": "response_type 参数错误",
    "scope": "scope 参数错误或没有 scope 权限",
}


def _authorize_problem(args: Mapping[str, str], emu: WeChatEmulator) -> str | None:
    if args.get("appid") not in emu.apps:
        return AUTHORIZE_ERRORS["appid"]
    if not args.get("redirect_uri", "").startswith(("http://", "https://")):
        return AUTHORIZE_ERRORS["redirect_uri"]
    if args.get("response_type") != "code":
        return AUTHORIZE_ERRORS["response_type"]
    if args.get("scope") not in {"snsapi_base", "snsapi_userinfo"}:
        return AUTHORIZE_ERRORS["scope"]
    return None


def _add_authorize_page(app: Flask, emu: WeChatEmulator) -> None:
    @app.get("/connect/oauth2/authorize")
    def authorize():
        """The page WeChat shows before redirecting back with ?code=...&state=..."""
        args = request.args
        problem = _authorize_problem(args, emu)
        if problem:
            return render_template("wechat_emulator/authorize_error.html", message=problem), 400
        cookie = f"wxemu_openid_{args['appid']}"
        openid = (args.get("openid") or request.cookies.get(cookie) or "").strip()[:64]
        openid = openid or "o" + secrets.token_urlsafe(20)[:27]
        unionid = (args.get("unionid") or "").strip()[:64]
        code = f"test:{openid}:{unionid}" if unionid else f"test:{openid}"
        back = args["redirect_uri"]
        sep = "&" if "?" in back else "?"
        html = render_template(
            "wechat_emulator/authorize.html",
            appid=args["appid"],
            scope=args["scope"],
            openid=openid,
            unionid=unionid,
            confirm_url=back + sep + urlencode({"code": code, "state": args.get("state", "")}),
            deny_url=back + sep + urlencode({"state": args.get("state", "")}),
            params={k: v for k, v in args.items() if k not in {"openid", "unionid"}},
        )
        resp = Response(html, mimetype="text/html")
        resp.set_cookie(cookie, openid, max_age=365 * 86400, httponly=True, samesite="Lax")
        return resp


def create_emulator_app(apps: dict[str, str], media_dir: str | None = None) -> WeChatEmulator:
    """An emulator (a WSGI app) for ``apps`` (appid -> secret); uploaded media kept in
    ``media_dir`` (shared by the processes of the host) or in memory."""
    return WeChatEmulator(apps, media_dir)


def emulator_from_config(config: Mapping[str, Any]) -> WeChatEmulator:
    """An emulator knowing our mini-program and public account from the Flask config."""
    return create_emulator_app(
        {
            config["WECHAT_MINI_APP_ID"]: config["WECHAT_MINI_APP_SECRET"],
            config["WECHAT_MP_APP_ID"]: config["WECHAT_MP_APP_SECRET"],
        },
        config.get("WECHAT_EMULATOR_MEDIA_DIR") or None,
    )


# -- wxa/getwxacodeunlimit (mini-program codes for shop plates) -----------------------------------
# Test hooks: a scene starting with "ratelimit" answers 45009; a scene WeChat would refuse
# (empty, over 32 characters, other characters) answers 40169. Otherwise a small PNG.

ERRMSG.update({40169: "invalid length for scene, or the data is not json string",
               45009: "reach max api daily quota limit"})  # fmt: skip
_SCENE_CHARS = set(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~"
)


def _wxacode_png(scene: str, width: int) -> bytes:
    """A small stand-in image (a grey square with a scene-dependent shade)."""
    side = max(32, min(int(width or 430), 1280)) // 8
    shade = int(hashlib.sha256(scene.encode()).hexdigest()[:2], 16) // 2
    buf = io.BytesIO()
    Image.new("L", (side, side), shade).save(buf, format="PNG")
    return buf.getvalue()


def _add_wxacode_routes(app: Flask, emu: WeChatEmulator) -> None:
    @app.post("/wxa/getwxacodeunlimit")
    def getwxacodeunlimit():
        emu.check_access_token(request.args.get("access_token"))
        body = _json_body()
        scene = body.get("scene")
        if not isinstance(scene, str) or not 0 < len(scene) <= 32 or set(scene) - _SCENE_CHARS:
            raise EmulatorError(40169)
        if scene.startswith("ratelimit"):
            raise EmulatorError(45009)
        try:
            width = int(body.get("width") or 430)
        except (TypeError, ValueError):
            raise EmulatorError(47001) from None
        return Response(_wxacode_png(scene, width), mimetype="image/png")


# -- cgi-bin/media/upload and media/get (temporary media: the images citizens send the account) --
# A test or bench uploads an image as WeChat's own upload does (multipart field "media") and puts
# the media_id it gets into an image message; the worker downloads it with media/get. Test hooks:
# a media_id starting with "busy" answers -1 (try again later); an unknown one answers 40007.

ERRMSG.update({40004: "invalid media type", 40007: "invalid media_id",
               41005: "media data missing"})  # fmt: skip
MEDIA_TYPES = {"image": "image/jpeg", "voice": "audio/amr", "video": "video/mp4",
               "thumb": "image/jpeg"}  # fmt: skip
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class MediaStore:
    """Uploaded media by media_id: files in ``directory`` (every process of the host sees them),
    else this instance's memory."""

    def __init__(self, directory: str | None) -> None:
        self.directory = Path(directory) if directory else None
        self._memory: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()

    def put(self, kind: str, data: bytes) -> str:
        """Keep ``data``; its new media_id (64 URL-safe characters, like WeChat's)."""
        media_id = secrets.token_urlsafe(48)
        if self.directory is None:
            with self._lock:
                self._memory[media_id] = (kind, data)
            return media_id
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".{media_id}.tmp"
        tmp.write_bytes(data)
        tmp.rename(self.directory / f"{media_id}.{kind}")
        return media_id

    def get(self, media_id: str) -> tuple[str, bytes] | None:
        """(kind, bytes) of a media, or None when unknown."""
        if not _MEDIA_ID.fullmatch(media_id):
            return None
        if self.directory is None:
            return self._memory.get(media_id)
        for kind in MEDIA_TYPES:
            path = self.directory / f"{media_id}.{kind}"
            if path.is_file():
                return kind, path.read_bytes()
        return None


def _add_media_routes(app: Flask, emu: WeChatEmulator) -> None:
    @app.post("/cgi-bin/media/upload")
    def media_upload():
        emu.check_access_token(request.args.get("access_token"))
        kind = request.args.get("type", "")
        if kind not in MEDIA_TYPES:
            raise EmulatorError(40004)
        upload = request.files.get("media")
        data = upload.read() if upload is not None else b""
        if not data:
            raise EmulatorError(41005)
        media_id = emu.media.put(kind, data)
        return jsonify({"type": kind, "media_id": media_id, "created_at": int(time.time())})

    @app.get("/cgi-bin/media/get")
    def media_get():
        emu.check_access_token(request.args.get("access_token"))
        media_id = request.args.get("media_id") or ""
        if media_id.startswith("busy"):
            raise EmulatorError(-1)
        found = emu.media.get(media_id)
        if found is None:
            raise EmulatorError(40007)
        kind, data = found
        headers = {"Content-Disposition": f'attachment; filename="{media_id[:16]}.jpg"'}
        return Response(data, mimetype=MEDIA_TYPES[kind], headers=headers)


# -- cgi-bin/menu/create, menu/get and message/custom/send (the public account, issue 15) --------
# The menu is checked as WeChat does, with its error codes; the last menu of each app is kept for
# tests (``emu.menus``) and answered by menu/get. Customer-service sends: ``touser`` starting
# with ``busy`` answers -1, ``unfollowed`` 43004, ``outofwindow`` 45015 (more than 48 hours
# since the person wrote), ``noquota`` 45047 (the window's messages used up).

ERRMSG.update({
    40016: "invalid button size", 40017: "invalid button type", 40018: "invalid button name size",
    40019: "invalid button key size", 40020: "invalid button url size",
    40023: "invalid sub button size", 40024: "invalid sub button type",
    40025: "invalid sub button name size", 40026: "invalid sub button key size",
    40027: "invalid sub button url size", 40008: "invalid message type",
    44002: "empty post data", 45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit", 46003: "menu no exist",
})  # fmt: skip
_MENU_ACTIONS = {"click", "view", "miniprogram", "scancode_push", "scancode_waitmsg",
                 "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select",
                 "media_id", "article_id", "article_view_limited"}  # fmt: skip
_KEYED = {"click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
          "pic_weixin", "location_select"}  # fmt: skip


def _utf8_len(value: Any) -> int:
    return len(str(value).encode("utf-8")) if value is not None else 0


def _check_menu_button(button: Any, sub: bool) -> None:
    """One button (a menu or a sub-button) as WeChat checks it."""
    if not isinstance(button, dict):
        raise EmulatorError(47001)
    name = button.get("name")
    if not isinstance(name, str) or not name or _utf8_len(name) > (60 if sub else 16):
        raise EmulatorError(40025 if sub else 40018)
    subs = button.get("sub_button")
    if not sub and subs:
        if not isinstance(subs, list) or len(subs) > 5:
            raise EmulatorError(40023)
        for child in subs:
            _check_menu_button(child, True)
        return
    kind = button.get("type")
    if kind not in _MENU_ACTIONS:
        raise EmulatorError(40024 if sub else 40017)
    if kind in _KEYED and not 0 < _utf8_len(button.get("key")) <= 128:
        raise EmulatorError(40026 if sub else 40019)
    if kind in {"view", "miniprogram"}:
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) \
                or _utf8_len(url) > 1024:  # fmt: skip
            raise EmulatorError(40027 if sub else 40020)
    if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
        raise EmulatorError(40165)


def _add_mp_routes(app: Flask, emu: WeChatEmulator) -> None:
    emu.menus = {}  # type: ignore[attr-defined]  # appid -> the last menu created

    @app.post("/cgi-bin/menu/create")
    def menu_create():
        appid = emu.check_access_token(request.args.get("access_token"))
        body = _json_body()
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise EmulatorError(40016)
        for button in buttons:
            _check_menu_button(button, False)
        with emu._lock:
            emu.menus[appid] = {"button": buttons}  # type: ignore[attr-defined]
        return jsonify({"errcode": 0, "errmsg": "ok"})

    @app.get("/cgi-bin/menu/get")
    def menu_get():
        appid = emu.check_access_token(request.args.get("access_token"))
        menu = emu.menus.get(appid)  # type: ignore[attr-defined]
        if menu is None:
            raise EmulatorError(46003)
        return jsonify({"menu": menu})

    @app.post("/cgi-bin/message/custom/send")
    def custom_send():
        appid = emu.check_access_token(request.args.get("access_token"))
        body = _json_body()
        touser = body.get("touser")
        if not touser or not isinstance(touser, str):
            raise EmulatorError(40003)
        if body.get("msgtype") != "text":
            raise EmulatorError(40008)
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise EmulatorError(44002)
        for prefix, errcode in (("busy", -1), ("unfollowed", 43004), ("outofwindow", 45015),
                                ("noquota", 45047)):  # fmt: skip
            if touser.startswith(prefix):
                raise EmulatorError(errcode)
        msgid = emu.record("custom", appid, {"touser": touser, "msgtype": "text",
                                              "text": {"content": content}})  # fmt: skip
        return jsonify({"errcode": 0, "errmsg": "ok", "msgid": msgid})
