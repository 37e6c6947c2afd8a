"""A small city for 车窗抛物 tests: staff of every role, citizens, evidence photos, and helpers
that go through the HTTP API as the mini-program and the console do."""

from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from app.auth.models import Role
from app.media import service as media_service
from reports.littering import rules
from tests.reports.conftest import INSIDE_WEST
from tests.wechat.pay.conftest import (  # noqa: F401 - fixtures shared with the pay tests
    _receiver_server,
    pay_client,
    pay_config,
    pay_emulator,
    pay_server,
    receiver,
)


def evidence_jpeg(seed: int, exif_time: str | None = None) -> bytes:
    """A photo with random structure (distinct perceptual hashes for distinct seeds)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (96, 72))
    img.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(96 * 72)]
    )
    img = img.resize((24, 18)).resize((96, 72))  # blocky: survives re-encoding
    buf = io.BytesIO()
    save = {}
    if exif_time:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = exif_time
        save["exif"] = exif.tobytes()
    img.save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


@dataclass
class People:
    reviewer: object
    finance: object
    finance2: object
    admin: object
    handler: object


@pytest.fixture(autouse=True)
def no_ocr_by_default(app, monkeypatch):
    """OCR costs about a second a photo; the tests that are about it switch it back on."""
    monkeypatch.setitem(app.config, "LITTERING_OCR_ENABLED", False)


@pytest.fixture
def people(city, make_staff) -> People:
    """A reviewer, two finance accounts, an admin and a district handler."""
    return People(
        reviewer=make_staff("reviewer", roles=(Role.REVIEWER,)),
        finance=make_staff("finance", roles=(Role.FINANCE,)),
        finance2=make_staff("finance2", roles=(Role.FINANCE,)),
        admin=make_staff("admin", roles=(Role.ADMIN,)),
        handler=make_staff("handler_w", roles=(Role.HANDLER,), department=city.west),
    )


@pytest.fixture
def rule(city):
    """The current rule, with no caps or budget unless a test sets them."""
    current = rules.current_rule()
    for name in (
        "cap_day_count",
        "cap_day_fen",
        "cap_month_count",
        "cap_month_fen",
        "cap_year_count",
        "cap_year_fen",
        "budget_fen",
    ):
        setattr(current, name, None)
    current.reward_fen = 5000
    return current


@pytest.fixture
def upload():
    """Factory: evidence photos stored for an owner; returns their public ids."""
    counter = iter(range(10_000))

    def make(owner, n: int = 2, *, exif_time: str | None = None) -> list[str]:
        return [
            media_service.store_upload(
                evidence_jpeg(next(counter) + owner.id * 100, exif_time), owner
            ).public_id
            for _ in range(n)
        ]

    return make


def ago(**kwargs) -> str:
    """An ISO time in the past (UTC)."""
    return (datetime.now(UTC) - timedelta(**kwargs)).isoformat()


@pytest.fixture
def submit(client, auth_header, upload):
    """Factory: a citizen files a report through the API; returns the response."""

    def make(citizen, *, key: str | None = None, photos: list[str] | None = None, **fields):
        body = {
            "plate": "辽A12345",
            "plate_colour": "blue",
            "occurred_at": ago(minutes=30),
            "lat": INSIDE_WEST[0],
            "lng": INSIDE_WEST[1],
            "coord_sys": "gcj02",
            "media": photos if photos is not None else upload(citizen),
        } | fields
        headers = auth_header(citizen) | {"Idempotency-Key": key or uuid.uuid4().hex}
        return client.post("/api/v1/littering/reports", json=body, headers=headers)

    return make


@pytest.fixture
def review(client, auth_header):
    """Factory: a reviewer decides a report through the API; returns the response."""

    def make(staff, number: str, decision: str = "valid", **fields):
        return client.post(
            f"/api/v1/staff/littering/reports/{number}/review",
            json={"decision": decision} | fields,
            headers=auth_header(staff),
        )

    return make
