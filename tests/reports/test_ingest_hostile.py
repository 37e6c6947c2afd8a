"""The device ingest API refuses what is not a detection, naming the field, before anything is
stored: an evidence part without a file name (a form's "no file chosen") or without bytes, and
texts that are only blanks."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.media.models import Media
from app.storage import get_storage
from reports.ingest_api import create_device
from reports.models import Report
from tests.reports.conftest import INSIDE_WEST, jpeg_bytes


@pytest.fixture
def device_key(city) -> str:
    return create_device("铁西5号路口摄像头")[1]


@pytest.fixture
def puts(app, monkeypatch) -> list[str]:
    """The keys the app stores objects under during the test."""
    storage = get_storage(app)
    real_put, seen = storage.put, []

    def put(key, data, content_type):
        seen.append(key)
        real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put", put)
    return seen


def detect(client, key: str, **fields):
    data = {"category": "SJ0503", "confidence": "0.93", "event_id": "cam5-0001",
            "lat": str(INSIDE_WEST[0]), "lng": str(INSIDE_WEST[1]),
            "evidence": (io.BytesIO(jpeg_bytes()), "frame.jpg")} | fields  # fmt: skip
    return client.post("/api/v1/ingest/detections", data=data, content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(Report)),
            db.session.scalar(select(func.count()).select_from(Media)))  # fmt: skip


def assert_refused(resp, field: str) -> None:
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] in {"validation_failed", "empty_file"}
    assert list(error["fields"]) == [field]
    assert error["fields"][field] and error["message"]


@pytest.mark.parametrize(
    "evidence",
    [
        pytest.param((io.BytesIO(jpeg_bytes()), ""), id="image-with-empty-file-name"),
        pytest.param((io.BytesIO(b""), ""), id="no-file-chosen"),
        pytest.param((io.BytesIO(b""), "frame.jpg"), id="zero-bytes"),
    ],
)
def test_evidence_without_a_file_name_or_bytes_is_422_naming_evidence(
    client, device_key, puts, evidence
):
    before = counts()
    resp = detect(client, device_key, evidence=evidence)
    assert_refused(resp, "evidence")
    assert counts() == before and puts == []


@pytest.mark.parametrize("field", ["description", "event_id", "category"])
@pytest.mark.parametrize("blank", [" ", "   ", "\t\n", "\u3000\u3000"])
def test_blank_texts_are_422_naming_the_field_and_store_nothing(
    client, device_key, puts, field, blank
):
    before = counts()
    resp = detect(client, device_key, **{field: blank})
    assert_refused(resp, field)
    assert counts() == before
    assert puts == []  # refused before the evidence was stored


def test_a_real_detection_still_goes_through(client, device_key, puts):
    before = counts()
    resp = detect(client, device_key, description="  铁西区北二路有暴露垃圾  ")
    assert resp.status_code == 201, resp.get_json()
    assert counts() == (before[0] + 1, before[1] + 1) and len(puts) == 1
    number = resp.get_json()["number"]
    saved = db.session.scalar(select(Report).where(Report.number == number))
    assert saved.description == "铁西区北二路有暴露垃圾"


def test_spec_documents_the_rules(client):
    spec = client.get("/api/openapi.json").get_json()
    body = spec["paths"]["/api/v1/ingest/detections"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    props = schema["properties"]
    assert props["evidence"] == {"type": "string", "format": "binary"}
    # algorithm (or, from older clients, category) is checked by the view: one of them is needed
    assert {"evidence", "confidence", "event_id"} <= set(schema["required"])
    for name in ("description", "event_id", "category", "algorithm"):
        assert props[name]["pattern"]  # not only blanks
