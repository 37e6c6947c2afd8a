"""Evidence videos: MP4/MOV checked by content, remuxed into a fresh MP4 without metadata.

Only MP4 and QuickTime files are accepted, recognised by their ``ftyp`` box (never the file name or
the declared type), with one H.264, HEVC or MPEG-4 video stream no longer than the limit. Every
packet is demuxed (a truncated file fails) and the first half second is decoded for a poster frame.
The stored copy is the same video bitstream (no re-encode, no quality loss) in a new MP4 that
carries no container or stream metadata, no audio and no other streams. Capture time and location
are read first and returned separately, so the caller keeps them privately on the row, as it does
with a photo's EXIF.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import av
from PIL import Image

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.media.images import DEFAULT_CAMERA_TZ
from app.media.phash import dhash

log = logging.getLogger(__name__)

MOV_BRAND = b"qt  "
# Major brands phones and editors write for MP4 (ISO base media) files. 3GP, HEIF images and
# fragmented DASH segments share the box format but are not what a citizen's camera records.
MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V "}
    | {b"M4VP", b"MSNV", b"mmp4"}
)
ALLOWED_CODECS = frozenset({"h264", "hevc", "mpeg4"})
DURATION_TOLERANCE_SECONDS = 0.5  # containers round, and edit lists add a few frames
POSTER_AT_SECONDS = 0.5  # the very first frame is often dark or blurred while the camera settles
MAX_FRAME_RATE = 240  # slow-motion phones; bounds the packets a short video may have
DECODE_THREADS = 2  # a request shares the machine with others: do not take every core
TIME_BUDGET_SECONDS = 20.0  # wall clock for demuxing a file; a legitimate 10 s clip needs ~1 s
POSTER_JPEG_QUALITY = 90
# movflags=faststart puts the index first, so players start before the whole file has arrived;
# bitexact leaves out the muxer's "Lavf" encoder tag and writes zero creation times.
MUX_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}

CAPTURE_TIME_KEYS = ("com.apple.quicktime.creationdate", "creation_time")
LOCATION_KEYS = ("com.apple.quicktime.location.ISO6709", "location", "location-eng")
_ISO6709 = re.compile(r"\s*([+-][0-9]+(?:\.[0-9]*)?)([+-][0-9]+(?:\.[0-9]*)?)")

# FFmpeg failures surface as av.FFmpegError (or its OSError/ValueError/EOFError subclasses); PyAV
# raises IndexError/KeyError on containers without the structures it expects.
DECODE_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError, IndexError, KeyError)


@dataclass(frozen=True)
class CleanVideo:
    """The stored MP4, its poster frame and what we learned from the upload."""

    data: bytes
    format: str  # the upload's container: mp4 | mov (the stored copy is always MP4)
    content_type: str
    extension: str
    width: int  # as displayed (rotation applied), like the poster
    height: int
    duration_ms: int
    codec: str  # h264 | hevc | mpeg4
    size: int
    sha256: str
    captured_at: datetime | None
    gps_lat: float | None
    gps_lng: float | None
    poster: bytes  # JPEG of a frame from the first second, upright
    phash: str  # dHash of the poster frame (app.media.phash)


def sniff_format(data: bytes) -> str | None:
    """ "mp4" or "mov" from the ``ftyp`` box's major brand, or None if it is not one we accept."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    brand = data[8:12]
    if brand == MOV_BRAND:
        return "mov"
    return "mp4" if brand in MP4_BRANDS else None


