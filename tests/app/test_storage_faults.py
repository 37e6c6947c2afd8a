"""S3 failing while citizens upload: a fault-injecting HTTP proxy between the app and moto.

The app talks to a real S3-compatible server (moto in server mode) through a small proxy in this
test that can refuse to answer (the connection drops), answer 500, stall past the read timeout, or
store the object and then lose the answer (the PUT landed, the app never hears so), for every
request or every Nth PUT. Expected, for photo uploads and for reports sent with their photos:

- during the outage: 503 in the one error shape with ``Retry-After``, never a 500;
- nothing half-written: no media row without its object, no report without its photos, and no
  object left behind without a row when the store takes the delete;
- once S3 is back, the same client's retry (same Idempotency-Key) succeeds, without a restart of
  the app and without a duplicate.
"""

from __future__ import annotations

import http.client
import io
import runpy
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from app.storage.s3 import S3Storage
from config import get_config
from reports.models import Report, ReportPhoto
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes, load_categories

BUCKET = "zhcg-media-faults"
READ_TIMEOUT = 1  # seconds; the "stall" mode waits longer than this
PAUSE = 2  # STORAGE_RETRY_SECONDS: how long an unreachable store is left alone
# STORAGE_RETRY_AFTER, above the minute-long windows whose reset Flask-Limiter also puts in
# Retry-After (it sends the later of the two): the header must be the storage's own.
RETRY_AFTER = 120


