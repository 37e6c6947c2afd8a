"""Project consultations on the test city (tests/reports/conftest.py: two districts, their
departments and staff): a published pocket park in 测试一区 with a needs survey and a design vote
open now and a satisfaction survey to come, made through the staff API as staff make it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.reports.conftest import INSIDE_WEST

STAFF_API = "/api/v1/staff/consultations"
API = "/api/v1/consultations"
NEEDS = [
    {
        "kind": "multiple",
        "title": "您最希望增加哪些设施？",
        "options": ["座椅", "健身器材", "照明"],
        "max_choices": 2,
    },
    {"kind": "single", "title": "您多久来一次？", "options": ["每天", "每周", "很少"]},
    {"kind": "text", "title": "其他建议", "required": False},
]
VOTE = [{"kind": "single", "title": "您支持哪个方案？", "options": ["方案一", "方案二"]}]
OUTCOME = [{"kind": "rating", "title": "总体满意度"}]


def when(days: float) -> str:
    """A local time (no offset, as the console sends it) ``days`` from now."""
    at = datetime.now(UTC) + timedelta(days=days) + timedelta(hours=8)
    return at.replace(tzinfo=None).isoformat(timespec="seconds")


def phase_body(questions: list[dict], start: float = -1, end: float = 10, **flags: Any) -> dict:
    return {"opens_at": when(start), "closes_at": when(end), "questions": questions} | flags


@dataclass
class Park:
    id: int
    code: str

    def phase(self, kind: str) -> str:
        return f"{API}/projects/{self.code}/phases/{kind}"


def make_project(
    client, headers, department_id: int, *, publish: bool = True, **fields: Any
) -> Park:
    """A project with its three phases through the staff API (published unless told)."""
    body = {
        "name": "测试口袋公园改造",
        "kind": "pocket_park",
        "description": "闲置空地建口袋公园",
        "lat": INSIDE_WEST[0],
        "lng": INSIDE_WEST[1],
        "department_id": department_id,
        "address": "测试一区某路",
    } | fields
    resp = client.post(f"{STAFF_API}/projects", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    park = Park(resp.get_json()["id"], resp.get_json()["code"])
    for kind, body in (
        ("needs", phase_body(NEEDS)),
        ("proposals", phase_body(VOTE, allow_proposals=True)),
        ("outcome", phase_body(OUTCOME, 30, 60)),
    ):
        resp = client.put(
            f"{STAFF_API}/projects/{park.id}/phases/{kind}", json=body, headers=headers
        )
        assert resp.status_code == 201, resp.get_json()
    if publish:
        resp = client.post(f"{STAFF_API}/projects/{park.id}/publish", headers=headers)
        assert resp.status_code == 200, resp.get_json()
    return park


@pytest.fixture
def park(client, city, auth_header) -> Park:
    """The published pocket park of 测试一区 (its district bureau answers for it)."""
    return make_project(client, auth_header(city.dispatcher), city.west.id)
