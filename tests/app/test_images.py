"""Upload validation by content, and the clean stored copy (no EXIF, GPS or device data)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageFile, ImageOps
from sqlalchemy import func, select

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.extensions import db
from app.media.images import DECODE_MAX_PIXELS, process_upload, webp_size
from app.media.models import Media

from .conftest import DEVICE_STRINGS

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def assert_clean(data: bytes) -> None:
    """No EXIF in the decoded copy but its orientation, and no device string in its bytes."""
    img = decode(data)
    assert set(img.getexif()) <= {0x0112}  # no GPS or EXIF sub-IFD, no Make, Model, Software
    assert "xmp" not in img.info and "comment" not in img.info
    for needle in DEVICE_STRINGS:
        assert needle not in data


def test_phone_jpeg_is_shown_upright_without_exif_and_keeps_private_metadata(phone_jpeg):
    original = decode(phone_jpeg)
    assert original.getexif()[0x0110] == "PhoneModel X1000"  # the fixture really carries it
    assert b"SecretCam" in phone_jpeg

    clean = process_upload(phone_jpeg, **LIMITS)

    assert_clean(clean.data)
    assert (clean.format, clean.content_type) == ("jpeg", "image/jpeg")
    assert decode(clean.data).format == "JPEG"
    assert (clean.width, clean.height) == (20, 40)  # Orientation 6 applied
    assert ImageOps.exif_transpose(decode(clean.data)).size == (20, 40)
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


def _png(width: int, height: int, idat: bytes) -> bytes:
    """An 8-bit RGB PNG of the given size around already compressed scanlines."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims enormous dimensions (a decompression bomb's opening)."""
    return _png(width, height, zlib.compress(b"\x00" * 1024))


def png_bomb(side: int) -> bytes:
    """A whole, valid PNG of side x side grey-blue pixels, compressed to almost nothing (the
    probe's 6300 x 6300 is 128 KB and decodes to 119 MB). Built row by row: the test never
    holds the pixels."""
    packer = zlib.compressobj(9)
    row = b"\x00" + bytes((120, 130, 140)) * side
    return _png(side, side, b"".join(packer.compress(row) for _ in range(side)) + packer.flush())


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [100_000, 7_000])  # far over the limit; just over it
def test_decompression_bomb_is_refused_before_decoding(side, no_decoding):
    bomb = _png_header_only(side, side)
    assert len(bomb) < 200
    with pytest.raises(ValidationFailed) as err:
        process_upload(bomb, **LIMITS)
    assert (err.value.status, err.value.code) == (422, "image_too_many_pixels")


def test_bomb_under_the_declared_limit_is_refused_from_its_header(no_decoding):
    """The probe's 6300 x 6300 PNG (39.7 megapixels, under the 40 MP limit) was decoded whole:
    +550 MB and seconds of one worker. PNG cannot be decoded at a reduced scale, so it is refused
    for what decoding it would cost."""
    bomb = png_bomb(6300)
    assert len(bomb) < 200_000
    with pytest.raises(ValidationFailed) as err:
        process_upload(bomb, **LIMITS)
    assert err.value.code == "image_too_many_pixels"
    assert "6300×6300" in err.value.message
    assert err.value.fields == {"file": [f"图片不能超过 {DECODE_MAX_PIXELS // 10_000} 万像素"]}


def test_bomb_upload_is_refused_422_in_the_error_shape_and_stores_nothing(
    client, make_citizen, auth_header, no_decoding
):
    bomb = png_bomb(6300)
    resp = client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(bomb), "photo.png", "image/png")},
        headers=auth_header(make_citizen("o-bomb-sender")),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "image_too_many_pixels"
    assert error["message"] == "图片尺寸过大（6300×6300 像素），请缩小后重新上传"
    assert error["fields"] == {"file": ["图片不能超过 1677 万像素"]}
    assert db.session.scalar(select(func.count()).select_from(Media)) == 0


def test_pixel_limit_is_the_configured_one(make_image):
    data = make_image("PNG", size=(100, 100))
    process_upload(data, max_bytes=LIMITS["max_bytes"], max_pixels=10_000)
    with pytest.raises(ValidationFailed) as err:
        process_upload(data, max_bytes=LIMITS["max_bytes"], max_pixels=9_999)
    assert err.value.code == "image_too_many_pixels"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_over_the_decode_budget_are_refused(make_image, fmt):
    data = make_image(fmt, size=(100, 100))
    assert process_upload(data, **LIMITS, decode_pixels=10_000).width == 100
    with pytest.raises(ValidationFailed) as err:
        process_upload(data, **LIMITS, decode_pixels=9_999)
    assert err.value.code == "image_too_many_pixels"


