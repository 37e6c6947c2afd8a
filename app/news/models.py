"""城管动态: notices the bureau publishes for citizens (plain text, an optional cover photo)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser
from app.db import enum_column, utcnow
from app.extensions import db
from app.media.models import Media

TITLE_MAX = 60
SUMMARY_MAX = 200
BODY_MAX = 20_000


class NewsStatus(enum.StrEnum):
    """Where an article stands; only published ones are public."""

    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    NewsStatus.DRAFT: "草稿",
    NewsStatus.PUBLISHED: "已发布",
    NewsStatus.WITHDRAWN: "已撤回",
}


class NewsArticle(db.Model):
    """One article. The body is plain text (paragraphs separated by line breaks), never HTML:
    pages escape it, so nothing a staff member types can run in a citizen's browser."""

    __tablename__ = "news_articles"
    # The public list: published ones, newest first.
    __table_args__ = (Index("ix_news_articles_status_published", "status", "published_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    summary: Mapped[str] = mapped_column(String(SUMMARY_MAX), default="")
    body: Mapped[str] = mapped_column(Text)
    cover_media_id: Mapped[int | None] = mapped_column(ForeignKey("media.id"), index=True)
    status: Mapped[NewsStatus] = mapped_column(enum_column(NewsStatus, 16))
    published_at: Mapped[datetime | None]
    author_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    cover: Mapped[Media | None] = relationship()
    author: Mapped[StaffUser | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def paragraphs(self) -> list[str]:
        """The body's non-empty lines, each a paragraph."""
        return [line.strip() for line in self.body.splitlines() if line.strip()]

    @property
    def excerpt(self) -> str:
        """The summary, or the body's beginning when there is none."""
        if self.summary:
            return self.summary
        text = " ".join(self.paragraphs)
        return text if len(text) <= 80 else text[:80] + "…"
