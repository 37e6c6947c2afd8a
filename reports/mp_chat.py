"""Reporting without leaving the chat (公众号对话): text, then photos, then a location.

The conversation (one ``MpChat`` per citizen while it is open) is driven by the public-account
callback (``wechat.mp_callback``, handler order 10: asked first). It starts with the menu button
(CLICK ``REPORT_IN_CHAT``) or the texts 上报 / 我要上报, and answers each step at once from the
database only (WeChat's 5-second rule):

1. a text description, checked as every channel checks it (``service.check_description``);
2. photos (image messages): only WeChat's MediaId and PicUrl are kept, at most
   ``service.MAX_PHOTOS``, each answered 已收到第N张照片; texts sent meanwhile are added to the
   description;
3. a location message (GCJ-02), which must lie in the city (``app.geo.regions``): the
   conversation is then ready and the citizen reads 已收到，正在登记….

取消 ends it at any step. One idle for MP_CHAT_TIMEOUT_MINUTES has expired: the citizen's next
message is told so (and 上报 starts afresh). Events other than the start button (subscribe, the
periodic LOCATION report, other menus) pass through to the other handlers.

`flask worker` files ready conversations (``file_ready_reports``): it claims one with a
conditional UPDATE (two workers never hold the same one; a claim older than ``LEASE`` is taken
over), fetches each photo from WeChat (``cgi-bin/media/get``) with no transaction open, stores
them through the media service (the same cleaning as uploaded photos: re-encoded, EXIF and its
GPS dropped), finds or creates the citizen of the public-account openid (as H5 sign-in does),
and submits one report (channel 公众号对话, the conversation id as idempotency key), then queues
the message with its number and link (``notify.enqueue_state_change``).

Photos WeChat cannot hand over: a transient failure (busy, network, rate limit) puts the
conversation back for a later round with a doubling wait, MP_CHAT_FETCH_ATTEMPTS times; a
permanent one (40007: invalid or expired media_id) or the last attempt files the report without
that photo, and the citizen's message says which photos are missing. A report is always filed:
the description and the place are worth a case even without a picture (the dispatcher sees
them in triage). Only a submission the reports service refuses fails the conversation
(``last_error``; logged).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import WechatApp
from app.auth.service import citizen_from_wechat
from app.db import commit, utcnow
from app.dbsetup import writer
from app.errors import AppError, ValidationFailed
from app.extensions import db
from app.geo import regions
from app.media import service as media_service
from reports import notify, service
from reports.models import Channel
from reports.mp_chat_models import ChatState, MpChat
from wechat import service as wx
from wechat.models import MpInboundMessage
from wechat.mp_callback import Inbound, add_handler, cached_statement

log = logging.getLogger(__name__)

START_KEY = "REPORT_IN_CHAT"  # the menu's click button
START_WORDS = frozenset({"上报", "我要上报"})
CANCEL_WORDS = frozenset({"取消"})
DESCRIPTION_MAX = 500  # as the report forms allow
OWNER_KEY = "mp_chat"  # idempotency keys are "mp_chat:<conversation id>"
LEASE = timedelta(minutes=10)  # a claim older than this was lost with its worker
HANDLER_ORDER = 10

# What the citizen reads.
HOW_TO_START = "如需上报问题，请回复“上报”或点击菜单“我要上报”。"
CANCEL_HINT = "（回复“取消”可放弃本次上报）"
ASK_DESCRIPTION = (
    "好的，我们一步一步来上报问题{cancel}。\n第1步：请用文字描述您发现的问题，"
    "例如：“南湖路与文化路路口井盖破损”。"
)
ASK_PHOTOS = (
    "已记录问题描述。\n第2步：请发送现场照片（1至{max}张）：点击输入框旁的“+”，选择“照片”或“拍摄”。"
)
ASK_LOCATION = "第3步：请发送问题位置：点击输入框旁的“+”，选择“位置”，在地图上选好后发送。"
PHOTO_RECEIVED = "已收到第{n}张照片。还可继续发送照片（最多{max}张）；照片发完后，\n" + ASK_LOCATION
PHOTO_LAST = "已收到第{n}张照片，照片已满{max}张。\n" + ASK_LOCATION
PHOTO_OVER = "最多只能发送{max}张照片，这张未收录。\n" + ASK_LOCATION
TEXT_ADDED = "已把这段文字补充到问题描述中。请继续发送现场照片，或发送问题位置。"
TEXT_TOO_LONG = (
    "补充后问题描述将超过{max}个字，这段文字未补充。请继续发送现场照片，或发送问题位置。"
)
DESCRIPTION_TOO_LONG = "问题描述最多{max}个字，请精简后重新发送" + CANCEL_HINT + "。"
NEED_PHOTO = "请先发送至少一张现场照片（点击“+”选择“照片”或“拍摄”），再发送位置。"
BAD_LOCATION = "没有读到这条位置信息，请重新发送问题位置（点击“+”选择“位置”）。"
OUTSIDE_CITY = "该位置不在本市范围内，请重新发送问题所在位置（点击“+”选择“位置”）。"
READY = "已收到，正在登记…稍后会把案件编号和查询链接发给您。"
CANCELLED = "已取消本次上报。" + HOW_TO_START
EXPIRED = "您上一次的上报超过{minutes}分钟没有继续，已自动取消。"
IN_PROGRESS = "您正在上报中。"
HINT_DESCRIBE = "请先用文字描述问题（至少{min}个字），再发送照片和位置" + CANCEL_HINT + "。"
HINT_PHOTOS = (
    "请发送现场照片（点击“+”选择“照片”或“拍摄”）或问题位置（选择“位置”）；"
    "暂不支持语音、视频和文件" + CANCEL_HINT + "。"
)
FILED = "公众号对话上报已登记"  # the message adds the number and the link
FILED_MISSING = "（第{which}张照片已过期或无法从微信取回，未能附上）"


# --- the conversation (inside the callback: database only) ------------------------------------


def open_key(app_id: str, openid: str) -> str:
    """The unique key of a citizen's open conversation."""
    return hashlib.sha256(f"{app_id}|{openid}".encode()).hexdigest()


