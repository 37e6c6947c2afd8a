"""Media request and response schemas: the owner's view and the staff view are separate."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload


class UploadIn(ma.Schema):
    """A multipart upload with one photo or video in the field ``file``."""

    file = Upload(
        required=True,
        error_messages={"required": "请选择要上传的图片"},
        metadata={"description": "JPEG、PNG、WebP 图片，或 MP4、MOV 视频"},
    )


class MediaOut(ma.Schema):
    """A photo or video as its uploader sees it: no capture time, no GPS."""

    id = ma.fields.String(required=True, metadata={"description": "Public, unguessable id"})
    kind = ma.fields.String(required=True, metadata={"description": "image | video"})
    content_type = ma.fields.String(required=True, metadata={"example": "image/jpeg"})
    width = ma.fields.Integer(required=True)
    height = ma.fields.Integer(required=True)
    size = ma.fields.Integer(required=True, metadata={"description": "Bytes of the stored copy"})
    created_at = ma.fields.AwareDateTime(required=True)
    url = ma.fields.String(
        required=True,
        metadata={"description": "Short-lived link; GET this resource again for a new one"},
    )
    url_expires_at = ma.fields.AwareDateTime(required=True)
    duration_ms = ma.fields.Integer(allow_none=True, metadata={"description": "Videos only"})
    codec = ma.fields.String(
        allow_none=True, metadata={"description": "Videos only: h264 | hevc | mpeg4"}
    )
    poster_id = ma.fields.String(
        allow_none=True, metadata={"description": "Videos only: the poster image's id"}
    )
    poster_url = ma.fields.String(
        allow_none=True,
        metadata={"description": "Videos only: short-lived link to the poster (a JPEG)"},
    )


class MediaStaffOut(MediaOut):
    """As staff see it: adds the capture time and GPS from the original's EXIF or video tags."""

    format = ma.fields.String(metadata={"description": "The upload's format (jpeg, mov, ...)"})
    sha256 = ma.fields.String()
    phash = ma.fields.String(
        allow_none=True,
        metadata={"description": "Perceptual hash (dHash, 16 hex digits) of the picture/poster"},
    )
    captured_at = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "EXIF DateTimeOriginal or the video's creation time, UTC"},
    )
    gps_lat = ma.fields.Float(allow_none=True, metadata={"description": "WGS-84 latitude"})
    gps_lng = ma.fields.Float(allow_none=True, metadata={"description": "WGS-84 longitude"})
    owner_type = ma.fields.String(
        allow_none=True, metadata={"description": "citizen | staff (who uploaded it)"}
    )
