"""WeChat tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app import changes
from app.db import utcnow
from app.extensions import db

# The keyword replies' change counter: the callback keeps them in memory (wechat.keywords).
KEYWORDS_TOPIC = "mp_keywords"


class MpInboundMessage(db.Model):
    """A message or event pushed to the public-account callback, stored once per WeChat retry group.

    ``dedupe_key`` is a SHA-256 hex digest of the retry identity (MsgId for messages,
    FromUserName + CreateTime + Event for events): hex is immune to MariaDB's case-insensitive
    collation, which would otherwise merge openids differing only in letter case.
    """

    __tablename__ = "wechat_mp_messages"
    __table_args__ = (UniqueConstraint("app_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(64))
    from_openid: Mapped[str] = mapped_column(String(64), index=True)
    to_user: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str | None] = mapped_column(String(32))
    create_time: Mapped[datetime | None]
    content: Mapped[str | None] = mapped_column(Text)  # text content, or the event key
    raw_xml: Mapped[str] = mapped_column(Text)  # fits: bodies are capped below 64 KiB
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    replied: Mapped[bool] = mapped_column(default=False)
    reply: Mapped[str | None] = mapped_column(Text)  # the passive reply sent; a retry gets it again

    def __repr__(self) -> str:
        return f"<MpInboundMessage {self.id} {self.msg_type}/{self.event} from {self.from_openid}>"


class MpNonce(db.Model):
    """A (timestamp, nonce) pair the public-account callback has accepted, kept until
    ``expires_at`` (after which the timestamp is stale anyway): a signed request seen again with
    another body is a replay. Used when Redis is not configured or not reachable.

    ``body_sha256`` tells WeChat's own retry (the same body again) from a replay."""

    __tablename__ = "wechat_mp_nonces"
    __table_args__ = (UniqueConstraint("app_id", "timestamp", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<MpNonce {self.app_id} {self.timestamp}/{self.nonce}>"


class SubscribeGrant(db.Model):
    """One message a citizen allowed through the mini-program's subscribe prompt
    (``wx.requestSubscribeMessage``: each "accept" of a one-time template lets us send one
    message). ``request_key`` is the client's Idempotency-Key, so a retried report of the same
    prompt adds nothing; ``used_at`` is set when a message spends it."""

    __tablename__ = "wechat_subscribe_grants"
    __table_args__ = (UniqueConstraint("user_id", "template_id", "request_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(64))
    request_key: Mapped[str] = mapped_column(String(64))
    report_number: Mapped[str | None] = mapped_column(String(20))  # the case it was asked for
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(BigInteger)  # the outbox message that spent it


# --- the public account as a conversation (issue 15): menu, keywords, followers ----------------


class MpMenu(db.Model):
    """The public account's custom menu as data (one row per account): ``buttons`` is WeChat's
    ``button`` array as sent to ``cgi-bin/menu/create``. ``pushed_at`` is the last successful push
    (an audit row records each push and its result)."""

    __tablename__ = "wechat_mp_menus"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    pushed_at: Mapped[datetime | None]
    pushed_by: Mapped[str | None] = mapped_column(String(64))


class MpKeyword(db.Model):
    """An automatic reply: a text message equal to (``exact``) or containing (``contains``)
    ``keyword`` is answered with ``reply``. Exact matches win over contained ones."""

    __tablename__ = "wechat_mp_keywords"
    __table_args__ = (UniqueConstraint("keyword"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    keyword: Mapped[str] = mapped_column(String(64))
    match: Mapped[str] = mapped_column(String(8), default="exact")  # exact | contains
    reply: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


changes.watch(KEYWORDS_TOPIC, MpKeyword)
changes.share(KEYWORDS_TOPIC)  # every process on the host reads the new keywords at once


class MpFollower(db.Model):
    """One openid of the public account: following or not, and when it last wrote to us.

    ``last_message_at``: the last message the person sent (text, image, location, ...), which
    opens WeChat's 48-hour customer-service window; ``last_seen_at``: the last push of any kind
    (clicks, scans and follows open only a one-minute window of three messages)."""

    __tablename__ = "wechat_mp_followers"
    __table_args__ = (UniqueConstraint("app_id", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    subscribed: Mapped[bool] = mapped_column(default=False)
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
