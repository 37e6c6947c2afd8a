"""Who may call comes before what the body says: on these writes the role check is the outermost
decorator, so an anonymous caller hears 401 and a wrong-role one 403, not a 422 listing the body's
field errors (which told a stranger the shape of a staff-only body). The spec still documents
each body and its responses (tests/test_openapi_conformance.py)."""

from __future__ import annotations

import pytest

from app.auth.models import Role

BAD = {"rating": 99, "department_id": 0, "channel": "nope", "entry_ids": [], "unknown": 1}
ROUTES = [
    ("/api/v1/reports/R0000000001/rating", "citizen"),
    ("/api/v1/staff/reports/R0000000001/actions/register", "staff"),
    ("/api/v1/staff/rewards/1/cancel", "finance"),
    ("/api/v1/staff/rewards/1/retry", "finance"),
    ("/api/v1/staff/rewards/batches", "finance"),
    ("/api/v1/staff/rewards/payouts/P0001/offline", "finance"),
]


def code_of(resp, status: int) -> str:
    assert resp.status_code == status, resp.get_data(as_text=True)
    return resp.get_json()["error"]["code"]


@pytest.mark.parametrize(("url", "who"), ROUTES)
def test_anonymous_is_401_before_the_body_is_read(client, url, who):
    assert code_of(client.post(url, json=BAD), 401) == "unauthorized"


@pytest.mark.parametrize(("url", "who"), [r for r in ROUTES if r[1] != "citizen"])
def test_a_citizen_on_a_staff_write_is_403_before_the_body_is_read(
    client, make_citizen, auth_header, url, who
):
    resp = client.post(url, json=BAD, headers=auth_header(make_citizen()))
    assert code_of(resp, 403) == "staff_only"


@pytest.mark.parametrize(("url", "who"), [r for r in ROUTES if r[1] == "finance"])
def test_staff_without_the_finance_role_is_403_before_the_body_is_read(
    client, make_staff, auth_header, url, who
):
    reviewer = make_staff("reviewer", roles=(Role.REVIEWER, Role.DISPATCHER))
    assert code_of(client.post(url, json=BAD, headers=auth_header(reviewer)), 403) == "forbidden"


def test_staff_rating_a_report_is_refused_before_the_body_is_read(client, make_staff, auth_header):
    """Rating is a citizen's: a staff token is refused as such (which of 401 and 403 is the
    business of app.auth.current), never with the body's field errors."""
    resp = client.post(ROUTES[0][0], json=BAD, headers=auth_header(make_staff()))
    assert resp.status_code in (401, 403) and "fields" not in resp.get_json()["error"]


@pytest.mark.parametrize(("url", "who"), ROUTES)
def test_the_right_caller_still_gets_the_field_errors(
    client, make_citizen, make_staff, auth_header, url, who
):
    roles = {"staff": (Role.DISPATCHER,), "finance": (Role.FINANCE,)}
    caller = make_citizen() if who == "citizen" else make_staff("caller", roles=roles[who])
    resp = client.post(url, json=BAD, headers=auth_header(caller))
    assert code_of(resp, 422) == "validation_failed"
    assert "unknown" in resp.get_json()["error"]["fields"]
