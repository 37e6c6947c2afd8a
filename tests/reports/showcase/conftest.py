"""A small city for 文明行为展示 tests: two districts (each with its bureau), reviewers (one
city-wide, one for the west district), a dispatcher, a handler, citizens, and helpers that go
through the HTTP API as the mini-program and the console do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.auth.models import Department, Role, StaffUser, User
from app.extensions import db
from app.geo.models import Region
from app.media import privacy
from app.media import service as media_service
from tests.reports.conftest import EAST, WEST, jpeg_bytes, square

POSTS = "/api/v1/showcase/posts"
STAFF_POSTS = "/api/v1/staff/showcase/posts"


@dataclass
class Town:
    west: Department
    east: Department
    reviewer: StaffUser
    west_reviewer: StaffUser
    dispatcher: StaffUser
    handler: StaffUser


def add_districts(make_department) -> tuple[Department, Department]:
    """测试一区 (T-W) and 测试二区 (T-E), each answered for by its own bureau."""
    bureau = make_department("T", "测试市城管局")
    depts = []
    for code, name, box in (("T-W", "测试一区", WEST), ("T-E", "测试二区", EAST)):
        dept = make_department(code, f"{name}城管局", parent=bureau, kind="district")
        lat1, lng1, lat2, lng2 = box
        db.session.add(
            Region(
                code=code,
                name=name,
                level="district",
                department=dept,
                geometry=square(box),
                min_lat=lat1,
                min_lng=lng1,
                max_lat=lat2,
                max_lng=lng2,
                area_m2=1.0,
                source="test",
            )
        )
        depts.append(dept)
    db.session.flush()
    return depts[0], depts[1]


@pytest.fixture
def town(db_session, make_department, make_staff) -> Town:
    west, east = add_districts(make_department)
    return Town(
        west,
        east,
        reviewer=make_staff("sc_reviewer", roles=(Role.REVIEWER,)),
        west_reviewer=make_staff("sc_west_reviewer", roles=(Role.REVIEWER,), department=west),
        dispatcher=make_staff("sc_dispatcher", roles=(Role.DISPATCHER,)),
        handler=make_staff("sc_handler", roles=(Role.HANDLER,)),
    )


@pytest.fixture
def citizen(make_citizen) -> Callable[..., User]:
    """Factory: a citizen with a nickname (a fresh openid each time)."""
    made = []

    def make(nickname: str | None = "张三丰") -> User:
        user = make_citizen(f"o-showcase-{len(made)}")
        user.nickname, user.phone = nickname, "13812345678"
        made.append(user)
        db.session.flush()
        return user

    return make


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """The public ids ``app.media.privacy.publish`` was called with; public URLs are marked
    ``#public`` so a test sees which copy a view links to."""
    calls: list[str] = []
    monkeypatch.setattr(privacy, "publish", lambda media: calls.append(media.public_id))
    monkeypatch.setattr(privacy, "public_url", lambda media: f"/public/{media.public_id}#public")
    return calls


@pytest.fixture
def api(client, auth_header):
    """``api(method, url, who, **kwargs)``: a request as a citizen or staff account (bearer)."""

    def call(method: str, url: str, who: Any = None, **kwargs):
        headers = kwargs.pop("headers", {}) | (auth_header(who) if who is not None else {})
        return client.open(url, method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def post_as(api):
    """``post_as(citizen, text, photos=1, district=None, key=None) -> response``: upload photos
    and post them."""

    def make(
        user: User,
        text: str = "路口车辆礼让行人",
        photos: int = 1,
        district: str | None = None,
        key: str | None = None,
    ):
        ids = [
            media_service.store_upload(jpeg_bytes((10 * i, 80, 120)), user).public_id
            for i in range(photos)
        ]
        body = {"text": text, "photos": ids} | ({"district": district} if district else {})
        headers = {"Idempotency-Key": key} if key else {}
        return api("POST", POSTS, user, json=body, headers=headers)

    return make


@pytest.fixture
def approved(api, post_as, town):
    """``approved(citizen, text, **kw) -> post id``: posted and approved by the reviewer."""

    def make(user: User, text: str = "路口车辆礼让行人", **kwargs) -> int:
        resp = post_as(user, text, **kwargs)
        assert resp.status_code == 201, resp.get_json()
        post_id = resp.get_json()["id"]
        done = api("POST", f"{STAFF_POSTS}/{post_id}/approve", town.reviewer, json={})
        assert done.status_code == 200, done.get_json()
        return post_id

    return make
