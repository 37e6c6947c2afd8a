"""WeChat tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import utcnow
from app.extensions import db


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

    def __repr__(self) -> str:
        return f"<MpInboundMessage {self.id} {self.msg_type}/{self.event} from {self.from_openid}>"
