"""Shared fixtures of the staff console page tests.

Staff sign in through the real login form (``/console/login``) with its CSRF token, as a browser
does; ``console_login(client, username)`` returns the CSRF token of the signed-in session (read
from the console layout's ``<meta name="csrf-token">``) for JSON writes with ``X-CSRFToken``.

The reference-data fixtures of the reports tests (``city``: categories, two districts with their
departments, a dispatcher, two handlers and an inspector; ``photo``) are re-exported here, so
console tests can create cases the same way the report tests do.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from tests.conftest import TEST_PASSWORD
from tests.reports.conftest import City, city, photo  # noqa: F401  (fixtures re-exported)

__all__ = ["City", "csrf_from", "login_as"]


def csrf_from(html: str) -> str:
    """The CSRF token of a page: the login form's hidden field or the layout's meta tag."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def login_as(client: FlaskClient, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign ``username`` in through the login form; returns the session's CSRF token."""
    token = csrf_from(client.get("/console/login").get_data(as_text=True))
    resp = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_from(client.get("/console/").get_data(as_text=True))


@pytest.fixture
def console_login():
    """``console_login(client, username, password=TEST_PASSWORD) -> csrf token``: sign a staff
    account (made with ``make_staff``) in through the console login form."""
    return login_as
