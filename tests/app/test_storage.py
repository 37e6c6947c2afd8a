"""Storage backends: local files behind signed URLs, and S3 against a real S3-compatible server."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from freezegun import freeze_time

from app.media.models import new_public_id
from app.storage import InvalidKey, ObjectNotFound, check_key, get_storage
from app.storage.local import LocalStorage
from app.storage.s3 import S3Storage

JPEG_BYTES = b"\xff\xd8\xff\xe0 not really a photo, the storage does not care"


@pytest.fixture
def local(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "uploads", secret_key="k" * 32, base_url="http://x/media/file/")


def test_local_round_trip(local):
    key = "media/2026/01/abc.jpg"
    assert not local.exists(key)
    local.put(key, JPEG_BYTES, "image/jpeg")
    assert local.exists(key)
    assert local.get(key) == JPEG_BYTES
    assert local.content_type(key) == "image/jpeg"
    local.put(key, b"second version", "image/png")  # replacing is atomic and complete
    assert local.get(key) == b"second version"
    assert local.content_type(key) == "image/png"
    local.delete(key)
    assert not local.exists(key)
    with pytest.raises(ObjectNotFound):
        local.get(key)
    local.delete(key)  # deleting twice is fine


def test_every_generated_media_key_is_valid():
    for _ in range(2000):  # public ids may start with "-" or "_"
        check_key(f"media/2026/01/{new_public_id()}.jpg")
    check_key("media/-leading-dash/_underscore.webp")


def test_local_files_are_private_and_no_temp_files_remain(local):
    local.put("media/a.jpg", JPEG_BYTES, "image/jpeg")
    path = local.path_for("media/a.jpg")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "a.jpg"]
    assert leftovers == []


@pytest.mark.parametrize(
    "key",
    [
        "../escape.jpg",
        "media/../../escape.jpg",
        "/etc/passwd",
        "media//a.jpg",
        ".meta/media/a.jpg",
        "media/.hidden",
        "media\\..\\a.jpg",
        "",
        "media/a.jpg\x00.png",
        "a/" * 300 + "b",
    ],
)
def test_keys_that_could_escape_are_refused(local, key, tmp_path):
    with pytest.raises(InvalidKey):
        local.put(key, b"x", "image/jpeg")
    with pytest.raises(InvalidKey):
        local.get(key)
    with pytest.raises(InvalidKey):
        local.url(key, 60)
    assert not (tmp_path / "escape.jpg").exists()


def test_symlink_out_of_the_folder_is_refused(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    local.root.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, local.root / "link")
    with pytest.raises(InvalidKey):
        local.put("link/x.jpg", b"x", "image/jpeg")
    assert list(outside.iterdir()) == []


def test_signed_url_is_served_with_type_and_safe_headers(app, client):
    with app.app_context():
        storage = get_storage()
        storage.put("media/test/served.jpg", JPEG_BYTES, "image/jpeg")
        url = storage.url("media/test/served.jpg", 60)
    assert url.startswith("http://localhost/media/file/")
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.data == JPEG_BYTES
    assert resp.mimetype == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"].startswith("private")
    assert "static" not in str(storage.root)


def test_expired_url_is_refused_403(app, client):
    start = datetime(2026, 3, 1, 8, 0, 0)
    with app.app_context():
        get_storage().put("media/test/expiring.jpg", JPEG_BYTES, "image/jpeg")
        with freeze_time(start):
            url = get_storage().url("media/test/expiring.jpg", 300)
    with freeze_time(start + timedelta(seconds=299)):
        assert client.get(url).status_code == 200
    with freeze_time(start + timedelta(seconds=301)):
        resp = client.get(url)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "media_link_expired"
    assert JPEG_BYTES not in resp.data


def test_tampered_or_foreign_tokens_are_refused_404(app, client):
    with app.app_context():
        storage = get_storage()
        storage.put("media/test/secret.jpg", JPEG_BYTES, "image/jpeg")
        url = storage.url("media/test/secret.jpg", 300)
        missing = storage.url("media/test/never-stored.jpg", 300)
    token = url.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other_key = LocalStorage(storage.root, secret_key="another-secret", base_url="/").url(
        "media/test/secret.jpg", 300
    )
    for bad in (flipped, "garbage", other_key.rsplit("/", 1)[1], missing.rsplit("/", 1)[1]):
        resp = client.get(f"/media/file/{bad}")
        assert resp.status_code == 404, bad
        body = resp.get_json()
        assert body["error"]["code"] in {"media_not_found", "not_found"}
        assert JPEG_BYTES not in resp.data


# -- S3 (moto server over real HTTP) -------------------------------------------------------


@pytest.fixture
def s3(s3_settings) -> S3Storage:
    return S3Storage.from_config(s3_settings)


def test_s3_round_trip(s3):
    key = "media/2026/01/s3-round-trip.jpg"
    assert not s3.exists(key)
    s3.put(key, JPEG_BYTES, "image/jpeg")
    assert s3.exists(key)
    assert s3.get(key) == JPEG_BYTES
    s3.delete(key)
    assert not s3.exists(key)
    with pytest.raises(ObjectNotFound):
        s3.get(key)
    with pytest.raises(InvalidKey):
        s3.put("../up.jpg", b"x", "image/jpeg")


def test_s3_client_has_explicit_timeouts_and_retries(s3, s3_settings):
    cfg = s3.client.meta.config
    assert (cfg.connect_timeout, cfg.read_timeout) == (2, 10)  # config.py's defaults
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 2}
    assert s3.client.meta.endpoint_url == s3_settings["S3_ENDPOINT_URL"]


def test_s3_presigned_url_serves_the_object_and_unsigned_get_is_refused(s3, s3_settings):
    key = "media/2026/01/presigned.jpg"
    s3.put(key, JPEG_BYTES, "image/jpeg")
    url = s3.url(key, 120)
    assert "X-Amz-Expires=120" in url
    signed = requests.get(url, timeout=10)
    assert signed.status_code == 200
    assert signed.content == JPEG_BYTES
    assert signed.headers["Content-Type"] == "image/jpeg"

    plain = f"{s3_settings['S3_ENDPOINT_URL']}/{s3_settings['S3_BUCKET']}/{key}"
    assert requests.get(plain, timeout=10).status_code == 403
    grants = s3.client.get_object_acl(Bucket=s3.bucket, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner only


def test_s3_unsigned_get_check_would_catch_a_public_object(s3_settings):
    """Control for the test above: a public-read object IS readable unsigned on this server."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=BotoConfig(s3={"addressing_style": "path"}),
    )
    client.put_object(
        Bucket=s3_settings["S3_BUCKET"], Key="public.txt", Body=b"hi", ACL="public-read"
    )
    plain = f"{s3_settings['S3_ENDPOINT_URL']}/{s3_settings['S3_BUCKET']}/public.txt"
    assert requests.get(plain, timeout=10).status_code == 200
    client.delete_object(Bucket=s3_settings["S3_BUCKET"], Key="public.txt")


def test_s3_presigns_for_the_public_endpoint_when_the_app_uses_an_internal_one(s3_settings):
    internal = s3_settings["S3_ENDPOINT_URL"]  # http://127.0.0.1:port
    public = internal.replace("127.0.0.1", "localhost")
    storage = S3Storage.from_config({**s3_settings, "S3_PUBLIC_ENDPOINT_URL": public})
    key = "media/2026/01/public-endpoint.jpg"
    storage.put(key, JPEG_BYTES, "image/jpeg")
    url = storage.url(key, 60)
    assert url.startswith(public + "/")
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200
    assert resp.content == JPEG_BYTES
