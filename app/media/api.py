"""Media API: upload a photo or a video, read its details with a fresh short-lived URL."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth.current import current_citizen, current_staff
from app.auth.models import StaffUser, User
from app.db import commit
from app.errors import Unauthorized, UnsupportedMediaType
from app.extensions import limiter
from app.media import service
from app.media.models import Media
from app.media.schemas import MediaOut, MediaStaffOut, UploadIn
from app.ratelimits import public_limit

blp = Blueprint("media", __name__, url_prefix="/api/v1/media", description="图片、视频上传与查看")


def signed_in() -> User | StaffUser:
    """The calling staff account or citizen; 401 if neither."""
    who = current_staff() or current_citizen()
    if who is None:
        raise Unauthorized()
    return who


def uploader_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """401 before anything else, then 415 unless the body is multipart; passes ``owner``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        owner = signed_in()
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType(
                "请以 multipart/form-data 方式上传图片（字段名 file）", code="multipart_required"
            )
        return view(*args, owner=owner, **kwargs)

    return wrapper


def present(media: Media) -> dict[str, Any]:
    """Every field a schema may pick; each audience's schema keeps only its own."""
    link = service.signed_url(media)
    owner_type = "citizen" if media.user_id else "staff" if media.staff_id else None
    poster = service.poster_of(media)
    return {
        "kind": media.kind,
        "duration_ms": media.duration_ms,
        "codec": media.codec,
        "poster_id": poster.public_id if poster else None,
        "poster_url": service.signed_url(poster).url if poster else None,
        "phash": media.phash,
        "id": media.public_id,
        "content_type": media.content_type,
        "width": media.width,
        "height": media.height,
        "size": media.size,
        "created_at": media.created_at,
        "url": link.url,
        "url_expires_at": link.expires_at,
        "format": media.format,
        "sha256": media.sha256,
        "captured_at": media.captured_at,
        "gps_lat": media.gps_lat,
        "gps_lng": media.gps_lng,
        "owner_type": owner_type,
    }


def read_upload(files: dict[str, Any]) -> bytes:
    """The uploaded bytes, read no further than one byte past the larger size limit.

    Which limit applies depends on the content (photo or video): the service checks it."""
    cfg = current_app.config
    data = files["file"].read(max(cfg["MEDIA_MAX_BYTES"], cfg["MEDIA_VIDEO_MAX_BYTES"]) + 1)
    return service.require_content(data, "file")


@blp.route("")
class MediaCollection(MethodView):
    decorators = [limiter.limit(public_limit)]

    @uploader_required
    @blp.arguments(UploadIn, location="files")
    @blp.response(201, MediaOut)
    @document_errors(blp, 401, 413, 415, 422, 429, 503)
    def post(self, files, owner):
        """Upload a photo (JPEG, PNG or WebP) or a video (MP4 or MOV) in the field ``file``.

        A photo is re-encoded without EXIF (no GPS, no device data). A video (at most
        MEDIA_VIDEO_MAX_SECONDS, H.264/HEVC/MPEG-4) is stored as MP4 without metadata or audio,
        with a poster image (``poster_id``, ``poster_url``). The response carries short-lived
        URLs; GET the item again for new ones.
        """
        media = service.store_any_upload(read_upload(files), owner)
        commit()  # a failed commit rolls back, and the stored files go with it
        return present(media)


@blp.route("/<string:media_id>")
class MediaItem(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, MediaStaffOut)
    @document_errors(blp, 401, 404, 429)
    def get(self, media_id):
        """A photo's or video's details and fresh short-lived URLs (its uploader or any staff).

        Staff also see the capture time and GPS from the original; the uploader does not.
        Anyone else gets 404, whether or not the photo exists.
        """
        viewer = signed_in()
        media = service.media_for_viewer(media_id, viewer)
        schema = MediaStaffOut() if isinstance(viewer, StaffUser) else MediaOut()
        return jsonify(schema.dump(present(media)))
