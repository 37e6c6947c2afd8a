"""Upload validation by content, and a clean copy without identifying metadata.

Only JPEG, PNG and WebP are accepted, recognised by their magic bytes (never the file name or the
declared type). What decoding will cost is bounded from the header alone, before a pixel is
decoded: the declared size against ``max_pixels``, then the pixels actually decoded against
``decode_pixels`` (PNG and WebP decode whole; a JPEG is decoded at the 1/2, 1/4 or 1/8 scale
libjpeg offers, chosen for the stored size).

A JPEG that needs no scaling (at most ``max_side``, grey or YCbCr, a plain baseline or progressive
file; a phone's photo) keeps its compressed pixels: ``app.media.jpeg`` rewrites its segments
without EXIF, GPS, maker notes, XMP, IPTC, comments or trailers, keeping the orientation in an
EXIF segment of its own, and the result is decoded at a reduced scale (every coefficient is read,
so truncated files fail) for the perceptual hash: decoding and re-encoding it cost several times
as much, and lost quality. Every other image is fully decoded (truncated files fail), scaled to
at most ``max_side`` and re-encoded from raw pixels with the EXIF orientation applied: that copy
carries no metadata at all. After a large decode the freed memory is handed back to the
operating system (glibc would keep it in the worker).

Capture time and GPS are returned separately so the caller can keep them privately on the row,
with a perceptual hash of the pixels (``app.media.phash``) that finds the same picture sent again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import logging
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import Image, ImageFile, ImageOps

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.media import jpeg
from app.media.phash import dhash

# (capture time in UTC, latitude, longitude) read from an upload's EXIF
Private = tuple[datetime | None, float | None, float | None]
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

# The stored copy's longest side: larger photos are scaled down (phones shoot 4000-4080 px).
MAX_SIDE = 4096
# The most pixels decoded at once (64 MiB as RGBA). PNG and WebP cannot be decoded at a reduced
# scale, so larger ones are refused from their header; a JPEG is decoded at the scale that fits.
DECODE_MAX_PIXELS = 4096 * 4096
# libjpeg's DCT scaling: a JPEG decodes at 1/1, 1/2, 1/4 or 1/8 of its size for about the cost of
# the smaller image.
JPEG_SCALES = (1, 2, 4, 8)
# A stripped JPEG is decoded at the smallest scale that keeps this many pixels on its shorter
# side: enough for the perceptual hash (9x8 from an area average), and every coefficient is read.
HASH_MIN_SIDE = 128
ORIENTATION = 0x0112
TURNED = {5, 6, 7, 8}  # orientations that swap width and height
# After decoding this many pixels, freed memory is returned to the OS (see release_memory).
TRIM_AFTER_PIXELS = 2_000_000


def _malloc_trim():
    """glibc's malloc_trim, or None elsewhere (musl, macOS): nothing to trim there."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _malloc_trim()


def release_memory() -> None:
    """Hand the pages freed by a large decode back to the OS.

    Pillow allocates pixels in 16 MiB blocks. glibc serves the first from mmap, then raises its
    mmap threshold and serves later ones from the heap of the thread's arena, where freed memory
    stays: without this, a gthread worker keeps its largest decodes for the rest of its life."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


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


def process_upload(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    max_side: int = MAX_SIDE,
    decode_pixels: int = DECODE_MAX_PIXELS,
) -> CleanImage:
    """Validate an upload and return its clean copy; raises 413, 415 or 422 errors.

    ``max_pixels`` bounds the size an image may declare, ``decode_pixels`` the pixels decoded
    (never more than ``max_pixels``), ``max_side`` the stored copy's longest side."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"图片不能超过 {max_bytes / 1024 / 1024:g} MB", code="image_too_large"
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(
            "仅支持 JPEG、PNG、WebP 格式的图片", code="unsupported_image_type"
        )
    budget = min(decode_pixels, max_pixels)
    if fmt == "jpeg":
        stripped = _stripped_jpeg(data, max_pixels, max_side, budget)
        if stripped is not None:
            return stripped
    img, decoded = _open_checked(data, fmt, max_pixels, budget, max_side)
    try:
        clean = _clean_copy(img, fmt)
    finally:
        img.close()
    del img
    if decoded >= TRIM_AFTER_PIXELS:
        release_memory()  # every copy of the pixels is gone by now
    return clean