def test_webp_is_measured_before_pillow_opens_it(make_image, monkeypatch):
    """Pillow's WebP plugin allocates the whole canvas when it opens a file."""
    data = make_image("WEBP", size=(300, 200))
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("Pillow opened the WebP"))
    with pytest.raises(ValidationFailed):
        process_upload(data, **LIMITS, decode_pixels=300 * 200 - 1)


@pytest.mark.parametrize(
    "options", [{"lossless": True}, {"quality": 80}, {"exif": True}], ids=["VP8L", "VP8", "VP8X"]
)
def test_webp_size_reads_every_kind_of_header(make_image, options):
    data = make_image("WEBP", size=(3001, 17), **options)
    assert webp_size(data) == (3001, 17)


def test_webp_without_a_readable_header_is_corrupt():
    with pytest.raises(ValidationFailed) as err:
        process_upload(b"RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00", **LIMITS)
    assert err.value.code == "image_corrupt"


def test_large_jpeg_is_decoded_at_a_reduced_scale(make_image, monkeypatch):
    """A 6300 x 6300 JPEG over the decode budget is decoded at 1/2 scale (libjpeg's DCT
    scaling): 3150 x 3150, never the 119 MB of the whole."""
    data = make_image("JPEG", size=(6300, 6300))
    decoded = []
    load = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    clean = process_upload(data, **LIMITS)
    assert decoded[0] == (3150, 3150)
    assert (clean.width, clean.height) == (3150, 3150)
    assert decode(clean.data).getpixel((1000, 1000)) == pytest.approx((200, 30, 30), abs=3)


def test_photos_larger_than_the_stored_size_are_scaled_down(make_image):
    for fmt in ("JPEG", "PNG"):
        clean = process_upload(make_image(fmt, size=(500, 300)), **LIMITS, max_side=100)
        assert (clean.width, clean.height) == (100, 60)
        assert decode(clean.data).size == (100, 60)


def test_phone_jpeg_orientation_survives_scaling(phone_jpeg):
    clean = process_upload(phone_jpeg, **LIMITS, max_side=20)
    assert (clean.width, clean.height) == (10, 20)  # scaled 40x20 -> 20x10, then turned upright
    assert clean.captured_at == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


# A worker thread decodes an accepted 3000 x 3000 PNG three times; RSS is read before and after.
_RSS_CHILD = """
import os, sys, threading
from app.media.images import process_upload

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

big, small = sys.stdin.buffer.read(), bytes.fromhex(os.environ["SMALL_PNG"])
limits = {"max_bytes": 1 << 24, "max_pixels": 40_000_000}
rss = {}

def worker():  # one long-lived thread, as in a gthread worker: it keeps its malloc arena
    process_upload(small, **limits)
    rss["before"] = rss_mb()
    for _ in range(3):
        process_upload(big, **limits)
    rss["after"] = rss_mb()

thread = threading.Thread(target=worker)
thread.start()
thread.join()
print(round(rss["before"]), round(rss["after"]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_worker_gives_back_the_memory_of_large_decodes(make_image):
    """Three decodes of a 3000 x 3000 PNG in one long-lived thread. Before: RSS went from 48 to
    104 MB and stayed there (glibc kept the freed pixel blocks in the thread's arena): a worker
    carried its largest decodes for the rest of its life. Now it comes back within a few MB."""
    env = {**os.environ, "SMALL_PNG": make_image("PNG", size=(64, 64)).hex()}
    root = Path(__file__).parents[2]  # the checkout under test
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD],
        input=png_bomb(3000),
        capture_output=True,
        cwd=root,
        env=env,
        timeout=120,
        check=True,
    )
    before, after = (int(x) for x in proc.stdout.split())
    assert after - before < 40, f"RSS {before} MB before, {after} MB after"


def test_too_many_bytes_is_refused_413(make_image):
    data = make_image("JPEG")
    process_upload(data, max_bytes=len(data), max_pixels=LIMITS["max_pixels"])
    with pytest.raises(PayloadTooLarge) as err:
        process_upload(data, max_bytes=len(data) - 1, max_pixels=LIMITS["max_pixels"])
    assert err.value.code == "image_too_large"
