"""Video uploads: MP4/MOV by content, a stored copy without metadata or audio, and a poster."""

from __future__ import annotations

import io
import tempfile
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageDraw

from app.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.media import video
from app.media.phash import SAME_PICTURE_MAX_DISTANCE, dhash, hamming
from app.media.video import parse_iso6709, process_video

LIMITS = {"max_bytes": 30 * 1024 * 1024, "max_seconds": 10, "max_pixels": 1920 * 1920}
LOCATION = "+41.8010+123.4300/"  # Shenyang, as phones write ISO 6709
APPLE_TAGS = {
    "com.apple.quicktime.creationdate": "2024-05-01T14:30:00+0800",
    "com.apple.quicktime.location.ISO6709": LOCATION,
    "com.apple.quicktime.make": "SecretCam",
}
ANDROID_TAGS = {"creation_time": "2024-05-01T06:30:00.000000Z", "location": LOCATION}
CAPTURED_AT = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)


def frame_image(i: int, size: tuple[int, int], level: int | None = None) -> Image.Image:
    """A frame with a moving bar, so consecutive frames differ and the encoder has work."""
    width, height = size
    img = Image.new("RGB", size, (level, level, level) if level is not None else (40, 90, 160))
    ImageDraw.Draw(img).rectangle(
        [i % width, height // 4, i % width + width // 3, height // 2], "white"
    )
    return img


def make_video(
    seconds: float = 2,
    *,
    fmt: str = "mp4",
    codec: str = "libx264",
    size: tuple[int, int] = (64, 48),
    fps: int = 10,
    tags: dict[str, str] | None = None,
    stream_tags: dict[str, str] | None = None,
    audio: bool = False,
    rotation: int | None = None,
    faststart: bool = False,
    levels: bool = False,
) -> bytes:
    """A real video encoded with PyAV; ``tags`` become container metadata as phones write it."""
    flags = ["use_metadata_tags"] if fmt == "mov" else []  # Apple's keys live in mdta boxes
    flags += ["faststart"] if faststart else []
    options = {"movflags": "+".join(flags)} if flags else {}
    # A real file: faststart re-reads the output to move the index first, BytesIO cannot do that.
    tmp = tempfile.TemporaryDirectory(prefix="make-video-")
    path = Path(tmp.name) / f"made.{fmt}"
    out = av.open(str(path), "w", format=fmt, container_options=options)
    out.metadata.update(tags or {})
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    stream.metadata.update(stream_tags or {})
    if rotation is not None:
        stream.set_display_rotation(rotation)
    sound = out.add_stream("aac", rate=8000, layout="mono") if audio else None
    for i in range(round(seconds * fps)):
        img = frame_image(i * 3, size, level=min(255, i * 20) if levels else None)
        for packet in stream.encode(av.VideoFrame.from_image(img)):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    if sound is not None:
        for i in range(round(seconds * 8000 / 1024) + 1):
            chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            chunk.sample_rate, chunk.pts, chunk.time_base = 8000, i * 1024, Fraction(1, 8000)
            chunk.planes[0].update(bytes(chunk.planes[0].buffer_size))
            for packet in sound.encode(chunk):
                out.mux(packet)
        for packet in sound.encode():
            out.mux(packet)
    out.close()
    with tmp:
        return path.read_bytes()


def read_back(data: bytes) -> tuple[dict, list[tuple[str, str, dict]], float]:
    """(container tags, [(type, codec, tags)] per stream, duration in seconds) as PyAV sees them."""
    with av.open(io.BytesIO(data)) as container:
        streams = [(s.type, s.codec_context.name, dict(s.metadata)) for s in container.streams]
        return dict(container.metadata), streams, container.duration / 1_000_000


def assert_no_metadata(data: bytes) -> None:
    """Only the brand tags FFmpeg derives from ``ftyp``; no time, place, device or encoder."""
    tags, streams, _ = read_back(data)
    assert set(tags) <= {"major_brand", "minor_version", "compatible_brands"}
    assert [(kind, meta.keys() - {"language", "handler_name"}) for kind, _, meta in streams] == [
        ("video", set())
    ]
    for needle in (b"41.80", b"123.43", b"2024-05-01", b"SecretCam", b"com.apple", b"Lavf"):
        assert needle not in data
    for box in (b"loci", b"\xa9xyz", b"\xa9day", b"mdta", b"keys"):
        assert box not in data


def test_phone_mov_is_remuxed_without_metadata_or_audio_and_keeps_private_metadata():
    original = make_video(
        fmt="mov",
        tags=APPLE_TAGS,
        stream_tags={"handler_name": "SecretCam Video", "creation_time": "2024-05-01T06:30:00Z"},
        audio=True,
        rotation=-90,
    )
    assert LOCATION.encode() in original and b"SecretCam Video" in original  # what phones write
    assert [kind for kind, _, _ in read_back(original)[1]] == ["video", "audio"]

    clean = process_video(original, **LIMITS)

    assert_no_metadata(clean.data)
    _, streams, duration = read_back(clean.data)
    assert [(kind, codec) for kind, codec, _ in streams] == [("video", "h264")]
    assert duration == pytest.approx(2.0, abs=0.15)
    assert (clean.format, clean.content_type, clean.extension) == ("mov", "video/mp4", "mp4")
    assert clean.data[4:12] == b"ftypisom"
    assert (clean.codec, clean.duration_ms) == ("h264", 2000)
    assert (clean.width, clean.height) == (48, 64)  # filmed sideways, shown upright
    assert clean.captured_at == CAPTURED_AT
    assert (clean.gps_lat, clean.gps_lng) == (pytest.approx(41.801), pytest.approx(123.43))
    assert clean.size == len(clean.data)


def test_stored_copy_is_the_same_bitstream_and_plays():
    original = make_video(tags=ANDROID_TAGS)
    clean = process_video(original, **LIMITS)
    with av.open(io.BytesIO(original)) as a, av.open(io.BytesIO(clean.data)) as b:
        before = [bytes(p) for p in a.demux(a.streams.video[0]) if p.size]
        after = [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
    assert before == after  # remuxed, not re-encoded
    with av.open(io.BytesIO(clean.data)) as played:
        frames = list(played.decode(video=0))
    assert len(frames) == 20 and (frames[0].width, frames[0].height) == (64, 48)
    # the index comes first (faststart), so a player starts before the whole file arrives
    assert clean.data.index(b"moov") < clean.data.index(b"mdat")


def test_android_mp4_tags_are_read_then_dropped():
    original = make_video(tags=ANDROID_TAGS)
    assert b"loci" in original  # the MP4 muxer writes the location as a binary box
    assert read_back(original)[0]["creation_time"].startswith("2024-05-01")

    clean = process_video(original, **LIMITS)

    assert_no_metadata(clean.data)
    assert (clean.format, clean.captured_at) == ("mp4", CAPTURED_AT)
    assert clean.gps_lat == pytest.approx(41.801) and clean.gps_lng == pytest.approx(123.43)


def test_video_without_tags_has_no_private_metadata():
    clean = process_video(make_video(), **LIMITS)
    assert (clean.captured_at, clean.gps_lat, clean.gps_lng) == (None, None, None)


def test_poster_is_an_upright_jpeg_from_half_a_second_in():
    clean = process_video(make_video(levels=True, rotation=90), **LIMITS)
    poster = Image.open(io.BytesIO(clean.poster))
    poster.load()
    assert (poster.format, poster.size) == ("JPEG", (48, 64))
    assert dict(poster.getexif()) == {}
    # frame i has background level 20*i: frame 5 (0.5 s at 10 fps) is grey 100
    assert poster.convert("L").getpixel((2, 2)) == pytest.approx(100, abs=8)
    assert hamming(clean.phash, dhash(poster)) <= SAME_PICTURE_MAX_DISTANCE


@pytest.mark.parametrize("codec", ["mpeg4", "libx265"])
def test_other_allowed_codecs(codec):
    clean = process_video(make_video(codec=codec), **LIMITS)
    assert clean.codec == {"mpeg4": "mpeg4", "libx265": "hevc"}[codec]
    assert read_back(clean.data)[1][0][1] == clean.codec


def test_longer_than_ten_seconds_is_refused_422():
    with pytest.raises(ValidationFailed) as err:
        process_video(make_video(12), **LIMITS)
    assert err.value.code == "video_too_long"
    assert err.value.fields == {"file": ["视频不能超过10秒"]}
    process_video(make_video(10.4), **LIMITS)  # within the half-second tolerance


def test_duration_is_measured_not_taken_from_the_header(monkeypatch):
    # With the header check out of the way, the demuxed packets alone must refuse a 12 s clip.
    monkeypatch.setattr(video, "_checked_stream", lambda src, *_: src.streams.video[0])
    with pytest.raises(ValidationFailed) as err:
        process_video(make_video(12), **LIMITS)
    assert err.value.code == "video_too_long"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"just some text, not a video\n",
        bytes(range(256)) * 8,
        b"GIF89a" + b"\x00" * 64,
        b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 64,
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",  # a HEIF photo
        b"\x1aE\xdf\xa3" + b"\x00" * 64,  # Matroska / WebM
    ],
)
def test_other_content_is_refused_415(data):
    with pytest.raises(UnsupportedMediaType) as err:
        process_video(data, **LIMITS)
    assert err.value.code == "unsupported_video_type"


