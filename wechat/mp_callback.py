"""Public-account message callback at /wechat/mp (公众号服务器配置).

GET is WeChat's URL check. POST carries messages and events in plain mode or safe mode
(``encrypt_type=aes``). Every inbound message is stored once (WeChat retries three times when we
take over 5 s), then answered inline with the welcome text or ``success``: nothing here calls the
WeChat API, so the answer stays inside WeChat's 5-second budget.

Replays: WeChat signs only ``timestamp`` and ``nonce`` (plus, in safe mode, the ciphertext), so a
captured query string would otherwise carry any plain-mode body, for ever. A signed request is
refused unless its timestamp is within WECHAT_MP_MAX_SKEW_SECONDS of our clock, and each
(timestamp, nonce) is remembered for longer than that (Redis ``SET NX`` with an expiry when
REDIS_URL is set and answers, else the ``wechat_mp_nonces`` table): seen again with another body
(or another ``echostr``), it is refused. The same body again is WeChat's own retry and is answered
as before (messages are stored once). In safe mode the signature covers the body, so a signed
repeat is always a retry.

Cost (issue 18, docs/benchmarks.md "Public-account callback profile"): a plain text push makes
one Redis command (the nonce) and four statements of its own on the database: the message's
INSERT that ignores a stored retry (its row count says which; no read before it, no savepoint)
and carries the welcome text as its reply, follower tracking's upsert, the chat's look for an
open conversation, the COMMIT; an answer from a handler (a keyword, a chat step) adds an UPDATE
of the reply. Statements run on every push are built once and executed on the transaction's
connection, without the ORM's unit of work.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.parsers.expat import ExpatError

import redis
import xmltodict
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply

from app.db import commit, utcnow
from app.errors import BadRequest, Forbidden, PayloadTooLarge, ServiceUnavailable
from app.extensions import csrf, db, limiter, redis_client
from wechat.models import MpInboundMessage, MpNonce

log = logging.getLogger(__name__)

bp = Blueprint("wechat_mp", __name__, url_prefix="/wechat")

# Real pushes are a few KB; staying under 65535 bytes lets raw_xml be a plain TEXT on MariaDB.
MAX_BODY_BYTES = 60_000
# Any DTD is refused before an XML parser sees the body (XXE, entity expansion).
_FORBIDDEN_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# openids, original ids (gh_...) and the test accounts' names.
_USER_NAME = re.compile(r"[A-Za-z0-9_@.\-]{1,64}")
_MSG_ID = re.compile(r"[0-9]{1,32}")
# WeChat's nonces are decimal; the column holds 64 characters.
_NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Expired rows of wechat_mp_nonces are deleted at most this often by each process.
NONCE_CLEANUP_SECONDS = 60.0


@dataclass(frozen=True)
class Inbound:
    """The fields of one inbound message or event that we store and reply from."""

    msg_type: str
    event: str | None
    from_user: str
    to_user: str
    msg_id: str | None
    create_time: int | None
    content: str | None
    raw_xml: str
    # Every field of the message as parsed (Location_X, PicUrl, MediaId, ScanCodeInfo, ...).
    fields: dict = field(default_factory=dict, compare=False, repr=False)


# --- signatures and crypto ------------------------------------------------------------------


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324 (protocol)


def require_signature(
    given: str | None, token: str, timestamp: str, nonce: str, *extra: str
) -> None:
    """Raise 403 unless ``given`` equals the signature over token, timestamp, nonce (+ extra)."""
    if not (given and token and timestamp and nonce):
        raise Forbidden("签名校验失败", code="invalid_signature")
    expected = sign(token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8")):
        raise Forbidden("签名校验失败", code="invalid_signature")


def _crypto() -> WeChatCrypto:
    """wechatpy's crypto for the configured account; 503 when the key is missing or malformed."""
    cfg = current_app.config
    aes_key = cfg.get("WECHAT_MP_AES_KEY") or ""
    try:
        if not aes_key:
            raise ValueError("WECHAT_MP_AES_KEY is empty")
        return WeChatCrypto(cfg["WECHAT_MP_TOKEN"], aes_key, cfg["WECHAT_MP_APP_ID"])
    except (ValueError, AssertionError) as exc:
        log.error("wechat mp safe-mode message refused: bad WECHAT_MP_AES_KEY (%s)", exc)
        raise ServiceUnavailable(
            "服务器未正确配置消息加解密密钥", code="aes_key_not_configured"
        ) from None


