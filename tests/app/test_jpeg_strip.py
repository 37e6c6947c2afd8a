"""A JPEG's metadata removed without re-encoding it (app.media.jpeg via process_upload): no GPS,
serial, XMP, IPTC, comment or trailer left, orientation kept, the compressed pixels untouched."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image, ImageOps

from app.errors import ValidationFailed
from app.media.images import process_upload

from .conftest import DEVICE_STRINGS, _exif

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}
SERIAL = DEVICE_STRINGS[2]  # BodySerialNumber in the fixtures' EXIF
ICC = b"\x00\x00\x01\x00fake-but-kept-ICC-profile" * 4


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def photo(size=(64, 48), **save) -> bytes:
    """A noisy JPEG, so that its scan data is more than a few bytes."""
    img = Image.effect_noise(size, 50).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def scans(data: bytes) -> bytes:
    """Everything from the first SOS to EOI: the compressed pixels and the scan headers."""
    start = data.index(b"\xff\xda")
    return data[start : data.index(b"\xff\xd9", len(data) - 2) + 2]


def pixels(data: bytes) -> bytes:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img.tobytes()


def test_phone_photo_loses_gps_serial_and_xmp_keeps_orientation_and_image_data(make_image):
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Make>SecretCam</tiff:Make></x:xmpmeta>'
    # The phone's EXIF: GPS, BodySerialNumber, Make, Model, Software, Orientation 6.
    original = photo(exif=_exif().tobytes(), xmp=xmp, comment=b"SecretCam", icc_profile=ICC)
    assert SERIAL in original and b"xmpmeta" in original

    clean = process_upload(original, **LIMITS)

    stored = Image.open(io.BytesIO(clean.data))
    exif = stored.getexif()
    assert dict(exif) == {0x0112: 6}  # orientation only: no GPS IFD, serial, Make or Model
    assert not exif.get_ifd(0x8825) and not exif.get_ifd(0x8769)
    assert "xmp" not in stored.info and "comment" not in stored.info
    for needle in (*DEVICE_STRINGS, b"xmpmeta", b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x0b"):
        assert needle not in clean.data
    assert stored.info["icc_profile"] == ICC  # colours, no personal data
    assert ImageOps.exif_transpose(stored).size == (48, 64)  # shown upright
    assert (clean.width, clean.height) == (48, 64)
    assert scans(clean.data) == scans(original)  # not re-encoded: the same compressed pixels
    assert pixels(clean.data) == pixels(original)
    assert clean.gps_lat == pytest.approx(41.801, abs=1e-6)  # kept privately on the row


@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
def test_metadata_anywhere_is_dropped_multiple_app1_between_scans_and_after_eoi():
    """Two EXIF segments (the second with GPS), XMP, IPTC, MPF, a vendor APP, comments between
    the scans of a progressive JPEG and a trailer after EOI: none of it is stored."""
    exif = Image.Exif()
    exif[0x0110] = "PhoneModel X1000"
    gps_exif = Image.Exif()
    gps_exif.get_ifd(0x8825).update({1: "N", 2: (41.0, 48.0, 3.6), 3: "E", 4: (123.0, 25.0, 48.0)})
    base = photo(progressive=True)
    first_scan_end = base.index(b"\xff\xda", base.index(b"\xff\xda") + 2)  # the second scan
    metadata = [
        segment(0xE1, b"Exif\x00\x00" + exif.tobytes()),
        segment(0xE1, b"Exif\x00\x00" + gps_exif.tobytes()),
        segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>SecretCam</x:xmpmeta>"),
        segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04SN-0042-7731"),
        segment(0xE2, b"MPF\x00CamFirmware 9.9"),
        segment(0xE9, b"SecretCam vendor block"),
    ]
    between = segment(0xFE, b"SecretCam") + segment(0xE1, b"Exif\x00\x00SN-0042-7731")
    crafted = (
        base[:2]
        + b"".join(metadata)
        + base[2:first_scan_end]
        + between
        + base[first_scan_end:]
        + b"SEFH trailer SN-0042-7731 GPS 41.801,123.43"
    )
    assert Image.open(io.BytesIO(crafted)).getexif()  # Pillow reads the metadata in

    clean = process_upload(crafted, **LIMITS)

    assert not any(needle in clean.data for needle in (*DEVICE_STRINGS, b"GPS", b"8BIM"))
    assert dict(Image.open(io.BytesIO(clean.data)).getexif()) == {}
    assert clean.data.endswith(b"\xff\xd9")
    assert pixels(clean.data) == pixels(base)
    assert (clean.gps_lat, clean.gps_lng) == (None, None)  # Pillow takes the first EXIF segment


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [60_000, 8_000])  # past Pillow's own limit; past ours (40 MP)
def test_jpeg_bomb_is_refused_from_its_frame_header_before_decoding(side, no_decoding):
    data = photo((16, 16))
    sof = data.index(b"\xff\xc0")
    bomb = data[: sof + 5] + struct.pack(">HH", side, side) + data[sof + 9 :]
    assert len(bomb) < 2_000
    with pytest.raises(ValidationFailed) as err:
        process_upload(bomb, **LIMITS)
    assert (err.value.status, err.value.code) == (422, "image_too_many_pixels")
    assert err.value.fields == {"file": ["图片不能超过 4000 万像素"]}


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[: len(d) // 2],  # cut in the middle of the scan
        lambda d: d[: d.index(b"\xff\xda") + 4],  # cut in the scan header
        lambda d: d[:2] + b"\xff\xe1\xff\xff" + d[2:],  # a segment longer than the file
        lambda d: d[:3] + bytes(range(256)) * 8,  # garbage after the magic bytes
    ],
    ids=["scan", "scan header", "segment length", "garbage"],
)
def test_truncated_or_garbage_jpeg_is_refused_422(damage):
    data = photo((256, 256))
    process_upload(data, **LIMITS)  # the whole file is fine
    with pytest.raises(ValidationFailed) as err:
        process_upload(damage(data), **LIMITS)
    assert (err.value.status, err.value.code) == (422, "image_corrupt")


def test_cmyk_jpeg_is_still_re_encoded_without_metadata(make_image):
    data = make_image("JPEG", mode="CMYK", exif=True)
    assert SERIAL in data
    clean = process_upload(data, **LIMITS)
    assert SERIAL not in clean.data
    assert Image.open(io.BytesIO(clean.data)).mode == "RGB"