def _stripped_jpeg(data: bytes, max_pixels: int, max_side: int, budget: int) -> CleanImage | None:
    """The JPEG with its metadata segments removed and its image data untouched
    (``app.media.jpeg``), or None when it must be decoded and re-encoded instead: larger than
    ``max_side``, not grey or YCbCr (CMYK), of a structure the stripper does not rewrite, or
    (with a small ``budget``) more pixels to decode than it allows.

    The size is checked from the header before anything is decoded; the stripped copy is then
    decoded at a reduced scale (libjpeg reads every coefficient, so a truncated or corrupt scan
    fails) for the perceptual hash."""
    img = _open_header(data, "jpeg", max_pixels)
    with img:
        size = img.size
        scale = max(s for s in JPEG_SCALES if s == 1 or min(size) // s >= HASH_MIN_SIDE)
        decoded = -(-size[0] // scale) * -(-size[1] // scale)
        if max(size) > max_side or img.mode not in {"RGB", "L"} or decoded > budget:
            return None
        private = read_private_metadata(img)
        orientation = _orientation(img)
    try:
        stored, frame = jpeg.strip(data, orientation)
    except jpeg.NotStrippable:
        return None
    if (frame.width, frame.height) != size:
        return None  # Pillow read another frame than the stripper: let the decoder decide
    upright = _reduced_upright(stored, size, scale)
    shown = (size[1], size[0]) if orientation in TURNED else size
    return _clean_image(stored, "jpeg", shown, private, upright)


def _orientation(img: Image.Image) -> int:
    """The EXIF (or XMP) orientation, 1-8, as ``ImageOps.exif_transpose`` reads it; 1 if it is
    missing or unreadable (the pixels are then kept as they are, as the re-encoding path does)."""
    try:
        value = img.getexif().get(ORIENTATION)
    except (*DECODE_ERRORS, KeyError, TypeError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _reduced_upright(stored: bytes, size: tuple[int, int], scale: int) -> Image.Image:
    """The stored JPEG decoded at 1/``scale`` (libjpeg's largest reduction that leaves
    ``HASH_MIN_SIDE`` pixels on its shorter side), turned upright; 422 image_corrupt if it does
    not decode."""
    try:
        with Image.open(io.BytesIO(stored), formats=PIL_FORMATS["jpeg"]) as img:
            if img.size != size:
                raise _corrupt()
            if scale > 1:
                img.draft(None, (size[0] // scale, size[1] // scale))
            img.load()
            return ImageOps.exif_transpose(img)
    except DECODE_ERRORS:
        raise _corrupt() from None


def _clean_copy(img: Image.Image, fmt: str) -> CleanImage:
    """The re-encoded copy of a decoded image, its private metadata and its perceptual hash."""
    private = read_private_metadata(img)
    stored, upright = _reencode(img, fmt)
    return _clean_image(stored, fmt, upright.size, private, upright)


def _clean_image(
    stored: bytes, fmt: str, size: tuple[int, int], private: Private, upright: Image.Image
) -> CleanImage:
    """The stored bytes as a CleanImage: ``size`` as shown (upright), ``private`` the capture
    time and GPS read from the upload, the perceptual hash of ``upright``."""
    captured_at, lat, lng = private
    content_type, extension = FORMATS[fmt]
    return CleanImage(
        data=stored,
        format=fmt,
        content_type=content_type,
        extension=extension,
        width=size[0],
        height=size[1],
        size=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        captured_at=captured_at,
        gps_lat=lat,
        gps_lng=lng,
        phash=dhash(upright),
    )


def _too_many_pixels(limit: int, size: tuple[int, int] | None = None) -> ValidationFailed:
    stated = f"（{size[0]}×{size[1]} 像素）" if size else ""
    return ValidationFailed(
        f"图片尺寸过大{stated}，请缩小后重新上传",
        code="image_too_many_pixels",
        fields={"file": [f"图片不能超过 {limit // 10_000} 万像素"]},
    )


def _corrupt() -> ValidationFailed:
    return ValidationFailed(
        "图片已损坏或不完整，请重新拍摄或选择",
        code="image_corrupt",
        fields={"file": ["图片无法解码"]},
    )


def webp_size(data: bytes) -> tuple[int, int] | None:
    """A WebP's canvas size from its first chunk header, or None if it cannot be read.

    Pillow's WebP plugin allocates the whole canvas when it opens a file, so the size is checked
    from the bytes before Pillow sees them."""
    kind, head = data[12:16], data[20:30]
    if len(head) < 10:
        return None
    if kind == b"VP8X":  # extended: 24-bit canvas width - 1, height - 1
        return 1 + int.from_bytes(head[4:7], "little"), 1 + int.from_bytes(head[7:10], "little")
    if kind == b"VP8L" and head[0] == 0x2F:  # lossless: 14-bit width - 1, height - 1
        bits = int.from_bytes(head[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 " and head[3:6] == b"\x9d\x01\x2a":  # lossy key frame: 14-bit sizes
        width, height = struct.unpack("<HH", head[6:10])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _jpeg_scale(width: int, height: int, budget: int, max_side: int) -> int:
    """The smallest reduction that decodes within ``budget``, and at least the largest one that
    still leaves ``max_side`` pixels on the longest side (the rest is thrown away anyway)."""
    fits = max(s for s in JPEG_SCALES if s == 1 or max(width, height) // s >= max_side)
    for scale in JPEG_SCALES:
        if scale >= fits and -(-width // scale) * -(-height // scale) <= budget:
            return scale
    return 0  # even 1/8 is too large


def _open_header(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """The image with its header read and nothing decoded; 422 if it declares more than
    ``max_pixels`` (a decompression bomb) or its header cannot be read."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # a global someone might flip; truncated must fail here
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img = Image.open(io.BytesIO(data), formats=PIL_FORMATS[fmt])  # reads the header only
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    except DECODE_ERRORS:
        raise _corrupt() from None
    # Pillow's own guard (MAX_IMAGE_PIXELS) only warns below twice its limit.
    if img.width * img.height > max_pixels:
        size = img.size
        img.close()
        raise _too_many_pixels(max_pixels, size)
    return img


def _open_checked(
    data: bytes, fmt: str, max_pixels: int, budget: int, max_side: int
) -> tuple[Image.Image, int]:
    """Bound what decoding will cost from the header, decode every pixel, fit ``max_side``.

    Returns the image and how many pixels were decoded."""
    if fmt == "webp":
        size = webp_size(data)
        if size is None:
            raise _corrupt()
        if size[0] * size[1] > budget:
            raise _too_many_pixels(budget, size)
    img = _open_header(data, fmt, max_pixels)
    width, height = img.size
    scale = _jpeg_scale(width, height, budget, max_side) if fmt == "jpeg" else 1
    if scale == 0 or (fmt != "jpeg" and width * height > budget):
        raise _too_many_pixels(budget, img.size)
    if scale > 1:
        img.draft(None, (max(1, width // scale), max(1, height // scale)))
    decoded = img.width * img.height
    try:
        img.load()
        if max(img.size) > max_side:  # in place: the full-size pixels are freed here
            img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    except DECODE_ERRORS:
        img.close()
        if decoded >= TRIM_AFTER_PIXELS:
            release_memory()
        raise _corrupt() from None
    return img, decoded


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

    Returns the encoded bytes and the fresh upright image they were encoded from. ``img`` is
    transposed in place and at most one more copy of its pixels exists at any time."""
    icc, src_mode = img.info.get("icc_profile"), img.mode
    with contextlib.suppress(*DECODE_ERRORS):  # an unreadable orientation: keep the pixels
        ImageOps.exif_transpose(img, in_place=True)
    mode = _output_mode(img, fmt)
    pixels = img if img.mode == mode else img.convert(mode)
    if pixels is not img:
        img.close()
    # A fresh image carries nothing over: Pillow's savers fall back to im.info for some fields.
    fresh = Image.new(mode, pixels.size, None)  # uninitialised: paste fills every pixel
    fresh.paste(pixels)
    pixels.close()
    options: dict[str, object] = {"icc_profile": icc} if icc and _keeps_icc(src_mode, mode) else {}
    out = io.BytesIO()
    if fmt == "jpeg":
        fresh.save(out, "JPEG", quality=90, optimize=True, **options)
    elif fmt == "png":
        fresh.save(out, "PNG", **options)
    else:
        fresh.save(out, "WEBP", quality=90, method=4, **options)
    return out.getvalue(), fresh


def read_private_metadata(img: Image.Image) -> Private:
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