def _decrypt(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """Decrypt a verified Encrypt value; the appid inside must be ours."""
    crypto = _crypto()
    try:
        return crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
    except InvalidAppIdException:
        log.warning("wechat mp message for another appid refused")
        raise Forbidden("消息不属于本公众号", code="invalid_appid") from None
    except InvalidSignatureException:
        raise Forbidden("签名校验失败", code="invalid_signature") from None
    except (ValueError, TypeError, IndexError, struct.error):
        # wechatpy surfaces bad base64, padding or length prefixes as assorted exceptions.
        raise BadRequest("消息解密失败", code="decrypt_failed") from None


# --- freshness and replays -------------------------------------------------------------------


def require_fresh(timestamp: str) -> int:
    """403 unless ``timestamp`` is Unix seconds within WECHAT_MP_MAX_SKEW_SECONDS of now."""
    skew = current_app.config["WECHAT_MP_MAX_SKEW_SECONDS"]
    if (
        not (timestamp.isdigit() and len(timestamp) <= 12)
        or abs(time.time() - int(timestamp)) > skew
    ):
        log.warning("wechat mp timestamp %.20s refused: not within %s s", timestamp, skew)
        raise Forbidden("请求时间戳无效或已过期，请检查服务器时间", code="stale_timestamp")
    return int(timestamp)


def require_unused(timestamp: str, nonce: str, content: bytes, *, signed: bool) -> None:
    """403 for a stale timestamp, or for a (timestamp, nonce) already accepted with other
    ``content``; remembers the pair otherwise. ``signed``: the signature covers ``content``, so a
    repeat is WeChat's retry whatever it carries."""
    stamp = require_fresh(timestamp)
    if not _NONCE.fullmatch(nonce):
        raise BadRequest("nonce 参数格式不正确", code="invalid_nonce")
    app_id = current_app.config["WECHAT_MP_APP_ID"]
    digest = hashlib.sha256(content).hexdigest()
    ttl = 2 * current_app.config["WECHAT_MP_MAX_SKEW_SECONDS"] + 60  # outlives the window
    first = _claim_in_redis(app_id, stamp, nonce, digest, ttl)
    if first is None:
        first = _claim_in_database(app_id, stamp, nonce, digest, ttl)
    if first != digest and not signed:
        log.warning("wechat mp replay refused: timestamp %s seen before with another body", stamp)
        raise Forbidden("请求已被使用过，拒绝重放", code="replayed_request")


def _claim_in_redis(app_id: str, stamp: int, nonce: str, digest: str, ttl: int) -> str | None:
    """The digest first stored for the pair in Redis (``digest`` when new); None without
    Redis, or when it does not answer (the database takes over)."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    prefix = current_app.config.get("WECHAT_TOKEN_CACHE_PREFIX") or "zhcg:wechat"
    key = f"{prefix}:mp-nonce:{app_id}:{stamp}:{nonce}"
    try:
        conn = _redis(url)
        if conn.set(key, digest, nx=True, ex=ttl):
            return digest
        first = conn.get(key)
    except redis.RedisError as exc:
        log.debug("wechat mp nonces: Redis unavailable (%s), using the database", exc)
        return None
    # Gone between the two calls (evicted): not known to be the same body, so not accepted.
    return first.decode() if first else ""


def _redis(url: str) -> redis.Redis:
    """One client per process and URL on the app's guarded pool (building a client costs more
    than the command it sends)."""
    clients = current_app.extensions.setdefault("wechat_mp_redis", {})
    client = clients.get(url)
    if client is None:
        client = clients.setdefault(url, redis_client(current_app, url))
    return client


def _claim_in_database(app_id: str, stamp: int, nonce: str, digest: str, ttl: int) -> str:
    """The digest first stored for the pair in wechat_mp_nonces (``digest`` when new): one
    insert that ignores the pair when it is there already (no savepoint), read only then."""
    now = utcnow()
    _delete_expired_nonces(now)
    values = {"app_id": app_id, "timestamp": stamp, "nonce": nonce, "body_sha256": digest,
              "expires_at": now + timedelta(seconds=ttl)}  # fmt: skip
    if insert_unless_present(MpNonce, values, ("app_id", "timestamp", "nonce")).rowcount == 1:
        return digest
    # Seen before (a concurrent request's insert of the pair was waited for: it is committed).
    stmt = select(MpNonce.body_sha256).where(
        MpNonce.app_id == app_id, MpNonce.timestamp == stamp, MpNonce.nonce == nonce
    )
    return db.session.connection().scalar(stmt) or ""


def _delete_expired_nonces(now: datetime) -> None:
    """Delete expired rows, at most every NONCE_CLEANUP_SECONDS in this process."""
    state = current_app.extensions.setdefault("wechat_mp_nonces", {"cleaned_at": None})
    last = state["cleaned_at"]
    if last is not None and time.monotonic() - last < NONCE_CLEANUP_SECONDS:
        return
    state["cleaned_at"] = time.monotonic()
    db.session.execute(delete(MpNonce).where(MpNonce.expires_at < now))


# --- XML --------------------------------------------------------------------------------------


def check_xml_bytes(data: bytes) -> str:
    """Refuse DTDs (400) and anything but NUL-free UTF-8 (400); nothing has been parsed yet."""
    if _FORBIDDEN_DECLARATION.search(data):
        raise BadRequest(
            "不接受包含 DOCTYPE 或 ENTITY 声明的 XML", code="xml_declaration_forbidden"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    # NUL is never valid XML; refusing it also stops UTF-16 bodies hiding a DTD from the check.
    if not text or "\x00" in text:
        raise BadRequest("XML 格式不正确", code="invalid_xml")
    return text


def parse_xml(text: str) -> dict:
    """The children of the ``<xml>`` root as a dict; 400 on anything else."""
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError):
        raise BadRequest("XML 格式不正确", code="invalid_xml") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise BadRequest("XML 格式不正确", code="invalid_xml")
    return root


def _text(fields: dict, name: str) -> str | None:
    """A child element's text, or None when absent, empty or structured."""
    value = fields.get(name)
    return value if isinstance(value, str) and value else None


