"""Fixtures shared by the nearby-services tests: the facility kinds and the Shenyang regions."""

from __future__ import annotations

import pytest

from app.extensions import db
from services_nearby.models import FacilityKind
from services_nearby.service import seed_kinds


@pytest.fixture
def kinds(db_session) -> dict[str, FacilityKind]:
    """The kinds of services_nearby/data/kinds.csv, by code."""
    seed_kinds()
    return {k.code: k for k in db.session.query(FacilityKind)}


@pytest.fixture
def shenyang_regions(db_session) -> None:
    """The demo departments, the real Shenyang city and district polygons, synthetic streets."""
    from reports.seed import seed_demo_departments, seed_demo_regions

    seed_demo_departments()
    seed_demo_regions()


@pytest.fixture
def make_facility(kinds):
    """Add a facility through the ORM (as staff edits do): kind code, WGS-84 point by default."""
    from services_nearby import service
    from services_nearby.models import Facility

    def make(kind="toilet", lat=41.7930, lng=123.4080, coord_sys="wgs84", name=None, **fields):
        facility = Facility(kind_id=kinds[kind].id, name=name or f"{kinds[kind].name}{lat:.4f}",
                            **fields)  # fmt: skip
        service.place(facility, service.point(lat, lng, coord_sys), coord_sys, None)
        db.session.add(facility)
        db.session.flush()
        return facility

    return make


@pytest.fixture
def make_feed(db_session):
    """Factory: a free-space feed and its bearer key (as ``flask nearby create-feed`` makes)."""
    from services_nearby.feed import create_feed

    def make(name: str = "城区停车系统"):
        return create_feed(name)

    return make


@pytest.fixture
def admin(make_staff):
    """A city-wide admin account."""
    from app.auth.models import Role

    return make_staff("nearby-admin", roles=(Role.ADMIN,))
