"""Media request and response schemas: the owner's view and the staff view are separate."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload


class UploadIn(ma.Schema):
    """A multipart upload with one photo in the field ``file``."""

    file = Upload(
        required=True,
        error_messages={"required": "请选择要上传的图片"},
        metadata={"description": "JPEG, PNG 或 WebP 图片"},
    )


class MediaOut(ma.Schema):
    """A photo as its uploader sees it: no capture time, no GPS."""

    id = ma.fields.String(required=True, metadata={"description": "Public, unguessable id"})
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


class MediaStaffOut(MediaOut):
    """A photo as staff see it: adds the capture time and GPS from the original EXIF."""

    format = ma.fields.String()
    sha256 = ma.fields.String()
    captured_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "EXIF DateTimeOriginal, UTC"}
    )
    gps_lat = ma.fields.Float(allow_none=True, metadata={"description": "WGS-84 latitude"})
    gps_lng = ma.fields.Float(allow_none=True, metadata={"description": "WGS-84 longitude"})
    owner_type = ma.fields.String(
        allow_none=True, metadata={"description": "citizen | staff (who uploaded it)"}
    )