def process_video(
    data: bytes, *, max_bytes: int, max_seconds: float, max_pixels: int
) -> CleanVideo:
    """Validate a video upload and return its clean MP4 copy and poster; raises 413, 415 or 422."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"视频不能超过 {max_bytes / 1024 / 1024:g} MB", code="video_too_large"
        )
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType("仅支持 MP4、MOV 格式的视频", code="unsupported_video_type")
    deadline = time.monotonic() + TIME_BUDGET_SECONDS
    try:
        # format="mov" pins the one demuxer we trust with these bytes: no probing into others.
        with (
            av.open(io.BytesIO(data), format="mov", metadata_errors="replace") as src,
            tempfile.TemporaryDirectory(prefix="video-") as tmp,
        ):
            stream = _checked_stream(src, max_seconds, max_pixels)
            codec = stream.codec_context.name
            captured_at, lat, lng = read_private_metadata(src, stream)
            # The MP4 muxer re-reads its output to move the index first: it needs a real file.
            path = Path(tmp) / "clean.mp4"
            frame, span = _remux(src, stream, path, max_seconds, deadline)
            stored = path.read_bytes()
            poster = _upright_image(frame)
    except DECODE_ERRORS:
        log.info("undecodable video refused", exc_info=True)
        raise _corrupt() from None
    _check_limits(span, poster.size, max_seconds, max_pixels)
    out = io.BytesIO()
    poster.save(out, "JPEG", quality=POSTER_JPEG_QUALITY)
    return CleanVideo(
        data=stored,
        format=fmt,
        content_type="video/mp4",
        extension="mp4",
        width=poster.width,
        height=poster.height,
        duration_ms=round(span * 1000),
        codec=codec,
        size=len(stored),
        sha256=hashlib.sha256(stored).hexdigest(),
        captured_at=captured_at,
        gps_lat=lat,
        gps_lng=lng,
        poster=out.getvalue(),
        phash=dhash(poster),
    )


def _invalid(message: str, code: str, field: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={"file": [field or message]})


def _corrupt() -> ValidationFailed:
    return _invalid("视频已损坏或不完整，请重新拍摄或选择", "video_corrupt", "视频无法解码")


def _too_long(max_seconds: float) -> ValidationFailed:
    return _invalid(f"视频不能超过{max_seconds:g}秒", "video_too_long")


def _too_many_pixels() -> ValidationFailed:
    return _invalid("视频分辨率过高，请用 1080p 或更低的分辨率拍摄", "video_too_many_pixels")


def _max_packets(max_seconds: float) -> int:
    return math.ceil((max_seconds + DURATION_TOLERANCE_SECONDS) * MAX_FRAME_RATE)


def _checked_stream(
    src: av.container.InputContainer, max_seconds: float, max_pixels: int
) -> av.VideoStream:
    """The video stream, refused before any packet is read if its header breaks a rule."""
    streams = [
        s for s in src.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        raise _invalid("视频中没有画面，请重新拍摄", "video_no_stream")
    stream = streams[0]
    ctx = stream.codec_context
    if ctx is None or ctx.name not in ALLOWED_CODECS:
        raise _invalid("仅支持 H.264、H.265（HEVC）或 MPEG-4 编码的视频", "video_codec_not_allowed")
    if ctx.width <= 0 or ctx.height <= 0:
        raise _corrupt()
    if ctx.width * ctx.height > max_pixels:
        raise _too_many_pixels()
    declared = float(stream.duration * stream.time_base) if stream.duration else 0.0
    too_many_frames = stream.frames > _max_packets(max_seconds)
    if declared > max_seconds + DURATION_TOLERANCE_SECONDS or too_many_frames:
        raise _too_long(max_seconds)
    return stream


def _remux(
    src: av.container.InputContainer,
    stream: av.VideoStream,
    path: Path,
    max_seconds: float,
    deadline: float,
) -> tuple[av.VideoFrame, float]:
    """Copy every video packet into a fresh MP4 at ``path``; (poster frame, seconds spanned)."""
    ctx = stream.codec_context
    ctx.thread_count, ctx.thread_type = DECODE_THREADS, "AUTO"
    # Only the video stream is added: audio is dropped because it records bystanders' voices and
    # the evidence is visual; data, subtitle and timecode tracks carry nothing a reviewer needs.
    out = av.open(str(path), "w", format="mp4", container_options=MUX_OPTIONS)
    try:
        ostream = out.add_stream_from_template(stream)
        picker = _PosterPicker()
        first = last = None
        count = 0
        for packet in src.demux(stream):
            if packet.size == 0 and packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            if time.monotonic() > deadline:
                raise _invalid("视频处理超时，请剪短后重试", "video_processing_timeout")
            # A packet cut short by the end of the file is flagged corrupt by the demuxer.
            if packet.is_corrupt:
                raise _corrupt()
            count += 1
            if count > _max_packets(max_seconds):
                raise _too_long(max_seconds)
            if packet.pts is not None:
                end = packet.pts + (packet.duration or 0)
                first = packet.pts if first is None else min(first, packet.pts)
                last = end if last is None else max(last, end)
            if not picker.done:  # decode before muxing: muxing takes over the packet's data
                picker.feed(stream.decode(packet))
            packet.stream = ostream
            out.mux(packet)
        if not picker.done:
            picker.feed(stream.decode(None))
        out.close()  # writes the index (and moves it first)
    except BaseException:
        with contextlib.suppress(*DECODE_ERRORS):
            out.close()
        raise
    # A file cut at a packet boundary demuxes cleanly but has fewer packets than its index lists.
    if picker.frame is None or first is None or (stream.frames and count < stream.frames):
        raise _corrupt()
    return picker.frame, float((last - first) * stream.time_base)


class _PosterPicker:
    """Keeps the first decoded frame at or after POSTER_AT_SECONDS (or the last one before)."""

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.done = False
        self._start: float | None = None
        self._seen = 0

    def feed(self, frames: Iterable[av.VideoFrame]) -> None:
        """Look at decoded frames (in presentation order) until the poster is found."""
        for frame in frames:
            self.frame = frame
            self._seen += 1
            t = frame.time
            if t is not None and self._start is None:
                self._start = t
            reached = t is not None and t - self._start >= POSTER_AT_SECONDS
            # Frames without timestamps still end the search after half a second's worth.
            if reached or self._seen >= POSTER_AT_SECONDS * MAX_FRAME_RATE:
                self.done = True
                return


def _upright_image(frame: av.VideoFrame) -> Image.Image:
    """The frame as an RGB image, turned as the display matrix says (phones film sideways)."""
    img = frame.to_image()
    quarter = round((frame.rotation or 0) / 90) % 4  # counterclockwise quarter turns
    turns = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180}
    turns[3] = Image.Transpose.ROTATE_270
    return img.transpose(turns[quarter]) if quarter else img


def _check_limits(span: float, size: tuple[int, int], max_seconds: float, max_pixels: int) -> None:
    """Limits checked on what was actually demuxed and decoded, not on what the header claimed."""
    if span > max_seconds + DURATION_TOLERANCE_SECONDS:
        raise _too_long(max_seconds)
    if size[0] * size[1] > max_pixels:
        raise _too_many_pixels()


def read_private_metadata(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[datetime | None, float | None, float | None]:
    """(capture time in UTC, latitude, longitude) from container, then stream tags."""
    tags = [dict(container.metadata), dict(stream.metadata)]
    captured_at = None
    for key in CAPTURE_TIME_KEYS:
        # Apple's creationdate is the camera's local time with its offset; creation_time is UTC.
        naive_tz = DEFAULT_CAMERA_TZ if key.startswith("com.apple") else UTC
        found = [_parse_time(t.get(key), naive_tz) for t in tags]
        captured_at = next((value for value in found if value), None)
        if captured_at:
            break
    for key in LOCATION_KEYS:
        for t in tags:
            lat, lng = parse_iso6709(t.get(key))
            if lat is not None:
                return captured_at, lat, lng
    return captured_at, None, None


def _parse_time(raw: object, naive_tz: tzinfo) -> datetime | None:
    """An ISO 8601 time ("2024-05-01T14:30:00+0800", "...Z") as aware UTC; None if malformed."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=naive_tz)
    return value.astimezone(UTC)