def _timeout() -> timedelta:
    return timedelta(minutes=current_app.config["MP_CHAT_TIMEOUT_MINUTES"])


def _locked_open_chat(app_id: str, openid: str) -> MpChat | None:
    """The citizen's open conversation, locked until the callback commits (WeChat pushes
    several photos at once: each step reads what the one before wrote).

    Found by a plain read, then locked by its primary key (and read again, as committed): a
    locking read of a missing key would lock the index gap, and two citizens starting at once
    would then deadlock on their inserts. A conversation started concurrently is caught by the
    unique key instead (``_start``)."""
    key = open_key(app_id, openid)
    # Asked of every push (most find none): a statement built once, on the transaction's
    # connection without the ORM's bookkeeping (nothing of this conversation is pending yet).
    find = cached_statement(
        ("mp_chat_open",), lambda: select(MpChat.id).where(MpChat.open_key == bindparam("key"))
    )
    chat_id = db.session.connection().scalar(find, {"key": key})
    if chat_id is None:
        return None
    query = (
        select(MpChat)
        .where(MpChat.id == chat_id, MpChat.open_key == key)
        .execution_options(populate_existing=True)
    )
    if db.session.get_bind().dialect.name != "sqlite":  # SQLite: a POST holds the write lock
        query = query.with_for_update()
    return db.session.scalar(query)


def _is_start(msg: Inbound) -> bool:
    if msg.msg_type == "event":
        return (msg.event or "").upper() == "CLICK" and msg.content == START_KEY
    return msg.msg_type == "text" and (msg.content or "").strip() in START_WORDS


def _end(chat: MpChat, state: ChatState) -> None:
    chat.state, chat.open_key, chat.updated_at = state, None, utcnow()
    db.session.flush()  # frees the open key for a conversation started in this request


def _prompt(chat: MpChat) -> str:
    """What the open conversation waits for."""
    if chat.state == ChatState.DESCRIBING:
        return ASK_DESCRIPTION.format(cancel=CANCEL_HINT).split("\n", 1)[1]
    if chat.photos:
        return ASK_LOCATION
    return ASK_PHOTOS.format(max=service.MAX_PHOTOS).split("\n", 1)[1]


def handle(msg: Inbound, row: MpInboundMessage) -> str | None:
    """The callback's handler: the answer to this message, or None when no conversation is
    open and this message does not start one (the other handlers answer it)."""
    app_id = current_app.config["WECHAT_MP_APP_ID"]
    starts = _is_start(msg)
    chat = _locked_open_chat(app_id, msg.from_user)
    said = ""
    if chat is not None and chat.updated_at < utcnow() - _timeout():
        _end(chat, ChatState.EXPIRED)
        log.info("mp chat %s expired", chat.id)
        chat = None
        said = EXPIRED.format(minutes=current_app.config["MP_CHAT_TIMEOUT_MINUTES"]) + "\n"
        if not starts:
            return said + HOW_TO_START
    if chat is None:
        return said + _start(app_id, msg.from_user) if starts else None
    if starts:
        return IN_PROGRESS + _prompt(chat) + CANCEL_HINT
    if msg.msg_type == "event":
        return None  # subscribe, the periodic LOCATION event, other menus: not a step
    if msg.msg_type == "text" and (msg.content or "").strip() in CANCEL_WORDS:
        _end(chat, ChatState.CANCELLED)
        log.info("mp chat %s cancelled", chat.id)
        return CANCELLED
    chat.updated_at = utcnow()
    if chat.state == ChatState.DESCRIBING:
        return _describe(chat, msg)
    if msg.msg_type == "image":
        return _add_photo(chat, msg)
    if msg.msg_type == "text":
        return _add_text(chat, msg.content or "")
    if msg.msg_type == "location":
        return _locate(chat, msg)
    return HINT_PHOTOS


