"""The media API: upload, look up with a fresh URL, who may see what, and the S3 backend."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from app.storage import StorageError, get_storage

from .conftest import DEVICE_STRINGS


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
    assert img.size == (20, 40)
    assert dict(img.getexif()) == {}
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
    assert theirs.get_json() == missing.get_json()


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