def parse_iso6709(raw: object) -> tuple[float | None, float | None]:
    """(latitude, longitude) from an ISO 6709 string such as "+41.8010+123.4300/"."""
    match = _ISO6709.match(raw) if isinstance(raw, str) else None
    if match is None:
        return None, None
    lat, lng = _iso6709_degrees(match.group(1), 2), _iso6709_degrees(match.group(2), 3)
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None, None
    if lat == 0 and lng == 0:  # what devices write when they have no fix
        return None, None
    return round(lat, 7), round(lng, 7)


def _iso6709_degrees(text: str, degree_digits: int) -> float | None:
    """One signed ISO 6709 coordinate: degrees, degrees+minutes or degrees+minutes+seconds."""
    sign = -1 if text[0] == "-" else 1
    whole, _, fraction = text[1:].partition(".")
    tail = float(f"0.{fraction}") if fraction else 0.0
    extra = len(whole) - degree_digits
    if extra == 0:
        return sign * (int(whole) + tail)
    if extra == 2:
        minutes = int(whole[degree_digits:]) + tail
        return sign * (int(whole[:degree_digits]) + minutes / 60)
    if extra == 4:
        minutes, seconds = int(whole[degree_digits:-2]), int(whole[-2:]) + tail
        return sign * (int(whole[:degree_digits]) + minutes / 60 + seconds / 3600)
    return None