def parse_inbound(xml_text: str) -> Inbound:
    """Parse and validate a (decrypted) message; 400 when required fields are missing or odd."""
    fields = parse_xml(xml_text)
    msg_type = (_text(fields, "MsgType") or "").lower()
    from_user = _text(fields, "FromUserName") or ""
    to_user = _text(fields, "ToUserName") or ""
    msg_id = _text(fields, "MsgId") or _text(fields, "MsgID")
    event = _text(fields, "Event")
    create_time = _text(fields, "CreateTime")
    valid = (
        0 < len(msg_type) <= 32
        and _USER_NAME.fullmatch(from_user)
        and _USER_NAME.fullmatch(to_user)
        and (msg_id is None or _MSG_ID.fullmatch(msg_id))
        and (event is None or len(event) <= 64)
        and (create_time is None or (create_time.isdigit() and len(create_time) <= 12))
    )
    if not valid:
        raise BadRequest("消息缺少必要字段或字段格式不正确", code="invalid_message")
    content_field = "EventKey" if msg_type == "event" else "Content"
    return Inbound(
        msg_type=msg_type,
        event=event,
        from_user=from_user,
        to_user=to_user,
        msg_id=msg_id,
        create_time=int(create_time) if create_time else None,
        content=_text(fields, content_field),
        raw_xml=xml_text,
        fields=fields,
    )


# --- storage ----------------------------------------------------------------------------------


def dedupe_key(msg: Inbound) -> str:
    """Identity shared by WeChat's retries: MsgId for messages, sender + time + event for events."""
    if msg.msg_type != "event" and msg.msg_id:
        identity = f"msg|{msg.msg_id}"
    else:
        parts = (msg.from_user, msg.create_time, msg.msg_type, msg.event, msg.msg_id)
        identity = "evt|" + "|".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


_STATEMENTS: dict[tuple, Any] = {}  # built once per process, so compiled once


def cached_statement(key: tuple, build: Callable[[], Any]) -> Any:
    """A statement built once and reused with new parameters (its compiled form is cached)."""
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS.setdefault(key, build())
    return stmt


def insert_unless_present(model: type, values: dict, unique: tuple[str, ...]):
    """INSERT ``values`` into ``model``'s table unless a row with the same ``unique`` columns
    exists: one statement and no savepoint; the result's ``rowcount`` is 1 when inserted, 0 when
    the row was there (a concurrent insert of the same key is waited for first).

    MariaDB: INSERT IGNORE. IGNORE would also turn a value too long for its column into a
    warning; every value stored through here is checked against its column first (parse_inbound,
    _NONCE), so only the duplicate key is ignored. (ON DUPLICATE KEY UPDATE cannot tell a
    duplicate from an insert: the driver's FOUND_ROWS flag makes both count 1.)
    SQLite: ON CONFLICT (the unique columns) DO NOTHING."""
    conn = db.session.connection()
    dialect = conn.dialect.name

    def build():
        if dialect == "sqlite":
            return sqlite_insert(model).on_conflict_do_nothing(index_elements=unique)
        return insert(model).prefix_with("IGNORE", dialect="mysql")

    return conn.execute(cached_statement(("insert", model, dialect, unique), build), values)


