"""Citizens signed in on the H5 pages, and their reports moved along the workflow by staff."""

from __future__ import annotations

import pytest

from reports import service, transitions
from reports.models import Channel, Report
from tests.reports.conftest import INSIDE_WEST, city, photo  # noqa: F401  (fixtures used here)
from tests.shops.conftest import industries, make_shop  # noqa: F401

COVER = "测试一区小北一路一处雨水井盖严重破损，车辆经过很危险"


@pytest.fixture
def citizen(make_citizen):
    return make_citizen("o-h5-reporter")


@pytest.fixture
def sign_in(client):
    """Sign a citizen into the test client's H5 session, as the OAuth callback does."""

    def do(user) -> None:
        with client.session_transaction() as sess:
            sess["citizen_id"] = user.id

    return do


@pytest.fixture
def make_report(city, photo):  # noqa: F811
    """Factory: a report submitted by ``citizen`` with one photo (dispatched to 测试一区城管局)."""

    def make(citizen, description: str = COVER, **extra) -> Report:
        sub = service.Submission(description=description, channel=Channel.MP_H5,
                                 lat=INSIDE_WEST[0], lng=INSIDE_WEST[1], category_code="BJ0103",
                                 photo_ids=[photo(citizen)], **extra)  # fmt: skip
        report, _ = service.submit_report(sub, owner_key=f"user:{citizen.id}", citizen=citizen)
        return report

    return make


@pytest.fixture
def close_report(city, photo):  # noqa: F811
    """Handle a dispatched report (with an after photo), verify it and close it."""

    def close(report: Report) -> Report:
        handler, params = city.west_handler, transitions.Params
        transitions.transition(report, "accept", handler, params())
        after = photo(handler, (20, 200, 20))
        done = params("已更换新井盖", photo_ids=[after], public_reply="井盖已修复，路面恢复通行")
        transitions.transition(report, "feedback", handler, done)
        transitions.transition(report, "verify_pass", city.inspector, params("现场核查合格"))
        return report

    return close
