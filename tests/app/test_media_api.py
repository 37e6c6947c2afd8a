"""The media API: upload, look up with a fresh URL, who may see what, and the S3 backend."""

from __future__ import annotations

import io
import re
from datetime import UTC

import pytest
import requests
from PIL import Image, ImageOps
from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from app.media.phash import dhash
from app.storage import StorageError, get_storage
from tests.conftest import error_of

from .conftest import DEVICE_STRINGS
from .test_video import APPLE_TAGS, CAPTURED_AT, LOCATION, make_video, read_back


def upload(client, headers, data: bytes, name="photo.jpg", mimetype="image/jpeg"):
    return client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), name, mimetype)},
        headers=headers,
        content_type="multipart/form-data",
    )


def media_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Media))


def stored_files(app) -> set[str]:
    root = get_storage(app).root / "media"
    return {str(p) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-media-owner")


def test_citizen_uploads_and_fetches_the_clean_photo(client, citizen, auth_header, phone_jpeg):
    resp = upload(client, auth_header(citizen), phone_jpeg)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (20, 40)
    assert len(body["id"]) >= 20
    assert "gps_lat" not in body and "captured_at" not in body

    photo = client.get(body["url"])
    assert photo.status_code == 200
    assert photo.mimetype == "image/jpeg"
    assert len(photo.data) == body["size"]
    img = Image.open(io.BytesIO(photo.data))
    img.load()
    assert ImageOps.exif_transpose(img).size == (20, 40)  # shown upright
    assert set(img.getexif()) <= {0x0112}  # no EXIF but the orientation
    assert not any(s in photo.data for s in DEVICE_STRINGS)

    row = db.session.scalar(select(Media).where(Media.public_id == body["id"]))
    assert row.user_id == citizen.id and row.staff_id is None
    assert row.gps_lat == pytest.approx(41.801, abs=1e-6)


def test_owner_sees_no_gps_and_staff_do(client, citizen, make_staff, auth_header, phone_jpeg):
    media_id = upload(client, auth_header(citizen), phone_jpeg).get_json()["id"]

    mine = client.get(f"/api/v1/media/{media_id}", headers=auth_header(citizen))
    assert mine.status_code == 200
    assert mine.get_json()["id"] == media_id
    assert client.get(mine.get_json()["url"]).status_code == 200
    assert not {"gps_lat", "gps_lng", "captured_at"} & set(mine.get_json())

    staff = make_staff("inspector")
    seen = client.get(f"/api/v1/media/{media_id}", headers=auth_header(staff))
    assert seen.status_code == 200
    body = seen.get_json()
    assert body["gps_lat"] == pytest.approx(41.801, abs=1e-6)
    assert body["gps_lng"] == pytest.approx(123.43, abs=1e-6)
    assert body["captured_at"].startswith("2024-05-01T06:30:00")
    assert body["owner_type"] == "citizen"


def test_other_citizens_get_404_like_a_missing_photo(
    client, citizen, make_citizen, auth_header, phone_jpeg
):
    media_id = upload(client, auth_header(citizen), phone_jpeg).get_json()["id"]
    other = auth_header(make_citizen("o-someone-else"))
    theirs = client.get(f"/api/v1/media/{media_id}", headers=other)
    missing = client.get("/api/v1/media/does-not-exist", headers=other)
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs) == error_of(missing)


def test_staff_can_upload_too(client, make_staff, auth_header, make_image):
    staff = make_staff("uploader")
    resp = upload(client, auth_header(staff), make_image("PNG"), name="scan.png")
    assert resp.status_code == 201
    assert resp.get_json()["content_type"] == "image/png"
    row = db.session.scalar(select(Media).where(Media.public_id == resp.get_json()["id"]))
    assert row.staff_id == staff.id and row.user_id is None