def test_gif_is_refused_415(make_image):
    with pytest.raises(UnsupportedMediaType):
        process_video(make_image("GIF", mode="P"), **LIMITS)


def _cut_after_packet(data: bytes, index: int) -> bytes:
    """The file cut exactly after one packet: every remaining packet is whole."""
    with av.open(io.BytesIO(data)) as container:
        entry = container.streams.video[0].index_entries[index]
    return data[: entry.pos + entry.size]


@pytest.mark.parametrize(
    "cut",
    [
        lambda d: d[: len(d) * 9 // 10],  # index at the end: lost
        lambda d: d[:200],
    ],
)
def test_truncated_video_is_refused_422(cut):
    with pytest.raises(ValidationFailed) as err:
        process_video(cut(make_video()), **LIMITS)
    assert err.value.code == "video_corrupt"


@pytest.mark.parametrize(
    "cut",
    [
        lambda d: d[: len(d) * 9 // 10],  # mid-packet: the demuxer flags it
        lambda d: d[: len(d) * 6 // 10],
        lambda d: _cut_after_packet(d, -3),  # on a packet boundary: fewer packets than indexed
        lambda d: _cut_after_packet(d, -1)[:-3],  # inside the last packet: only it is short
    ],
)
def test_truncated_faststart_video_is_refused_422(cut):
    whole = make_video(faststart=True)
    process_video(whole, **LIMITS)
    with pytest.raises(ValidationFailed) as err:
        process_video(cut(whole), **LIMITS)
    assert err.value.code == "video_corrupt"


def test_garbage_after_a_valid_ftyp_is_refused_422():
    head = make_video()[:32]
    with pytest.raises(ValidationFailed) as err:
        process_video(head + bytes(range(256)) * 16, **LIMITS)
    assert err.value.code == "video_corrupt"


def test_codec_not_allowed_is_refused_422():
    with pytest.raises(ValidationFailed) as err:
        process_video(make_video(fmt="mov", codec="mjpeg"), **LIMITS)
    assert err.value.code == "video_codec_not_allowed"
    assert "H.264" in err.value.fields["file"][0]


def test_audio_only_is_refused_422():
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=8000, layout="mono")
        chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        chunk.sample_rate, chunk.pts, chunk.time_base = 8000, 0, Fraction(1, 8000)
        chunk.planes[0].update(bytes(chunk.planes[0].buffer_size))
        for packet in [*sound.encode(chunk), *sound.encode()]:
            out.mux(packet)
    with pytest.raises(ValidationFailed) as err:
        process_video(buf.getvalue(), **LIMITS)
    assert err.value.code == "video_no_stream"


def test_pixel_limit_is_the_configured_one():
    data = make_video(size=(64, 48))
    process_video(data, **{**LIMITS, "max_pixels": 64 * 48})
    with pytest.raises(ValidationFailed) as err:
        process_video(data, **{**LIMITS, "max_pixels": 64 * 48 - 1})
    assert err.value.code == "video_too_many_pixels"


def test_too_many_bytes_is_refused_413():
    data = make_video()
    process_video(data, **{**LIMITS, "max_bytes": len(data)})
    with pytest.raises(PayloadTooLarge) as err:
        process_video(data, **{**LIMITS, "max_bytes": len(data) - 1})
    assert err.value.code == "video_too_large"


def test_time_budget_refuses_cleanly(monkeypatch):
    monkeypatch.setattr(video, "TIME_BUDGET_SECONDS", -1.0)
    with pytest.raises(ValidationFailed) as err:
        process_video(make_video(), **LIMITS)
    assert err.value.code == "video_processing_timeout"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+41.8010+123.4300/", (41.801, 123.43)),
        ("+41.8010+123.4300+050.000/", (41.801, 123.43)),  # with altitude
        ("-33.8675+151.2070/", (-33.8675, 151.207)),
        ("+4148.06+12325.8/", (41.801, 123.43)),  # degrees and minutes
        ("+414803.6+1232548/", (41.801, 123.43)),  # degrees, minutes and seconds
        ("+00.0000+000.0000/", (None, None)),  # no fix
        ("+91.0+10.0/", (None, None)),
        ("somewhere", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_iso6709_locations(raw, expected):
    lat, lng = parse_iso6709(raw)
    if expected[0] is None:
        assert (lat, lng) == expected
    else:
        assert (lat, lng) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
