"""A report assembled in the public account's chat (公众号对话): one row per conversation."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import enum_column, utcnow
from app.extensions import db


class ChatState(enum.StrEnum):
    """Where a conversation stands."""

    DESCRIBING = "describing"  # waiting for the text description
    PHOTOS = "photos"  # waiting for photos, then for the location
    READY = "ready"  # complete: waiting for `flask worker` to file it
    SUBMITTING = "submitting"  # a worker holds it (claimed_at: its lease)
    DONE = "done"  # filed as report_id
    FAILED = "failed"  # could not be filed (last_error says why)
    CANCELLED = "cancelled"  # the citizen sent 取消
    EXPIRED = "expired"  # idle longer than MP_CHAT_TIMEOUT_MINUTES

    @property
    def is_open(self) -> bool:
        return self in (ChatState.DESCRIBING, ChatState.PHOTOS)


class MpChat(db.Model):
    """One citizen's conversation with the account that assembles one report.

    ``open_key`` is the SHA-256 hex of (app id, openid) while the conversation is open and NULL
    once it ends: the unique index keeps one open conversation per citizen, even when WeChat
    pushes several photos at once (hex, so MariaDB's case-insensitive collation cannot merge
    openids differing only in letter case)."""

    __tablename__ = "mp_chats"
    __table_args__ = (Index("ix_mp_chats_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64), index=True)
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[ChatState] = mapped_column(enum_column(ChatState, 16))
    description: Mapped[str | None] = mapped_column(Text)
    # [{"media_id", "pic_url", "msg_id"}], in the order received (the media is fetched later).
    photos: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Double)  # GCJ-02, as WeChat sends it
    lng: Mapped[float | None] = mapped_column(Double)
    label: Mapped[str | None] = mapped_column(String(200))  # the location's address text
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # the last step taken
    ready_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)  # worker claims so far
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    last_error: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:
        return f"<MpChat {self.id} {self.state.value} {self.openid}>"