def test_unauthenticated_is_401(client, citizen, auth_header, phone_jpeg):
    assert upload(client, {}, phone_jpeg).status_code == 401
    media_id = upload(client, auth_header(citizen), phone_jpeg).get_json()["id"]
    resp = client.get(f"/api/v1/media/{media_id}")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_body_that_is_not_multipart_is_415(client, citizen, auth_header):
    resp = client.post("/api/v1/media", json={"file": "aGVsbG8="}, headers=auth_header(citizen))
    assert resp.status_code == 415
    assert resp.get_json()["error"]["code"] == "multipart_required"
    empty = client.post("/api/v1/media", headers=auth_header(citizen))
    assert empty.status_code == 415


def test_missing_file_is_422_with_the_field(client, citizen, auth_header):
    resp = client.post(
        "/api/v1/media",
        data={"note": "no photo here"},
        headers=auth_header(citizen),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"file": ["请选择要上传的图片"]}


def test_content_decides_not_name_or_declared_type(client, citizen, auth_header, make_image):
    before = media_count()
    text = upload(client, auth_header(citizen), b"hello, I am text\n", name="x.jpg")
    assert text.status_code == 415
    assert text.get_json()["error"]["code"] == "unsupported_image_type"
    gif = upload(client, auth_header(citizen), make_image("GIF", mode="P"), name="cat.jpg")
    assert gif.status_code == 415
    # a real PNG sent as "photo.jpg, image/jpeg" is stored as what it is
    png = upload(client, auth_header(citizen), make_image("PNG"), name="photo.jpg")
    assert png.get_json()["content_type"] == "image/png"
    assert media_count() == before + 1


def test_too_large_is_413(client, app, citizen, auth_header, make_image, monkeypatch):
    data = make_image("JPEG")
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", len(data) - 1)
    resp = upload(client, auth_header(citizen), data)
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "image_too_large"


def test_storage_failure_is_503_and_writes_nothing(
    client, app, citizen, auth_header, phone_jpeg, monkeypatch
):
    def broken_put(*args, **kwargs):
        raise StorageError("disk full")

    monkeypatch.setattr(get_storage(app), "put", broken_put)
    before = media_count()
    resp = upload(client, auth_header(citizen), phone_jpeg)
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "storage_unavailable"
    assert media_count() == before


def test_failed_commit_leaves_no_stored_object(
    client, app, citizen, auth_header, phone_jpeg, db_session, monkeypatch
):
    files_before = stored_files(app)

    def failing_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db_session, "commit", failing_commit)
    resp = upload(client, auth_header(citizen), phone_jpeg)
    assert resp.status_code == 500
    assert stored_files(app) == files_before


def test_spec_lists_the_media_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/v1/media"]["post"]
    assert {"201", "401", "413", "415", "422"} <= set(post["responses"])
    assert "multipart/form-data" in post["requestBody"]["content"]
    get = spec["paths"]["/api/v1/media/{media_id}"]["get"]
    assert {"200", "401", "404"} <= set(get["responses"])


