"""Upload validation by content, and a clean re-encoded copy without identifying metadata.

Only JPEG, PNG and WebP are accepted, recognised by their magic bytes (never the file name or the
declared type). Every image is fully decoded (truncated files fail), bounded in pixels (Pillow's
decompression-bomb guard), then re-encoded from raw pixels with the EXIF orientation applied: the
stored copy carries no EXIF, GPS, maker notes, XMP or comments. Capture time and GPS are returned
separately so the caller can keep them privately on the row, with a perceptual hash of the pixels
(``app.media.phash``) that finds the same picture sent again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image, ImageFile, ImageOps

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.media.phash import dhash

log = logging.getLogger(__name__)

# Format name -> (content type, file extension).
FORMATS = {
    "jpeg": ("image/jpeg", "jpg"),
    "png": ("image/png", "png"),
    "webp": ("image/webp", "webp"),
}
PIL_FORMATS = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"]}

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 36867, 36881
# Cameras record local time without a zone; ours are in China (UTC+8 all year, no DST).
DEFAULT_CAMERA_TZ = timezone(timedelta(hours=8))

DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)


@dataclass(frozen=True)
class CleanImage:
    """The stored copy and what we learned from the upload."""

    data: bytes
    format: str  # jpeg | png | webp
    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str
    captured_at: datetime | None
    gps_lat: float | None
    gps_lng: float | None
    phash: str  # dHash of the upright pixels (app.media.phash)


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's magic bytes, or None if it is not one we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def process_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> CleanImage:
    """Validate an upload and return its clean copy; raises 413, 415 or 422 errors."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"图片不能超过 {max_bytes / 1024 / 1024:g} MB", code="image_too_large"
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(
            "仅支持 JPEG、PNG、WebP 格式的图片", code="unsupported_image_type"
        )
    img = _open_checked(data, fmt, max_pixels)
    captured_at, lat, lng = read_private_metadata(img)
    stored, upright = _reencode(img, fmt)
    width, height = upright.size
    content_type, extension = FORMATS[fmt]
    return CleanImage(
        data=stored,
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        captured_at=captured_at,
        gps_lat=lat,
        gps_lng=lng,
        phash=dhash(upright),
    )


def _too_many_pixels(max_pixels: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"图片尺寸过大（不能超过 {max_pixels / 1_000_000:g} 百万像素）",
        code="image_too_many_pixels",
    )


def _corrupt() -> ValidationFailed:
    return ValidationFailed(
        "图片已损坏或不完整，请重新拍摄或选择",
        code="image_corrupt",
        fields={"file": ["图片无法解码"]},
    )


def _open_checked(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open, bound the pixel count before decoding, then decode every pixel."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global someone might flip; truncated must fail here
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img = Image.open(io.BytesIO(data), formats=PIL_FORMATS[fmt])
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except DECODE_ERRORS:
        raise _corrupt() from None
    # Pillow's guard (MAX_IMAGE_PIXELS, set from MEDIA_MAX_PIXELS) only warns below twice the
    # limit; refuse anything over it before a single pixel is decoded.
    if img.width * img.height > max_pixels:
        raise _too_many_pixels(max_pixels)
    try:
        img.load()
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except DECODE_ERRORS:
        raise _corrupt() from None
    return img


def _output_mode(img: Image.Image, fmt: str) -> str:
    """A pixel mode the output format can store, keeping alpha where the format allows it."""
    has_alpha = img.mode in {"RGBA", "LA", "PA"} or "transparency" in img.info
    if fmt == "jpeg":
        return img.mode if img.mode in {"RGB", "L"} else "RGB"
    if fmt == "webp":
        return "RGBA" if has_alpha else "RGB"
    if img.mode in {"RGB", "RGBA", "L", "LA", "I;16"}:
        return img.mode
    return "RGBA" if has_alpha else "RGB"


def _keeps_icc(src_mode: str, out_mode: str) -> bool:
    """An ICC profile stays valid only if the colour space does not change."""
    rgb = {"RGB", "RGBA", "P", "PA"}
    return src_mode == out_mode or (src_mode in rgb and out_mode in {"RGB", "RGBA"})


def _reencode(img: Image.Image, fmt: str) -> tuple[bytes, Image.Image]:
    """Orientation applied, pixels copied into a fresh image (no info, no EXIF), re-encoded.

    Returns the encoded bytes and the fresh upright image they were encoded from."""
    try:
        upright = ImageOps.exif_transpose(img) or img
    except DECODE_ERRORS:  # an unreadable orientation tag: keep the pixels as they are
        upright = img
    mode = _output_mode(upright, fmt)
    pixels = upright if upright.mode == mode else upright.convert(mode)
    # A fresh image carries nothing over: Pillow's savers fall back to im.info for some fields.
    fresh = Image.frombytes(mode, pixels.size, pixels.tobytes())
    icc = img.info.get("icc_profile")
    options: dict[str, object] = {"icc_profile": icc} if icc and _keeps_icc(img.mode, mode) else {}
    out = io.BytesIO()
    if fmt == "jpeg":
        fresh.save(out, "JPEG", quality=90, optimize=True, **options)
    elif fmt == "png":
        fresh.save(out, "PNG", **options)
    else:
        fresh.save(out, "WEBP", quality=90, method=4, **options)
    return out.getvalue(), fresh


def read_private_metadata(img: Image.Image) -> tuple[datetime | None, float | None, float | None]:
    """(capture time in UTC, latitude, longitude) from EXIF; anything malformed is ignored."""
    try:
        exif = img.getexif()
        captured_at = _capture_time(exif.get_ifd(EXIF_IFD))
        lat, lng = _gps(exif.get_ifd(GPS_IFD))
    except (*DECODE_ERRORS, KeyError, TypeError, ZeroDivisionError):
        log.info("unreadable EXIF ignored")
        return None, None, None
    return captured_at, lat, lng


def _capture_time(ifd: dict) -> datetime | None:
    """DateTimeOriginal ("YYYY:MM:DD HH:MM:SS", camera local time) as an aware UTC datetime."""
    raw = ifd.get(DATETIME_ORIGINAL)
    if not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz = _parse_offset(ifd.get(OFFSET_TIME_ORIGINAL)) or DEFAULT_CAMERA_TZ
    return local.replace(tzinfo=tz).astimezone(UTC)


def _parse_offset(raw: object) -> timezone | None:
    """An EXIF offset such as "+08:00", or None."""
    if not isinstance(raw, str) or len(raw.strip("\x00 ")) != 6:
        return None
    text = raw.strip("\x00 ")
    try:
        sign = -1 if text[0] == "-" else 1
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if text[0] not in "+-" or hours > 14 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _gps(ifd: dict) -> tuple[float | None, float | None]:
    """Decimal degrees (WGS-84, as cameras record it) from GPSLatitude/GPSLongitude and refs."""
    lat = _degrees(ifd.get(2), ifd.get(1), "S")
    lng = _degrees(ifd.get(4), ifd.get(3), "W")
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None, None
    return lat, lng


def _degrees(dms: object, ref: object, negative: str) -> float | None:
    """(degrees, minutes, seconds) rationals and a N/S/E/W ref to signed decimal degrees."""
    if not isinstance(dms, tuple) or len(dms) != 3:
        return None
    d, m, s = (float(x) for x in dms)
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative:
        value = -value
    return round(value, 7)