def _start(app_id: str, openid: str) -> str:
    chat = MpChat(app_id=app_id, openid=openid, open_key=open_key(app_id, openid),
                  state=ChatState.DESCRIBING, photos=[])  # fmt: skip
    try:
        with db.session.begin_nested():
            db.session.add(chat)
    except IntegrityError:  # started by a message of the same citizen committed just before
        return IN_PROGRESS + ASK_DESCRIPTION.format(cancel=CANCEL_HINT).split("\n", 1)[1]
    log.info("mp chat %s started", chat.id)
    return ASK_DESCRIPTION.format(cancel=CANCEL_HINT)


def _describe(chat: MpChat, msg: Inbound) -> str:
    if msg.msg_type != "text":
        return HINT_DESCRIBE.format(min=service.DESCRIPTION_MIN)
    try:
        text = service.check_description(msg.content or "", Channel.MP_CHAT)
    except ValidationFailed as exc:
        reason = ((exc.fields or {}).get("description") or [exc.message])[0]
        return f"{reason}{CANCEL_HINT}。"
    if len(text) > DESCRIPTION_MAX:
        return DESCRIPTION_TOO_LONG.format(max=DESCRIPTION_MAX)
    chat.description, chat.state = text, ChatState.PHOTOS
    return ASK_PHOTOS.format(max=service.MAX_PHOTOS)


def _field(msg: Inbound, name: str) -> str | None:
    value = msg.fields.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _add_photo(chat: MpChat, msg: Inbound) -> str:
    media_id = _field(msg, "MediaId")
    if media_id is None or len(media_id) > 128:
        return HINT_PHOTOS
    limit = service.MAX_PHOTOS
    if len(chat.photos) >= limit:
        return PHOTO_OVER.format(max=limit)
    pic_url = (_field(msg, "PicUrl") or "")[:500]
    chat.photos = [*chat.photos, {"media_id": media_id, "pic_url": pic_url, "msg_id": msg.msg_id}]
    n = len(chat.photos)
    return (PHOTO_LAST if n == limit else PHOTO_RECEIVED).format(n=n, max=limit)


def _add_text(chat: MpChat, text: str) -> str:
    text = text.strip()
    if not text:
        return HINT_PHOTOS
    combined = f"{chat.description}\n{text}"
    if len(combined) > DESCRIPTION_MAX:
        return TEXT_TOO_LONG.format(max=DESCRIPTION_MAX)
    chat.description = combined
    return TEXT_ADDED


def _coordinate(msg: Inbound, name: str, bound: float) -> float | None:
    try:
        value = float(_field(msg, name) or "nan")
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= bound else None


def _locate(chat: MpChat, msg: Inbound) -> str:
    if not chat.photos:
        return NEED_PHOTO
    lat, lng = _coordinate(msg, "Location_X", 90), _coordinate(msg, "Location_Y", 180)
    if lat is None or lng is None:
        return BAD_LOCATION
    try:
        regions.where(lat, lng, "gcj02")
    except regions.OutsideCity:
        return OUTSIDE_CITY
    now = utcnow()
    chat.lat, chat.lng, chat.label = lat, lng, (_field(msg, "Label") or "")[:200] or None
    chat.ready_at = chat.next_attempt_at = now
    _end(chat, ChatState.READY)
    log.info("mp chat %s ready: %d photos", chat.id, len(chat.photos))
    return READY


# --- the worker: ready conversations become reports --------------------------------------------


def file_ready_reports(limit: int = 20) -> int:
    """`flask worker` task: file the conversations due now; how many were worked on."""
    worked = 0
    with writer():  # on SQLite, each short transaction takes the write lock as it begins
        ids = _due_ids(limit)
        commit()
        random.shuffle(ids)  # workers reading the same list start on different conversations
        for chat_id in ids:
            if not _claim(chat_id):
                commit()  # another worker has it
                continue
            commit()  # the claim is durable before WeChat is called
            _work(chat_id)
            worked += 1
    return worked


def _due(now):
    return or_(
        and_(MpChat.state == ChatState.READY, MpChat.next_attempt_at <= now),
        and_(MpChat.state == ChatState.SUBMITTING, MpChat.claimed_at < now - LEASE),
    )