class FaultyProxy:
    """Forwards to moto unless told to fail. ``mode``: ``pass``; ``drop`` (read the request,
    close without an answer); ``error`` (500 InternalError); ``stall`` (answer nothing past the
    client's read timeout); ``lose_answer`` (forward, then drop the answer). With ``every`` N,
    only the PUTs of every Nth object fail (each attempt at it: the client's retries too) and
    everything else passes. ``stop()`` closes the port (connections are refused), ``start()``
    listens on it again."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.mode, self.every = "pass", 0
        self.seen: set[str] = set()  # objects PUT so far
        self.failed: set[str] = set()  # "METHOD path" of the requests that met the fault
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.server.daemon_threads = True
        self.server.faults = self  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set(self, mode: str, every: int = 0) -> None:
        with self.lock:
            self.mode, self.every = mode, every
            self.seen.clear()
            self.failed.clear()

    def fault_for(self, method: str, path: str) -> str:
        """The fault this request meets (``pass``: none)."""
        with self.lock:
            if self.mode == "pass":
                return "pass"
            request = f"{method} {path.split('?')[0]}"
            if self.every:
                if method != "PUT":
                    return "pass"
                if request not in self.seen:
                    self.seen.add(request)
                    if len(self.seen) % self.every == 0:
                        self.failed.add(request)
                if request not in self.failed:
                    return "pass"
            self.failed.add(request)
            return self.mode


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    break
                chunks.append(chunk)
            while self.rfile.readline() not in (b"\r\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        up = self.server.faults.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        skip = {"transfer-encoding", "expect", "content-length"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def _handle(self) -> None:
        body = self._body()
        fault = self.server.faults.fault_for(self.command, self.path)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault == "stall":
            time.sleep(READ_TIMEOUT + 1.5)
            self.close_connection = True
            return
        if fault == "error":
            payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        status, headers, data = self._forward(body)
        if fault == "lose_answer":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in {"transfer-encoding", "connection", "content-length",
                                   "date", "server"}:  # fmt: skip
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="module")
def proxy(s3_server) -> Iterator[FaultyProxy]:
    relay = FaultyProxy(s3_server)
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture(scope="module")
def bucket(s3_settings):
    """Direct access to the faults bucket on moto (not through the proxy)."""
    store = S3Storage.from_config({**s3_settings, "S3_BUCKET": BUCKET})
    store.client.create_bucket(Bucket=BUCKET)
    return store


@pytest.fixture
def flaky_s3(app, proxy, bucket, s3_settings, monkeypatch) -> FaultyProxy:
    """The app stores media in S3 through the proxy, with short timeouts and two attempts."""
    settings = {**s3_settings, "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": proxy.url,
                "STORAGE_BACKEND": "s3", "S3_CONNECT_TIMEOUT": 1,
                "S3_READ_TIMEOUT": READ_TIMEOUT, "S3_MAX_ATTEMPTS": 2,
                "STORAGE_RETRY_SECONDS": PAUSE, "STORAGE_RETRY_AFTER": RETRY_AFTER}  # fmt: skip
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setitem(app.extensions, "storage", None)  # rebuilt from the config above
    proxy.set("pass")
    yield proxy
    proxy.set("pass")
    if proxy.server is None:
        proxy.start()


def objects(bucket: S3Storage) -> set[str]:
    listing = bucket.client.list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listing.get("Contents", [])}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def upload(client, headers, data: bytes):
    return client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), "photo.jpg", "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )


def assert_retry_later(resp) -> None:
    """503 in the one error shape, with a Retry-After in seconds and no internals."""
    assert resp.status_code == 503, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert "fields" not in body["error"]
    assert body["error"]["code"] == "storage_unavailable"
    assert "稍后" in body["error"]["message"]
    assert RETRY_AFTER - 5 <= int(resp.headers["Retry-After"]) <= RETRY_AFTER
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "botocore" not in text and "127.0.0.1" not in text


def timed(call, *args):
    started = time.monotonic()
    resp = call(*args)
    return resp, time.monotonic() - started


@pytest.mark.parametrize("mode", ["refused", "stall", "drop", "error", "lose_answer"])
def test_photo_upload_during_an_outage_is_503_and_leaves_nothing(
    client, make_citizen, auth_header, flaky_s3, bucket, mode
):
    headers = auth_header(make_citizen(f"o-s3-{mode}"))
    rows, stored = count(Media), objects(bucket)

    if mode == "refused":
        flaky_s3.stop()  # S3 is down: the port is closed
    else:
        flaky_s3.set(mode)
    first, took = timed(upload, client, headers, jpeg_bytes())
    assert_retry_later(first)
    assert took < 2 * (1 + READ_TIMEOUT) + 3  # attempts x timeouts, plus backoff: not hung
    second, took = timed(upload, client, headers, jpeg_bytes((1, 2, 3)))
    assert_retry_later(second)
    if mode in {"refused", "stall"}:
        assert took < 1  # nothing answered: the store is left alone, the next upload fails at once
    else:
        assert flaky_s3.failed  # the store was asked again, and failed again
    assert count(Media) == rows
    # An object whose answer was lost landed in the bucket: it is deleted again, not orphaned.
    assert objects(bucket) == stored

    if mode == "refused":
        flaky_s3.start()
    flaky_s3.set("pass")
    time.sleep(PAUSE)  # the client waits before it retries (Retry-After)
    resp = upload(client, headers, jpeg_bytes((1, 2, 3)))  # the same client, no restart
    assert resp.status_code == 201, resp.get_json()
    assert count(Media) == rows + 1
    assert objects(bucket) == stored | {key_of(resp.get_json()["id"])}


def key_of(public_id: str) -> str:
    return db.session.scalar(select(Media.storage_key).where(Media.public_id == public_id))


def report_form(description: str, *colors) -> dict:
    return {
        "description": description, "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
        "category": "BJ0103",
        "photos": [(io.BytesIO(jpeg_bytes(c)), f"{i}.jpg") for i, c in enumerate(colors)],
    }  # fmt: skip


def submit(client, headers, form: dict, key: str):
    return client.post("/api/v1/reports", data=form, content_type="multipart/form-data",
                       headers={**headers, "Idempotency-Key": key})  # fmt: skip


@pytest.fixture
def categories(db_session) -> None:
    load_categories()


def test_reports_with_photos_while_every_second_put_fails(
    client, categories, make_citizen, auth_header, flaky_s3, bucket
):
    """Each report's first photo is stored, its second fails: 503, the first photo is discarded
    with the report that never was; the retry with the same key files it once."""
    phones = [(auth_header(make_citizen(f"o-s3-report-{n}")), f"s3-fault-{n}") for n in range(3)]
    colors = [((10 * n, 20, 30), (40, 10 * n, 60)) for n in range(len(phones))]
    reports, photos, stored = count(Report), count(ReportPhoto), objects(bucket)

    flaky_s3.set("lose_answer", every=2)
    for (headers, key), pair in zip(phones, colors, strict=True):
        form = report_form(f"测试一区井盖破损{key}，请尽快处理", *pair)
        assert_retry_later(submit(client, headers, form, key))
    assert len(flaky_s3.failed) == len(phones)
    assert (count(Report), count(ReportPhoto)) == (reports, photos)
    assert objects(bucket) == stored  # first photos discarded, lost answers deleted

    flaky_s3.set("pass")
    numbers = []
    for (headers, key), pair in zip(phones, colors, strict=True):
        form = report_form(f"测试一区井盖破损{key}，请尽快处理", *pair)
        first = submit(client, headers, form, key)
        assert first.status_code == 201, first.get_json()
        again = submit(client, headers, report_form(form["description"], *pair), key)
        assert again.status_code == 200
        assert again.get_json()["number"] == first.get_json()["number"]
        assert len(first.get_json()["photos"]) == 2
        numbers.append(first.get_json()["number"])
    assert count(Report) == reports + len(phones)
    assert count(ReportPhoto) == photos + 2 * len(phones)
    # Every report's photo is in the bucket, and nothing else was left there.
    keys = set(db.session.scalars(
        select(Media.storage_key).join(ReportPhoto, ReportPhoto.media_id == Media.id)
        .join(Report).where(Report.number.in_(numbers))
    ))  # fmt: skip
    assert len(keys) == 2 * len(phones)
    assert objects(bucket) - stored == keys


def test_uploads_in_a_row_while_s3_flaps(client, make_citizen, auth_header, flaky_s3, bucket):
    """Every third photo's PUT fails with a 500 (the client's own retry too): each upload either
    succeeds with its object stored, or is a 503 that left nothing behind."""
    headers = auth_header(make_citizen("o-s3-flap"))
    rows, stored = count(Media), objects(bucket)
    flaky_s3.set("error", every=3)
    outcomes = [upload(client, headers, jpeg_bytes((n, 2 * n, 90))) for n in range(8)]
    for resp in outcomes:
        if resp.status_code != 201:
            assert_retry_later(resp)
    created = [r.get_json()["id"] for r in outcomes if r.status_code == 201]
    assert 0 < len(created) < len(outcomes)
    assert count(Media) == rows + len(created)
    keys = set(db.session.scalars(select(Media.storage_key).where(Media.public_id.in_(created))))
    assert objects(bucket) - stored == keys


def test_default_s3_timeouts_fit_inside_a_gunicorn_worker_timeout():
    """A PUT to a store that accepts and never answers gives up before gunicorn kills the worker
    (which would answer 502 from the proxy in front, not our 503)."""
    gunicorn_conf = Path(__file__).parents[2] / "gunicorn.conf.py"
    namespace = runpy.run_path(str(gunicorn_conf))
    cfg = get_config("development")
    worst = cfg.S3_MAX_ATTEMPTS * (cfg.S3_CONNECT_TIMEOUT + cfg.S3_READ_TIMEOUT)
    assert worst < namespace["timeout"]
