"""Media operations: store a validated upload, sign a URL for it, look it up for a viewer.

Services flush, never commit. The caller commits once and calls ``discard_stored`` if that commit
fails, so no stored object is left without its row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.auth.models import StaffUser, User
from app.db import utcnow
from app.errors import NotFound, ServiceUnavailable
from app.extensions import db
from app.media import images
from app.media.models import Media, new_public_id
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)

Owner = User | StaffUser


@dataclass(frozen=True)
class SignedUrl:
    """A short-lived link to a stored photo."""

    url: str
    expires_at: datetime


def store_upload(file_bytes: bytes, owner: Owner | None) -> Media:
    """Validate, clean and store an upload; add its row (flushed). Raises 413/415/422/503.

    ``owner`` None: a device's evidence image, owned by nobody (only staff views show it)."""
    cfg = current_app.config
    clean = images.process_upload(
        file_bytes, max_bytes=cfg["MEDIA_MAX_BYTES"], max_pixels=cfg["MEDIA_MAX_PIXELS"]
    )
    public_id = new_public_id()
    key = f"media/{utcnow():%Y/%m}/{public_id}.{clean.extension}"
    try:
        get_storage().put(key, clean.data, clean.content_type)
    except StorageError:
        log.exception("storing upload %s failed", key)
        raise ServiceUnavailable("图片保存失败，请稍后重试", code="storage_unavailable") from None
    media = _media_row(clean, public_id, key, owner)
    db.session.add(media)
    try:
        db.session.flush()
    except Exception:
        discard_stored(key)
        raise
    log.info("media %s stored by %s %s", public_id, type(owner).__name__, getattr(owner, "id", "-"))
    return media


def _media_row(clean: images.CleanImage, public_id: str, key: str, owner: Owner | None) -> Media:
    """The row describing a stored clean copy."""
    return Media(
        public_id=public_id,
        storage_key=key,
        content_type=clean.content_type,
        format=clean.format,
        size=clean.size,
        width=clean.width,
        height=clean.height,
        sha256=clean.sha256,
        captured_at=clean.captured_at,
        gps_lat=clean.gps_lat,
        gps_lng=clean.gps_lng,
        user_id=owner.id if isinstance(owner, User) else None,
        staff_id=owner.id if isinstance(owner, StaffUser) else None,
    )


def discard_stored(key: str) -> None:
    """Delete a stored object whose row will not exist (failed flush or commit); never raises."""
    try:
        get_storage().delete(key)
    except StorageError:
        log.exception("could not delete orphaned media object %s", key)


def signed_url(media: Media) -> SignedUrl:
    """A fresh URL for the photo, valid for MEDIA_URL_TTL_SECONDS."""
    ttl = int(current_app.config["MEDIA_URL_TTL_SECONDS"])
    url = get_storage().url(media.storage_key, ttl)
    return SignedUrl(url=url, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))


def media_for_viewer(public_id: str, viewer: Owner) -> Media:
    """The photo if ``viewer`` owns it or is staff; NotFound otherwise (existence not revealed)."""
    media = db.session.scalar(select(Media).where(Media.public_id == public_id))
    if media is None or not (isinstance(viewer, StaffUser) or media.is_owned_by(viewer)):
        raise NotFound("图片不存在", code="media_not_found")
    return media
