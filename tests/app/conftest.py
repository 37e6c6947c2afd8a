"""Fixtures for storage and media tests: a real S3-compatible server, and real images."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Iterator

import pytest
from moto.server import ThreadedMotoServer
from PIL import Image, ImageFile
from PIL.PngImagePlugin import PngInfo

from app.storage.s3 import S3Storage
from config import get_config

# What a phone writes into a photo and what the stored copy must not carry.
DEVICE_STRINGS = (b"SecretCam", b"PhoneModel X1000", b"SN-0042-7731", b"CamFirmware 9.9")
EXIF_TIME = "2024:05:01 14:30:00"  # camera local time (UTC+8) -> 2024-05-01T06:30:00Z
GPS_LAT = (41.0, 48.0, 3.6)  # 41.801 N (Shenyang)
GPS_LNG = (123.0, 25.0, 48.0)  # 123.43 E


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto in server mode: a real S3-compatible HTTP endpoint on 127.0.0.1."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_settings(s3_server) -> dict[str, str]:
    """S3_* settings pointing at the moto server, with the bucket created (the others, such as
    timeouts, as config.py sets them)."""
    defaults = vars(get_config("testing"))
    settings = {k: v for k, v in defaults.items() if k.startswith(("S3_", "STORAGE_RETRY_"))} | {
        "S3_ENDPOINT_URL": s3_server,
        "S3_BUCKET": "zhcg-media-test",
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "AKIAZHCGTEST000000",
        "S3_SECRET_ACCESS_KEY": "moto-secret-key-for-tests",
        "S3_ADDRESSING_STYLE": "path",
    }
    S3Storage.from_config(settings).client.create_bucket(Bucket=settings["S3_BUCKET"])
    return settings


def _exif(orientation: int | None = 6) -> Image.Exif:
    """EXIF as a phone writes it: device data, capture time, GPS, orientation."""
    exif = Image.Exif()
    exif[0x010F] = DEVICE_STRINGS[0].decode()  # Make
    exif[0x0110] = DEVICE_STRINGS[1].decode()  # Model
    exif[0x0131] = DEVICE_STRINGS[3].decode()  # Software
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[36867] = EXIF_TIME  # DateTimeOriginal
    sub[0xA431] = DEVICE_STRINGS[2].decode()  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: GPS_LAT, 3: "E", 4: GPS_LNG})
    return exif


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    """Factory: image bytes of a format, size and mode; ``exif`` adds a phone's EXIF."""

    def make(fmt="JPEG", size=(40, 20), mode="RGB", exif=False, **save) -> bytes:
        color = {"RGB": (200, 30, 30), "RGBA": (30, 120, 200, 128)}.get(mode, 0)
        img = Image.new(mode, size, color)
        buf = io.BytesIO()
        if exif:
            save["exif"] = _exif().tobytes()
        img.save(buf, fmt, **save)
        return buf.getvalue()

    return make


@pytest.fixture
def phone_jpeg(make_image) -> bytes:
    """A 40x20 JPEG with Orientation=6 (display rotated: 20x40), EXIF, XMP and a comment."""
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Make>SecretCam</tiff:Make></x:xmpmeta>'
    return make_image("JPEG", exif=True, xmp=xmp, comment=b"SecretCam", quality=90)


@pytest.fixture
def phone_png(make_image) -> bytes:
    """An RGBA PNG with EXIF and a text chunk naming the device."""
    info = PngInfo()
    info.add_text("Software", DEVICE_STRINGS[3].decode())
    return make_image("PNG", mode="RGBA", exif=True, pnginfo=info)


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any pixel is decoded (Pillow decodes in ImageFile.load)."""

    def refuse(self):
        raise AssertionError(f"{self.format} {self.size} was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