def earlier_reply(app_id: str, key: str) -> str | None:
    """The passive reply recorded for the stored message with this dedupe key (None: success,
    or no such message)."""
    stmt = select(MpInboundMessage.reply).where(
        MpInboundMessage.app_id == app_id, MpInboundMessage.dedupe_key == key
    )
    return db.session.connection().scalar(stmt)  # a retry: rare, not worth a cached statement


def record_inbound(app_id: str, msg: Inbound, *, reply: str | None) -> MpInboundMessage | None:
    """Store a message unless a retry of it is already stored: the stored row (a snapshot, not
    in the session), or None for a retry. ``reply`` is the answer expected when no handler
    answers (the welcome text, or None for success): stored with the row, so the common push
    needs no second statement (``record_reply`` corrects it in the same transaction).

    One INSERT that ignores the (app_id, dedupe_key) already present: no read before it and no
    savepoint; the unique key decides between concurrent copies (the second waits for the
    first's commit, then finds it)."""
    values = {
        "app_id": app_id,
        "dedupe_key": dedupe_key(msg),
        "msg_type": msg.msg_type,
        "event": msg.event,
        "from_openid": msg.from_user,
        "to_user": msg.to_user,
        "msg_id": msg.msg_id,
        "create_time": datetime.fromtimestamp(msg.create_time, UTC) if msg.create_time else None,
        "content": msg.content,
        "raw_xml": msg.raw_xml,
        "received_at": utcnow(),
        "replied": reply is not None,
        "reply": reply,
    }
    result = insert_unless_present(MpInboundMessage, values, ("app_id", "dedupe_key"))
    if result.rowcount != 1:
        log.info("wechat mp retry ignored: %s/%s from %s", msg.msg_type, msg.event, msg.from_user)
        return None
    row = MpInboundMessage(id=result.inserted_primary_key[0], **values)
    log.info("wechat mp %s/%s stored as %s from %s", msg.msg_type, msg.event, row.id, msg.from_user)
    return row


def record_reply(row: MpInboundMessage, text: str | None) -> None:
    """Record the passive reply sent for a stored message (a retry gets it again), unless the
    row holds it already."""
    if text == row.reply:
        return
    stmt = cached_statement(
        ("reply",),
        lambda: (
            update(MpInboundMessage)
            .where(MpInboundMessage.id == bindparam("row_id"))
            .values(replied=bindparam("replied"), reply=bindparam("text"))
        ),
    )
    db.session.connection().execute(
        stmt, {"row_id": row.id, "replied": text is not None, "text": text}
    )
    row.replied, row.reply = text is not None, text


# --- handlers ---------------------------------------------------------------------------------

HANDLERS = "zhcg.mp_handlers"
# A handler gets the parsed message and its stored row (same transaction; a read-only snapshot,
# not in the session) and returns the text to answer with, or None to let the next handler (and
# finally the welcome text) answer. It runs inside WeChat's 5-second budget: read and write a few
# rows, never call out (queue work for `flask worker` instead). It is asked of every push: a
# statement it runs on each one is worth building once (``cached_statement``).
Handler = Callable[[Inbound, MpInboundMessage], "str | None"]


def add_handler(app: Flask, handler: Handler, *, order: int = 100) -> None:
    """Let a feature answer inbound messages (lower ``order`` asks first): the conversation
    that assembles a report, a shop plate's scan, a location's nearest facilities."""
    handlers = app.extensions.setdefault(HANDLERS, [])
    handlers.append((order, len(handlers), handler))
    handlers.sort(key=lambda item: item[:2])


def answer_for(msg: Inbound, row: MpInboundMessage) -> str | None:
    """The first handler's answer, else the welcome text (None: answer ``success``)."""
    for _, _, handler in current_app.extensions.get(HANDLERS, []):
        text = handler(msg, row)
        if text is not None:
            return text
    return welcome_for(msg)


# --- replies ----------------------------------------------------------------------------------