def test_upload_with_s3_backend(
    client, app, citizen, auth_header, phone_jpeg, s3_settings, monkeypatch
):
    for name, value in {**s3_settings, "STORAGE_BACKEND": "s3"}.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setitem(app.extensions, "storage", None)  # rebuilt from the config above

    resp = upload(client, auth_header(citizen), phone_jpeg)
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["url"].startswith(s3_settings["S3_ENDPOINT_URL"])
    fetched = requests.get(body["url"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert len(fetched.content) == body["size"]
    assert not any(s in fetched.content for s in DEVICE_STRINGS)

    row = db.session.scalar(select(Media).where(Media.public_id == body["id"]))
    assert get_storage(app).exists(row.storage_key)
    again = client.get(f"/api/v1/media/{body['id']}", headers=auth_header(citizen))
    assert requests.get(again.get_json()["url"], timeout=10).content == fetched.content


def test_cookie_signed_in_citizen_needs_the_csrf_token_to_upload(client, make_citizen, make_image):
    """H5 pages authenticate with the session cookie, so their writes must carry the CSRF token."""
    import re

    citizen = make_citizen("o-h5-citizen")
    with client.session_transaction() as sess:
        sess["citizen_id"] = citizen.id
    page = client.get("/h5/", headers={"Accept": "text/html"}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def upload(headers):
        data = {"file": (io.BytesIO(make_image("JPEG")), "photo.jpg")}
        return client.post(
            "/api/v1/media", data=data, content_type="multipart/form-data", headers=headers
        )

    refused = upload({})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    accepted = upload({"X-CSRFToken": token})
    assert accepted.status_code == 201, accepted.get_data(as_text=True)


# -- videos and perceptual hashes ---------------------------------------------------------------


def upload_video(client, headers, data: bytes, name="clip.mp4", mimetype="video/mp4"):
    return upload(client, headers, data, name=name, mimetype=mimetype)


def row(public_id: str) -> Media:
    return db.session.scalar(select(Media).where(Media.public_id == public_id))


def test_citizen_uploads_a_video_and_gets_it_with_its_poster(
    client, citizen, make_staff, auth_header
):
    before = media_count()
    original = make_video(fmt="mov", tags=APPLE_TAGS, audio=True)
    resp = upload_video(client, auth_header(citizen), original, name="IMG_0001.MOV")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["kind"], body["content_type"], body["codec"]) == ("video", "video/mp4", "h264")
    assert body["duration_ms"] == 2000 and (body["width"], body["height"]) == (64, 48)
    assert "gps_lat" not in body and "captured_at" not in body
    assert media_count() == before + 2  # the video and its poster

    played = client.get(body["url"])
    assert played.status_code == 200 and played.mimetype == "video/mp4"
    assert len(played.data) == body["size"]
    assert read_back(played.data)[1] == [
        ("video", "h264", {"language": "und", "handler_name": "VideoHandler"})  # FFmpeg's default
    ]
    assert LOCATION.encode() not in played.data and b"SecretCam" not in played.data

    still = client.get(body["poster_url"])
    assert still.status_code == 200 and still.mimetype == "image/jpeg"
    poster_img = Image.open(io.BytesIO(still.data))
    assert (poster_img.format, poster_img.size, dict(poster_img.getexif())) == (
        "JPEG",
        (64, 48),
        {},
    )

    video_row, poster = row(body["id"]), row(body["poster_id"])
    assert (video_row.kind, poster.kind, video_row.poster_id) == ("video", "image", poster.id)
    assert poster.user_id == video_row.user_id == citizen.id
    assert video_row.captured_at.replace(tzinfo=UTC) == CAPTURED_AT
    assert video_row.gps_lat == pytest.approx(41.801) and video_row.gps_lng == pytest.approx(123.43)
    assert poster.gps_lat is None and poster.captured_at is None
    assert re.fullmatch(r"[0-9a-f]{16}", video_row.phash) and video_row.phash == poster.phash

    staff_view = client.get(f"/api/v1/media/{body['id']}", headers=auth_header(make_staff("rev")))
    seen = staff_view.get_json()
    assert (seen["kind"], seen["poster_id"], seen["format"]) == ("video", body["poster_id"], "mov")
    assert seen["gps_lat"] == pytest.approx(41.801) and seen["captured_at"].startswith("2024-05-01")
    mine = client.get(f"/api/v1/media/{body['id']}", headers=auth_header(citizen)).get_json()
    assert mine["poster_url"] and not {"gps_lat", "captured_at", "phash"} & set(mine)
    poster_view = client.get(f"/api/v1/media/{body['poster_id']}", headers=auth_header(citizen))
    assert poster_view.status_code == 200 and poster_view.get_json()["kind"] == "image"


def test_video_file_url_answers_range_requests(client, citizen, auth_header):
    body = upload_video(client, auth_header(citizen), make_video()).get_json()
    whole = client.get(body["url"])
    assert whole.headers["Accept-Ranges"] == "bytes"

    part = client.get(body["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{body['size']}"
    assert part.mimetype == "video/mp4"
    assert part.data == whole.data[100:200]
    tail = client.get(body["url"], headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.data == whole.data[-16:]


def test_too_long_video_is_422_and_stores_nothing(client, app, citizen, auth_header):
    files_before, before = stored_files(app), media_count()
    resp = upload_video(client, auth_header(citizen), make_video(12))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "video_too_long"
    assert resp.get_json()["error"]["fields"] == {"file": ["视频不能超过10秒"]}
    assert (media_count(), stored_files(app)) == (before, files_before)


def test_truncated_video_is_422_not_500(client, citizen, auth_header):
    data = make_video()
    resp = upload_video(client, auth_header(citizen), data[: len(data) * 9 // 10])
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "video_corrupt"


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 64, b"GIF89a" + b"\0" * 9],
)
def test_neither_photo_nor_video_is_415_naming_both(client, citizen, auth_header, data):
    resp = upload_video(client, auth_header(citizen), data, name="clip.mp4")
    assert resp.status_code == 415
    error = resp.get_json()["error"]
    assert error["code"] == "unsupported_image_type"  # the code clients knew before videos
    assert "MP4" in error["message"] and "JPEG" in error["message"]


def test_video_has_its_own_size_cap(client, app, citizen, auth_header, monkeypatch):
    data = make_video()
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 100)  # the photo cap does not apply
    assert upload_video(client, auth_header(citizen), data).status_code == 201
    monkeypatch.setitem(app.config, "MEDIA_VIDEO_MAX_BYTES", len(data) - 1)
    resp = upload_video(client, auth_header(citizen), data)
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "video_too_large"


def test_default_request_size_allows_the_largest_video(app):
    cfg = app.config
    assert cfg["MEDIA_VIDEO_MAX_BYTES"] == 30 * 1024 * 1024
    assert (cfg["MEDIA_VIDEO_MAX_SECONDS"], cfg["MEDIA_VIDEO_MAX_PIXELS"]) == (10, 1920 * 1920)
    # multipart framing adds a few hundred bytes around the file
    assert cfg["MAX_CONTENT_LENGTH"] >= cfg["MEDIA_VIDEO_MAX_BYTES"] + 64 * 1024


def test_failed_commit_leaves_neither_video_nor_poster(
    client, app, citizen, auth_header, db_session, monkeypatch
):
    files_before = stored_files(app)

    def failing_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db_session, "commit", failing_commit)
    resp = upload_video(client, auth_header(citizen), make_video())
    assert resp.status_code == 500
    assert stored_files(app) == files_before


def test_storage_failing_on_the_video_discards_its_poster(
    client, app, citizen, auth_header, monkeypatch
):
    storage = get_storage(app)
    real_put = storage.put

    def put(key, data, content_type):
        if key.endswith(".mp4"):
            raise StorageError("disk full")
        real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put", put)
    files_before, before = stored_files(app), media_count()
    resp = upload_video(client, auth_header(citizen), make_video())
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "storage_unavailable"
    assert (media_count(), stored_files(app)) == (before, files_before)


def test_photo_rows_carry_a_perceptual_hash(client, citizen, auth_header, make_image):
    body = upload(client, auth_header(citizen), make_image("PNG", size=(64, 32))).get_json()
    assert body["kind"] == "image" and body["poster_url"] is None and body["duration_ms"] is None
    photo = row(body["id"])
    stored = Image.open(io.BytesIO(get_storage().get(photo.storage_key)))
    assert photo.kind == "image" and photo.phash == dhash(stored)


def test_an_empty_file_is_422_empty_file(client, citizen, auth_header):
    before = media_count()
    resp = upload(client, auth_header(citizen), b"")
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "empty_file"
    assert err["message"] == "上传的文件是空的（0 字节），请重新选择"
    assert err["fields"] == {"file": ["文件为空"]}
    assert media_count() == before
