"""Open311 tests: the test city (tests/reports/conftest.py) with the shipped follow-up questions,
an admin, a client and its key; the GeoReport v2 XSD to validate every XML answer with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select, update

from app.auth.models import Role, StaffUser
from app.extensions import db
from reports import questions
from reports.models import Category
from reports.open311 import service
from reports.open311.models import Open311Client

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("georeport_v2.xsd"))))
# 铁西 in the test city's west district (GCJ-02 41.80, 123.35), as a phone's GPS gives it.
WGS84_WEST = (41.797616, 123.343964)
CODE = "BJ0101"  # 上水井盖: its questions ask whether the cover is missing (required, urgent if 是)


def valid_xml(data: bytes) -> etree._Element:
    """The parsed document, after checking it against the GeoReport v2 XSD."""
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>") or data.startswith(
        b'<?xml version="1.0" encoding="utf-8"?>'
    ), data[:60]
    doc = etree.fromstring(data)
    assert XSD.validate(doc), XSD.error_log
    return doc


def add_questions() -> None:
    """The shipped follow-up questions on the test city's categories."""
    for code, items in questions.load_seed().items():
        db.session.execute(update(Category).where(Category.code == code).values(questions=items))


@dataclass
class Open311City:
    admin: StaffUser
    client: Open311Client
    key: str


@pytest.fixture
def o311(city, make_staff) -> Open311City:
    """The test city, its questions, an admin and a client with its key."""
    add_questions()
    admin = make_staff("o311_admin", roles=(Role.ADMIN,))
    client, key = service.create_client(
        {"name": "测试应用", "rate_count": 100, "rate_period": "minute"}, admin
    )
    db.session.flush()
    return Open311City(admin, client, key)


def form(key: str, **extra) -> dict[str, str]:
    """A valid POST requests form: the cover missing, a point in the west district."""
    lat, lng = WGS84_WEST
    return {"api_key": key, "service_code": CODE, "lat": str(lat), "long": str(lng),
            "description": "人行道上的上水井盖不见了，井口敞开", "attribute[missing]": "是",
            "jurisdiction_id": "zhcg"} | extra  # fmt: skip


def client_row(name: str) -> Open311Client:
    return db.session.scalar(select(Open311Client).where(Open311Client.name == name))