def welcome_for(msg: Inbound) -> str | None:
    """The welcome text for text messages and subscribe events; None means answer ``success``."""
    text = (current_app.config.get("WECHAT_MP_WELCOME") or "").strip()
    if not text:
        return None
    if msg.msg_type == "text":
        return text
    if msg.msg_type == "event" and (msg.event or "").lower() == "subscribe":
        return text
    return None


def render_reply(msg: Inbound, text: str | None, *, encrypted: bool, nonce: str) -> Response:
    """A passive text reply (sender and recipient swapped), encrypted in safe mode, or success."""
    if text is None:
        return Response("success", mimetype="text/plain")
    # wechatpy puts values in CDATA without escaping; split any "]]>" so the XML stays valid.
    content = text.replace("]]>", "]]]]><![CDATA[>")
    xml = TextReply(source=msg.to_user, target=msg.from_user, content=content).render()
    if encrypted:
        xml = _crypto().encrypt_message(xml, nonce)
    return Response(xml, mimetype="application/xml")


# --- views ------------------------------------------------------------------------------------


@bp.get("/mp")
def url_check() -> Response:
    """WeChat's server URL check: echo ``echostr`` when the signature is ours and fresh."""
    args = request.args
    token = current_app.config.get("WECHAT_MP_TOKEN") or ""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    require_signature(args.get("signature"), token, timestamp, nonce)
    echostr = args.get("echostr")
    if not echostr:
        raise BadRequest("缺少 echostr 参数", code="missing_echostr")
    require_unused(timestamp, nonce, b"echostr\n" + echostr.encode("utf-8"), signed=False)
    commit()
    return Response(echostr, mimetype="text/plain")


def _read_body() -> bytes:
    """The request body, at most MAX_BODY_BYTES (413 beyond), never empty (400)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge("消息体过大", code="payload_too_large")
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge("消息体过大", code="payload_too_large")
    if not data:
        raise BadRequest("消息体为空", code="empty_body")
    return data


def _is_safe_mode() -> bool:
    """True for encrypt_type=aes, False for plain mode; 400 for anything else."""
    encrypt_type = (request.args.get("encrypt_type") or "raw").lower()
    if encrypt_type not in {"raw", "aes"}:
        raise BadRequest("不支持的消息加密方式", code="unsupported_encrypt_type")
    return encrypt_type == "aes"


def _open_safe_mode(body: bytes, token: str, timestamp: str, nonce: str) -> str:
    """Verify msg_signature over the envelope's Encrypt, check the timestamp and nonce, and
    return the decrypted XML."""
    envelope = parse_xml(check_xml_bytes(body))
    encrypt = _text(envelope, "Encrypt")
    if not encrypt:
        raise BadRequest("缺少 Encrypt 字段", code="missing_encrypt")
    msg_signature = request.args.get("msg_signature")
    require_signature(msg_signature, token, timestamp, nonce, encrypt)
    require_unused(timestamp, nonce, body, signed=True)
    plaintext = _decrypt(encrypt, msg_signature or "", timestamp, nonce)
    return check_xml_bytes(plaintext.encode("utf-8"))


@bp.post("/mp")
def receive() -> Response:
    """Store one pushed message or event and answer it inline (welcome text or success)."""
    cfg = current_app.config
    token = cfg.get("WECHAT_MP_TOKEN") or ""
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    safe_mode = _is_safe_mode()
    if not safe_mode:
        require_signature(request.args.get("signature"), token, timestamp, nonce)
    body = _read_body()
    if safe_mode:
        xml_text = _open_safe_mode(body, token, timestamp, nonce)
    else:
        require_unused(timestamp, nonce, body, signed=False)
        xml_text = check_xml_bytes(body)
    msg = parse_inbound(xml_text)
    # Stored before it is answered; WeChat's retry of a stored message gets the same answer
    # (handlers are not run twice: a conversation step is taken once).
    app_id = cfg["WECHAT_MP_APP_ID"]
    row = record_inbound(app_id, msg, reply=welcome_for(msg))
    if row is not None:
        text = answer_for(msg, row)
        record_reply(row, text)
        commit()
    else:
        commit()  # the nonce (database fallback); the retry's copy is committed already
        text = earlier_reply(app_id, dedupe_key(msg))
    return render_reply(msg, text, encrypted=safe_mode, nonce=nonce)


def init_app(app: Flask) -> None:
    """Register /wechat/mp: WeChat's servers call it, so no CSRF check and no rate limit."""
    csrf.exempt(bp)
    limiter.exempt(bp)
    app.register_blueprint(bp)