def _due_ids(limit: int) -> list[int]:
    now = utcnow()
    return list(db.session.scalars(select(MpChat.id).where(_due(now)).order_by(MpChat.id)
                                   .limit(limit)))  # fmt: skip


def _claim(chat_id: int) -> bool:
    """Take the conversation if it is still due: one conditional UPDATE, so of two workers
    one changes the row and the other (waiting for its lock, then re-reading) changes none."""
    now = utcnow()
    result = db.session.execute(
        update(MpChat).where(MpChat.id == chat_id, _due(now))
        .values(state=ChatState.SUBMITTING, claimed_at=now, attempts=MpChat.attempts + 1)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return result.rowcount == 1


def _work(chat_id: int) -> str:
    """Fetch the photos (no transaction open), then file the report. Returns the outcome."""
    chat = db.session.get(MpChat, chat_id)
    db.session.refresh(chat)
    photos, attempts = list(chat.photos or []), chat.attempts
    commit()
    fetched: list[tuple[int, bytes]] = []
    missing: list[int] = []
    for n, photo in enumerate(photos, 1):
        try:
            fetched.append((n, wx.get_media(photo["media_id"])))
        except wx.MediaFetchFailed as exc:
            if exc.retryable and attempts < current_app.config["MP_CHAT_FETCH_ATTEMPTS"]:
                return _retry_later(chat_id, f"第{n}张照片暂时无法取回（errcode {exc.errcode}）")
            log.warning("mp chat %s: photo %d not fetched (errcode %s)", chat_id, n, exc.errcode)
            missing.append(n)
    try:
        return _file(chat_id, fetched, missing)
    except ValidationFailed as exc:
        db.session.rollback()
        return _fail(chat_id, exc)
    except AppError as exc:  # storage unavailable (503) and the like: try again later
        db.session.rollback()
        return _retry_later(chat_id, f"{exc.code}: {exc.message}")


def _retry_later(chat_id: int, why: str) -> str:
    chat = db.session.get(MpChat, chat_id)
    wait = current_app.config["MP_CHAT_RETRY_SECONDS"] * 2 ** max(chat.attempts - 1, 0)
    chat.state, chat.claimed_at, chat.last_error = ChatState.READY, None, why[:500]
    chat.next_attempt_at = utcnow() + timedelta(seconds=min(wait, 3600))
    commit()
    log.info("mp chat %s: retry in %.0f s (%s)", chat_id, wait, why)
    return "retry"


def _fail(chat_id: int, exc: AppError) -> str:
    chat = db.session.get(MpChat, chat_id)
    chat.state, chat.claimed_at = ChatState.FAILED, None
    chat.last_error = f"{exc.code}: {exc.message} {exc.fields or ''}"[:500]
    commit()
    log.error("mp chat %s not filed: %s", chat_id, chat.last_error)
    return "failed"


def _file(chat_id: int, fetched: list[tuple[int, bytes]], missing: list[int]) -> str:
    chat = db.session.get(MpChat, chat_id)
    if chat.state != ChatState.SUBMITTING:  # pragma: no cover - the lease was taken over
        commit()
        return "moved"
    user, _ = citizen_from_wechat(WechatApp.MP, chat.app_id, chat.openid)
    photo_ids = []
    for n, data in fetched:
        try:
            photo_ids.append(media_service.store_upload(data, user).public_id)
        except AppError as exc:
            if exc.status >= 500:
                raise
            log.warning("mp chat %s: photo %d refused (%s)", chat_id, n, exc.code)
            missing.append(n)
    sub = service.Submission(
        description=chat.description or "", channel=Channel.MP_CHAT, lat=chat.lat,
        lng=chat.lng, coord_sys="gcj02", address=chat.label, photo_ids=photo_ids,
        idempotency_key=str(chat.id), photos_required=False,
    )  # fmt: skip
    report, created = service.submit_report(sub, owner_key=OWNER_KEY, citizen=user)
    missing.sort()
    chat.state, chat.claimed_at, chat.user_id, chat.report_id = (
        ChatState.DONE, None, user.id, report.id)  # fmt: skip
    chat.last_error = FILED_MISSING.format(which="、".join(map(str, missing))) if missing else None
    if created:
        text = FILED + (chat.last_error or "")
        notify.enqueue_state_change(report, text)
    try:
        commit()
    except IntegrityError:  # pragma: no cover - a taken-over lease filed it first
        return "moved"
    log.info("mp chat %s filed as %s (%d photos, %d missing)", chat_id, report.number,
             len(photo_ids), len(missing))  # fmt: skip
    return "filed"


def init_app(app: Flask) -> None:
    """Answer the chat first (order 10) and file ready conversations in `flask worker`."""
    add_handler(app, handle, order=HANDLER_ORDER)
    notify.add_worker_task(app, file_ready_reports)
