"""Upload validation by content, and the clean stored copy (no EXIF, GPS or device data)."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from datetime import UTC, datetime

import pytest
from PIL import Image

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.media.images import process_upload

from .conftest import DEVICE_STRINGS

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def assert_clean(data: bytes) -> None:
    """No EXIF at all in the decoded copy, and no device string anywhere in its bytes."""
    img = decode(data)
    assert dict(img.getexif()) == {}
    assert "exif" not in img.info and "xmp" not in img.info and "comment" not in img.info
    for needle in DEVICE_STRINGS:
        assert needle not in data


def test_phone_jpeg_is_stored_upright_without_exif_and_keeps_private_metadata(phone_jpeg):
    original = decode(phone_jpeg)
    assert original.getexif()[0x0110] == "PhoneModel X1000"  # the fixture really carries it
    assert b"SecretCam" in phone_jpeg

    clean = process_upload(phone_jpeg, **LIMITS)

    assert_clean(clean.data)
    assert (clean.format, clean.content_type) == ("jpeg", "image/jpeg")
    assert decode(clean.data).format == "JPEG"
    assert (clean.width, clean.height) == (20, 40)  # Orientation 6 applied
    assert decode(clean.data).size == (20, 40)
    assert clean.captured_at == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
    assert clean.gps_lat == pytest.approx(41.801, abs=1e-6)
    assert clean.gps_lng == pytest.approx(123.43, abs=1e-6)
    assert clean.size == len(clean.data)
    assert clean.sha256 == hashlib.sha256(clean.data).hexdigest()


def test_southern_and_western_refs_give_negative_coordinates(make_image):
    img = Image.new("RGB", (8, 8))
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 52.0, 4.0), 3: "W", 4: (151.0, 12.0, 36.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    clean = process_upload(buf.getvalue(), **LIMITS)
    assert clean.gps_lat == pytest.approx(-33.867778, abs=1e-6)
    assert clean.gps_lng == pytest.approx(-151.21, abs=1e-6)
    assert clean.captured_at is None


def test_png_keeps_alpha_and_loses_exif_and_text(phone_png):
    assert b"CamFirmware" in phone_png
    clean = process_upload(phone_png, **LIMITS)
    assert_clean(clean.data)
    img = decode(clean.data)
    assert (img.format, img.mode, img.size) == ("PNG", "RGBA", (20, 40))
    assert img.getpixel((0, 0)) == (30, 120, 200, 128)
    assert clean.content_type == "image/png"
    assert clean.gps_lat == pytest.approx(41.801, abs=1e-6)


def test_webp_is_accepted_and_cleaned(make_image):
    data = make_image("WEBP", exif=True, quality=90)
    assert b"SecretCam" in data
    clean = process_upload(data, **LIMITS)
    assert_clean(clean.data)
    assert decode(clean.data).format == "WEBP"
    assert (clean.content_type, clean.width, clean.height) == ("image/webp", 20, 40)
    assert clean.captured_at == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


def test_photo_without_exif_has_no_private_metadata(make_image):
    clean = process_upload(make_image("JPEG", size=(30, 10)), **LIMITS)
    assert (clean.width, clean.height) == (30, 10)
    assert (clean.captured_at, clean.gps_lat, clean.gps_lng) == (None, None, None)


def test_gif_is_refused_415(make_image):
    with pytest.raises(UnsupportedMediaType) as err:
        process_upload(make_image("GIF", mode="P"), **LIMITS)
    assert err.value.code == "unsupported_image_type"
    assert "JPEG" in err.value.message


@pytest.mark.parametrize(
    "data",
    [b"just some text, not a photo\n", b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
)
def test_non_images_are_refused_415(data):
    with pytest.raises(UnsupportedMediaType):
        process_upload(data, **LIMITS)


def test_truncated_jpeg_is_refused_422(make_image):
    noisy = Image.effect_noise((256, 256), 64).convert("RGB")
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=95)
    whole = buf.getvalue()
    process_upload(whole, **LIMITS)  # the untruncated file is fine
    with pytest.raises(ValidationFailed) as err:
        process_upload(whole[: len(whole) // 2], **LIMITS)
    assert err.value.code == "image_corrupt"
    assert err.value.status == 422


def test_corrupt_png_header_is_refused_422():
    with pytest.raises(ValidationFailed):
        process_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, **LIMITS)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims enormous dimensions (a decompression bomb's opening)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [100_000, 7_000])  # far over the limit; just over it
def test_decompression_bomb_is_refused_before_decoding(side):
    bomb = _png_header_only(side, side)
    assert len(bomb) < 200
    with pytest.raises(PayloadTooLarge) as err:
        process_upload(bomb, **LIMITS)
    assert err.value.code == "image_too_many_pixels"


def test_pixel_limit_is_the_configured_one(make_image):
    data = make_image("PNG", size=(100, 100))
    process_upload(data, max_bytes=LIMITS["max_bytes"], max_pixels=10_000)
    with pytest.raises(PayloadTooLarge):
        process_upload(data, max_bytes=LIMITS["max_bytes"], max_pixels=9_999)


def test_too_many_bytes_is_refused_413(make_image):
    data = make_image("JPEG")
    process_upload(data, max_bytes=len(data), max_pixels=LIMITS["max_pixels"])
    with pytest.raises(PayloadTooLarge) as err:
        process_upload(data, max_bytes=len(data) - 1, max_pixels=LIMITS["max_pixels"])
    assert err.value.code == "image_too_large"
