"""Media operations: store a validated upload, sign a URL for it, look it up for a viewer.

Services flush, never commit. Every stored object registers its own deletion for the case that
its transaction does not commit (``app.db.on_rollback``: a refused report, a failed commit, a
request that ends uncommitted), so no stored object is left without its row. A video is two rows
and two objects: the MP4 and its poster frame, an image of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.auth.models import StaffUser, User
from app.db import on_rollback, utcnow
from app.errors import NotFound, UnsupportedMediaType, ValidationFailed, storage_unavailable
from app.extensions import db
from app.media import images, video
from app.media.models import Media, new_public_id
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)

Owner = User | StaffUser


@dataclass(frozen=True)
class SignedUrl:
    """A short-lived link to a stored photo."""

    url: str
    expires_at: datetime


def require_content(data: bytes, field: str = "file") -> bytes:
    """The upload's bytes; a 0-byte file is 422 ``empty_file`` on every upload route (not a
    format the sniffer does not know: there is nothing to sniff)."""
    if not data:
        raise ValidationFailed(
            "上传的文件是空的（0 字节），请重新选择",
            code="empty_file",
            fields={field: ["文件为空"]},
        )
    return data


def store_upload(file_bytes: bytes, owner: Owner | None) -> Media:
    """Validate, clean and store an upload; add its row (flushed). Raises 413/415/422/503.

    ``owner`` None: a device's evidence image, owned by nobody (only staff views show it)."""
    require_content(file_bytes)
    cfg = current_app.config
    clean = images.process_upload(
        file_bytes, max_bytes=cfg["MEDIA_MAX_BYTES"], max_pixels=cfg["MEDIA_MAX_PIXELS"]
    )
    public_id = new_public_id()
    key = f"media/{utcnow():%Y/%m}/{public_id}.{clean.extension}"
    _put(key, clean.data, clean.content_type, "图片")
    media = _media_row(clean, public_id, key, owner)
    db.session.add(media)
    db.session.flush()
    log.info("media %s stored by %s %s", public_id, type(owner).__name__, getattr(owner, "id", "-"))
    return media


def store_video_upload(data: bytes, owner: Owner | None) -> Media:
    """Validate, clean and store a video and its poster image; add both rows (flushed).

    Raises 413/415/422/503. The poster goes through the image pipeline like any photo, so it is
    re-encoded without EXIF and hashed; the video row points at it and shares its hash."""
    require_content(data)
    cfg = current_app.config
    clean = video.process_video(
        data,
        max_bytes=cfg["MEDIA_VIDEO_MAX_BYTES"],
        max_seconds=cfg["MEDIA_VIDEO_MAX_SECONDS"],
        max_pixels=cfg["MEDIA_VIDEO_MAX_PIXELS"],
    )
    # Our own frame, already bounded by the video's limits: the photo caps must not refuse it.
    still = images.process_upload(
        clean.poster,
        max_bytes=len(clean.poster),
        max_pixels=max(cfg["MEDIA_MAX_PIXELS"], clean.width * clean.height),
    )
    month = f"{utcnow():%Y/%m}"
    poster_id, video_id = new_public_id(), new_public_id()
    poster_key = f"media/{month}/{poster_id}.{still.extension}"
    video_key = f"media/{month}/{video_id}.{clean.extension}"
    _put(poster_key, still.data, still.content_type, "视频")
    _put(video_key, clean.data, clean.content_type, "视频")
    poster = _media_row(still, poster_id, poster_key, owner)
    db.session.add(poster)
    db.session.flush()  # the poster's id, for the video row's foreign key
    media = _video_row(clean, video_id, video_key, owner)
    # The hash of the stored poster, not of the frame before JPEG: the two rows then match
    # exactly, and a video is found by the same lookup as a photo of the same scene.
    media.phash, media.poster_id = still.phash, poster.id
    db.session.add(media)
    db.session.flush()
    log.info("video %s stored by %s %s", video_id, type(owner).__name__, getattr(owner, "id", "-"))
    return media


def store_any_upload(data: bytes, owner: Owner | None) -> Media:
    """Store a photo or a video, told apart by content; 415 if it is neither."""
    require_content(data)
    if images.sniff_format(data) is not None:
        return store_upload(data, owner)
    if video.sniff_format(data) is not None:
        return store_video_upload(data, owner)
    # The code predates videos; clients already branch on it, so it stays.
    raise UnsupportedMediaType(
        "仅支持 JPEG、PNG、WebP 图片或 MP4、MOV 视频", code="unsupported_image_type"
    )


def poster_of(media: Media) -> Media | None:
    """A video's poster image row, or None (photos, or a poster since deleted)."""
    return db.session.get(Media, media.poster_id) if media.poster_id else None


def _put(key: str, data: bytes, content_type: str, what: str) -> None:
    """Store one object, to be deleted again if the transaction that will hold its row does not
    commit (a refused report, a failed flush); a storage outage becomes 503 with Retry-After.

    The deletion is registered before the upload: a store may have taken the object and lost
    its answer (a dropped connection, a timeout), and that object goes with the failed request."""
    on_rollback(lambda: discard_stored(key))
    try:
        get_storage().put(key, data, content_type)
    except StorageError:
        log.exception("storing upload %s failed", key)
        raise storage_unavailable(f"{what}保存失败，请稍后重试") from None


def _row(
    clean: images.CleanImage | video.CleanVideo,
    public_id: str,
    key: str,
    owner: Owner | None,
    **extra: object,
) -> Media:
    """The row describing a stored clean copy (``extra``: what only one kind has)."""
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
        **extra,
    )


def _media_row(clean: images.CleanImage, public_id: str, key: str, owner: Owner | None) -> Media:
    """The row describing a stored clean image."""
    return _row(clean, public_id, key, owner, kind="image", phash=clean.phash)


def _video_row(clean: video.CleanVideo, public_id: str, key: str, owner: Owner | None) -> Media:
    """The row describing a stored clean video (its poster is linked by the caller)."""
    return _row(
        clean, public_id, key, owner, kind="video", duration_ms=clean.duration_ms, codec=clean.codec
    )


def discard_stored(key: str) -> None:
    """Delete a stored object whose row will not exist (failed flush or commit); never raises."""
    try:
        get_storage().delete(key)
    except StorageError:
        log.exception("could not delete orphaned media object %s", key)


def signed_url(media: Media) -> SignedUrl:
    """A fresh URL for the photo or video, valid for MEDIA_URL_TTL_SECONDS."""
    ttl = int(current_app.config["MEDIA_URL_TTL_SECONDS"])
    url = get_storage().url(media.storage_key, ttl)
    return SignedUrl(url=url, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))


def media_for_viewer(public_id: str, viewer: Owner) -> Media:
    """The photo if ``viewer`` owns it or is staff; NotFound otherwise (existence not revealed)."""
    media = db.session.scalar(select(Media).where(Media.public_id == public_id))
    if media is None or not (isinstance(viewer, StaffUser) or media.is_owned_by(viewer)):
        raise NotFound("图片不存在", code="media_not_found")
    return media
