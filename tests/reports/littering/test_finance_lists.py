"""The finance lists filter by their own states: rewards by a reward's state (EntryArgs),
payouts by a transfer's state (PayoutArgs). A state of the other list was a 500 (ValueError from
the other enum); it is a 422 naming ``state``, and the spec lists only each list's own states."""

from __future__ import annotations

import pytest

from reports.littering.models import EntryState, PayoutState

REWARDS, PAYOUTS = "/api/v1/staff/rewards", "/api/v1/staff/rewards/payouts"


def listed(client, headers, url: str, state: str | None) -> dict:
    resp = client.get(url, query_string={"state": state} if state else {}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


@pytest.mark.parametrize(
    ("url", "state", "message"),
    [(REWARDS, "pending", "未知的奖励状态"), (REWARDS, "failed", "未知的奖励状态"),
     (REWARDS, "foo", "未知的奖励状态"), (PAYOUTS, "paid", "未知的发放状态"),
     (PAYOUTS, "accrued", "未知的发放状态"), (PAYOUTS, "foo", "未知的发放状态")],
)  # fmt: skip
def test_a_state_of_the_other_list_is_422(client, auth_header, people, url, state, message):
    resp = client.get(url, query_string={"state": state}, headers=auth_header(people.finance))
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed" and error["fields"] == {"state": [message]}


def test_each_list_filters_by_its_own_states(
    client, auth_header, people, rule, make_citizen, submit, review, pay_config
):
    finance = auth_header(people.finance)
    for i in range(3):
        number = submit(make_citizen(f"o-lists-{i}"), plate=f"辽K{i:05d}").json["number"]
        assert review(people.reviewer, number).json["state"] == "valid"
    accrued = [e["id"] for e in listed(client, finance, REWARDS, "accrued")["items"]]
    assert len(accrued) == 3
    batch = client.post(f"{REWARDS}/batches", json={"entry_ids": accrued[:2]}, headers=finance)
    assert batch.status_code == 201, batch.get_json()
    released = client.post(f"{REWARDS}/batches/{batch.get_json()['number']}/release",
                           headers=auth_header(people.finance2))  # fmt: skip
    assert released.status_code == 200, released.get_json()

    waiting = listed(client, finance, REWARDS, EntryState.ACCRUED.value)
    assert [e["id"] for e in waiting["items"]] == accrued[2:] and waiting["total"] == 1
    paying = listed(client, finance, REWARDS, EntryState.IN_PAYOUT.value)
    assert sorted(e["id"] for e in paying["items"]) == sorted(accrued[:2])
    assert listed(client, finance, REWARDS, EntryState.PAID.value)["total"] == 0

    every = listed(client, finance, PAYOUTS, None)
    assert every["total"] == 2
    [state] = {p["state"] for p in every["items"]}
    same = listed(client, finance, PAYOUTS, state)
    assert sorted(p["entry_id"] for p in same["items"]) == sorted(accrued[:2])
    other = next(s for s in PayoutState if s.value != state)
    assert listed(client, finance, PAYOUTS, other.value) == {"items": [], "total": 0}
