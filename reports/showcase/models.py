"""文明行为展示: citizens' posts of civil behaviour (a photo or two and a few words), their
review, likes (one per person) and abuse reports (one per person and post).

A post moves 待审核 (pending) -> 展示中 (approved, in the public gallery) or 未通过 (refused,
the reason shown to its author). An approved post is hidden (已隐藏) by a reviewer's decision or
when enough different citizens report it; a reviewer then shows it again (dismissing the
reports) or refuses it. Staff feature approved posts (精选) on the citizen home and the 城管动态
page. ``like_count`` and ``flag_count`` are kept on the post, changed only while its row is
locked, so the gallery sorts by likes through an index.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser, User
from app.db import enum_column, utcnow
from app.extensions import db
from app.media.models import Media

TEXT_MIN, TEXT_MAX = 2, 200
REASON_MAX = 200
NOTE_MAX = 200


class PostState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    HIDDEN = "hidden"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    PostState.PENDING: "待审核",
    PostState.APPROVED: "展示中",
    PostState.REFUSED: "未通过",
    PostState.HIDDEN: "已隐藏",
}


class FlagReason(enum.StrEnum):
    """Why a citizen reports a post."""

    IMPROPER = "improper"
    PRIVACY = "privacy"
    FAKE = "fake"
    UNRELATED = "unrelated"
    OTHER = "other"

    @property
    def label(self) -> str:
        return FLAG_LABELS[self]


FLAG_LABELS = {
    FlagReason.IMPROPER: "内容低俗或不文明",
    FlagReason.PRIVACY: "泄露他人隐私（面部、车牌、门牌等）",
    FlagReason.FAKE: "虚假、摆拍或与描述不符",
    FlagReason.UNRELATED: "广告或与文明行为无关",
    FlagReason.OTHER: "其他",
}


class ShowcasePost(db.Model):
    """One citizen's post."""

    __tablename__ = "showcase_posts"
    __table_args__ = (
        # The gallery: approved posts, newest first or most liked first (keyset paging).
        Index("ix_showcase_posts_state_published", "state", "published_at", "id"),
        Index("ix_showcase_posts_state_likes", "state", "like_count", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "user:<id>:<Idempotency-Key>": a retried post returns the first one.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    text: Mapped[str] = mapped_column(String(TEXT_MAX))
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    state: Mapped[PostState] = mapped_column(enum_column(PostState, 16))
    # Why it was refused or hidden: shown to the author.
    reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    reviewed_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]  # first approval: the gallery's "newest"
    featured_at: Mapped[datetime | None] = mapped_column(index=True)
    featured_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    like_count: Mapped[int] = mapped_column(default=0)
    flag_count: Mapped[int] = mapped_column(default=0)  # open reports, one per citizen
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    author: Mapped[User] = relationship(lazy="selectin")  # every view names the author
    reviewer: Mapped[StaffUser | None] = relationship(foreign_keys=[reviewed_by_id])
    photos: Mapped[list[ShowcasePhoto]] = relationship(
        order_by="ShowcasePhoto.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ShowcasePhoto(db.Model):
    """A photo of a post (a stored upload of its author, used by this post only)."""

    __tablename__ = "showcase_photos"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("showcase_posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media.id"), unique=True)

    media: Mapped[Media] = relationship(lazy="joined")


class ShowcaseLike(db.Model):
    """A citizen likes a post: one row per person and post."""

    __tablename__ = "showcase_likes"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("showcase_posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShowcaseFlag(db.Model):
    """A citizen reports a post as abuse; open until a reviewer decides (``resolution``:
    upheld when the post is hidden or refused, dismissed when it is shown again)."""

    __tablename__ = "showcase_flags"
    __table_args__ = (UniqueConstraint("post_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique (post_id, user_id) serves the lookups by post.
    post_id: Mapped[int] = mapped_column(ForeignKey("showcase_posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[FlagReason] = mapped_column(enum_column(FlagReason, 16))
    note: Mapped[str | None] = mapped_column(String(NOTE_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))  # upheld | dismissed

    user: Mapped[User] = relationship(lazy="selectin")
