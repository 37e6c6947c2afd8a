"""Uploaded photos: where the clean copy is stored, what it is, and its private metadata."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import CheckConstraint, Double, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser, User
from app.db import utcnow
from app.extensions import db


def new_public_id() -> str:
    """A random, unguessable id for URLs (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


class Media(db.Model):
    """One stored photo. ``captured_at`` and GPS come from EXIF and are never shown publicly."""

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint("user_id IS NULL OR staff_id IS NULL", name="at_most_one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    size: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Private: from the upload's EXIF, before it was stripped from the stored copy.
    captured_at: Mapped[datetime | None]
    gps_lat: Mapped[float | None] = mapped_column(Double)
    gps_lng: Mapped[float | None] = mapped_column(Double)
    # RESTRICT: removing an account must go through a service that deals with its photos (and
    # their stored files); a cascade would leave orphaned objects. (MariaDB also refuses SET NULL
    # on a column used in a CHECK.)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "image" or "video". A video keeps its duration and codec, and points at its poster frame
    # (an image row of its own, shown where the video cannot play).
    kind: Mapped[str] = mapped_column(String(8), default="image", server_default="image")
    duration_ms: Mapped[int | None]
    codec: Mapped[str | None] = mapped_column(String(16))
    poster_id: Mapped[int | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    # 64-bit perceptual hash (dHash, 16 hex digits) of the image or the poster frame: the same
    # picture sent again, even re-encoded or resized, is found by a small Hamming distance.
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    # The public copy (app/media/privacy.py): faces and plates blurred, made once when the photo
    # becomes public. ``public_state``: None (never shown publicly), "pending" (the worker makes
    # it), "ready" (``public_key`` stored) or "failed" (the original could not be read).
    public_state: Mapped[str | None] = mapped_column(String(8), index=True)
    public_key: Mapped[str | None] = mapped_column(String(255))
    redacted_at: Mapped[datetime | None]
    faces_found: Mapped[int | None]
    plates_found: Mapped[int | None]

    user: Mapped[User | None] = relationship()
    staff: Mapped[StaffUser | None] = relationship()

    def is_owned_by(self, owner: User | StaffUser | None) -> bool:
        """True if ``owner`` uploaded this photo."""
        if isinstance(owner, User):
            return self.user_id is not None and self.user_id == owner.id
        if isinstance(owner, StaffUser):
            return self.staff_id is not None and self.staff_id == owner.id
        return False
