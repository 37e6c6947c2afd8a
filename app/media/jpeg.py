"""A JPEG's metadata removed without touching its image data.

A JPEG is a sequence of marker segments; the compressed pixels are the entropy-coded data after
each SOS (start of scan) header. ``strip`` walks every segment from SOI to EOI and writes back
only what decoding needs:

- kept as they are: the frame header (SOF0, SOF1 or SOF2: baseline, extended or progressive
  Huffman), quantisation and Huffman tables (DQT, DHT), restart interval (DRI), the scan headers
  (SOS) and their entropy-coded data, byte for byte;
- kept, rebuilt from the fields decoding reads: JFIF (APP0: version, density; its thumbnail
  dropped) and Adobe (APP14: the colour transform); the ICC colour profile (APP2
  ``ICC_PROFILE``), as the re-encoding path keeps it (colours, no personal data);
- dropped: every other application segment (APP1 EXIF with GPS, camera serials and maker notes,
  APP1 XMP, APP2 MPF, APP13 IPTC/Photoshop, the vendors' APP3-APP15), comments (COM), wherever
  they stand (between the scans of a progressive JPEG too), and every byte after EOI (appended
  second images, vendors' trailers);
- written: an EXIF segment holding the Orientation tag alone, when the photo must be turned to be
  upright (browsers and Pillow's ``exif_transpose`` read it).

Every kept segment is checked against its structure (a table's length is what its entries say),
so nothing rides along inside one. Anything else (arithmetic coding, lossless or hierarchical
frames, 12-bit samples, 2 or 4 components, several frames, unknown markers, a file without EOI)
raises ``NotStrippable``: the caller then takes the path that decodes and re-encodes the pixels,
with its own errors.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
SOF_HUFFMAN = {0xC0, 0xC1, 0xC2}  # baseline, extended sequential, progressive
DHT, DQT, DRI = 0xC4, 0xDB, 0xDD
APP0, APP1, APP2, APP14, COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xFE
APP_RANGE = range(0xE0, 0xF0)
ORIENTATION_TAG = 0x0112

# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker
# (0xD0-0xD7); anything else is the next segment's marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class NotStrippable(ValueError):
    """Not a JPEG this module rewrites; decode and re-encode it instead."""


@dataclass(frozen=True)
class Frame:
    """What the frame header (SOF) says: size in pixels and number of colour components."""

    width: int
    height: int
    components: int


def strip(data: bytes, orientation: int = 1) -> tuple[bytes, Frame]:
    """The JPEG without its metadata, and its frame; NotStrippable if it cannot be done safely.

    ``orientation`` (EXIF 1-8) is written back in an EXIF segment of its own unless it is 1."""
    jfif = b""
    head: list[bytes] = []  # ICC and Adobe segments, in their order
    body: list[memoryview] = []  # tables, frame, scans: byte for byte
    view = memoryview(data)
    sof: Frame | None = None
    scans = 0
    for marker, first, payload, last in _segments(data):
        if marker == EOI:
            if not scans:
                raise NotStrippable("no scan")
            break
        if marker in SOF_HUFFMAN:
            if sof is not None or scans:
                raise NotStrippable("more than one frame")
            sof = _frame(payload)
        elif marker == DQT:
            _check_dqt(payload)
        elif marker == DHT:
            _check_dht(payload)
        elif marker == DRI:
            if len(payload) != 2:
                raise NotStrippable("DRI length")
        elif marker == SOS:
            if sof is None:
                raise NotStrippable("scan before frame")
            _check_sos(payload, sof)
            scans += 1
        elif marker == APP0 and not scans and not jfif and payload[:5] == b"JFIF\x00":
            jfif = _segment(APP0, _jfif(payload))
            continue
        elif marker == APP2 and not scans and payload[:12] == b"ICC_PROFILE\x00":
            head.append(_segment(APP2, payload))
            continue
        elif marker == APP14 and not scans and payload[:5] == b"Adobe" and len(payload) >= 12:
            head.append(_segment(APP14, payload[:12]))
            continue
        elif marker in APP_RANGE or marker == COM:
            continue  # metadata: dropped
        else:
            raise NotStrippable(f"marker 0x{marker:02X}")
        body.append(view[first:last])
    assert sof is not None  # a scan needs a frame (checked above)
    exif = _segment(APP1, orientation_exif(orientation)) if orientation != 1 else b""
    return b"".join([b"\xff\xd8", jfif, exif, *head, *body, b"\xff\xd9"]), sof


def _segments(data: bytes) -> Iterator[tuple[int, int, bytes, int]]:
    """(marker, where its segment starts, payload, where it ends) for each segment after SOI, up
    to EOI; an SOS segment ends where the entropy-coded data after it ends. NotStrippable if the
    file ends before EOI."""
    if not data.startswith(b"\xff\xd8"):
        raise NotStrippable("no SOI")
    pos, size = 2, len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise NotStrippable("expected a marker")
        while pos < size and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= size:
            raise NotStrippable("truncated marker")
        marker, first = data[pos], pos - 1
        pos += 1
        if marker == EOI:
            yield marker, first, b"", pos
            return
        if marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD8:  # stuffing, TEM, RSTn, SOI
            raise NotStrippable(f"stray marker 0x{marker:02X}")
        if pos + 2 > size:
            raise NotStrippable("truncated length")
        (length,) = struct.unpack_from(">H", data, pos)
        end = pos + length
        if length < 2 or end > size:
            raise NotStrippable("segment runs past the end")
        payload = data[pos + 2 : end]
        if marker == SOS:
            found = _NEXT_MARKER.search(data, end)
            if found is None:
                raise NotStrippable("scan without an end")
            end = found.start()
        yield marker, first, payload, end
        pos = end


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > 0xFFFF - 2:
        raise NotStrippable("segment too long")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _frame(payload: bytes) -> Frame:
    """SOF: precision, height, width, then 3 bytes per component."""
    if len(payload) < 6:
        raise NotStrippable("SOF length")
    precision, height, width, components = struct.unpack_from(">BHHB", payload)
    if precision != 8 or not width or not height or components not in (1, 3):
        raise NotStrippable("unusual frame")
    if len(payload) != 6 + 3 * components:
        raise NotStrippable("SOF length")
    return Frame(width, height, components)


def _check_sos(payload: bytes, sof: Frame) -> None:
    """SOS: the number of components, 2 bytes each, then 3 bytes of spectral selection."""
    if not payload or not 1 <= payload[0] <= sof.components or len(payload) != 4 + 2 * payload[0]:
        raise NotStrippable("SOS length")


def _check_dqt(payload: bytes) -> None:
    """DQT: tables of 64 one- or two-byte entries, each after a precision/id byte."""
    pos = 0
    while pos < len(payload):
        pos += 1 + (128 if payload[pos] >> 4 else 64)
    if pos != len(payload) or not payload:
        raise NotStrippable("DQT length")


def _check_dht(payload: bytes) -> None:
    """DHT: tables of a class/id byte, 16 code counts and as many symbols as they add up to."""
    pos = 0
    while pos + 17 <= len(payload):
        pos += 17 + sum(payload[pos + 1 : pos + 17])
    if pos != len(payload) or not payload:
        raise NotStrippable("DHT length")


def _jfif(payload: bytes) -> bytes:
    """JFIF without its thumbnail: identifier, version, density unit and densities."""
    if len(payload) < 14:
        raise NotStrippable("JFIF length")
    return payload[:12] + b"\x00\x00"


def orientation_exif(orientation: int) -> bytes:
    """An EXIF payload holding one tag, Orientation: big-endian TIFF, one IFD, one entry."""
    if not 1 <= orientation <= 8:
        raise ValueError(f"EXIF orientation is 1-8, got {orientation}")
    ifd = struct.pack(">HHHIHH", 1, ORIENTATION_TAG, 3, 1, orientation, 0) + b"\x00" * 4
    return b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
