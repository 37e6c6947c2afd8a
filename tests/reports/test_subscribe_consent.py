"""Opting in to updates: the mini-program's subscribe prompt (each "accept" lets one message
through, kept for the case's result), the public account (template messages, no count), and
followers of a case (我也遇到了) hearing of it too."""

from __future__ import annotations

import contextlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier, BrokenBarrierError

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import WechatApp, WechatIdentity
from app.extensions import db
from reports.models import OutboxMessage, OutboxStatus
from reports.notify import deliver_due
from tests.conftest import committed_app
from tests.reports.test_notify import NOTHING, consent, emulator_messages, outbox
from tests.reports.test_races import served
from tests.reports.test_workflow import act, submit
from wechat.models import SubscribeGrant

TEMPLATE = "emulator-subscribe-report-progress"
N = 10


def close(client, city, auth_header, photo, number):
    handler = auth_header(city.west_handler)
    assert act(client, handler, number, "accept").status_code == 200
    done = act(
        client,
        handler,
        number,
        "feedback",
        note="已更换井盖",
        public_reply="已更换新井盖，路面恢复通行",
        photos=[photo(city.west_handler, (20, 200, 20))],
    )
    assert done.status_code == 200, done.get_json()
    closed = act(client, auth_header(city.inspector), number, "verify_pass", note="核查合格")
    assert closed.get_json()["state"] == "closed"


def test_the_options_say_plainly_what_each_choice_gives(client, make_citizen, auth_header):
    citizen = make_citizen("o-options")
    resp = client.get("/api/v1/notifications/options", headers=auth_header(citizen))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["miniprogram"]["template_ids"] == [TEMPLATE]
    assert body["miniprogram"]["remaining"] == 0 and body["miniprogram"]["long_term"] is False
    assert "办结时会在微信里通知您" in body["miniprogram"]["explain"]
    assert body["public_account"]["name"] == "沈阳智慧城管"
    assert body["public_account"]["follow_url"].endswith("/_wechat/follow")
    assert "关注公众号“沈阳智慧城管”" in body["public_account"]["explain"]
    assert "我的上报" in body["always"]
    assert client.get("/api/v1/notifications/options").status_code == 401


def test_one_consent_is_kept_for_the_result(app, client, city, make_citizen, auth_header, photo):
    """Accepted once: 已派遣 is not sent (it would use the only message), 已结案 is."""
    citizen = make_citizen("o-once")
    consent(client, auth_header(citizen), 1)
    number = submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103").get_json()[
        "number"
    ]
    assert deliver_due() == NOTHING | {"skipped": 1}
    (skipped,) = outbox()
    assert skipped.status == OutboxStatus.SKIPPED
    assert skipped.last_error.startswith("未订阅")
    close(client, city, auth_header, photo, number)
    counts = deliver_due()
    assert counts["sent"] == 1 and counts["failed"] == 0
    sent = emulator_messages(app, "o-once")
    assert [m["data"]["phrase2"]["value"] for m in sent] == ["已结案"]
    left = client.get("/api/v1/notifications/options", headers=auth_header(citizen)).get_json()
    assert left["miniprogram"]["remaining"] == 0


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A committed database (a migrated SQLite file, or MariaDB under TEST_DATABASE_URL) and a
    citizen's token: parallel requests really commit."""
    app = committed_app(live_db_url, tmp_path)
    with app.app_context():
        citizen, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], "o-consent-race"
        )
        token = auth_service.issue_token(user=citizen)[0]
        db.session.commit()
    yield from served(app, token)


def test_a_retried_prompt_result_counts_once(live):
    """Ten parallel posts of one prompt's result (same Idempotency-Key): one grant, no 5xx."""
    app, headers = live
    headers = headers | {"Idempotency-Key": "prompt-retried"}
    barrier = Barrier(N)

    def post(_):
        with contextlib.suppress(BrokenBarrierError):
            barrier.wait(timeout=3)
        return app.test_client().post(
            "/api/v1/notifications/subscribe",
            headers=headers,
            json={
                "results": {TEMPLATE: "accept", "other-tmpl": "accept"},
                "report": "20261202-000001",
            },
        )

    with ThreadPoolExecutor(N) as pool:
        results = list(pool.map(post, range(N)))
    assert Counter(r.status_code for r in results) == {200: N}, [r.get_json() for r in results]
    assert {r.get_json()["miniprogram"]["remaining"] for r in results} == {1}
    with app.app_context():
        grants = list(db.session.scalars(select(SubscribeGrant)))
        assert [(g.template_id, g.report_number) for g in grants] == [(TEMPLATE, "20261202-000001")]


def test_refusals_and_bad_results_keep_nothing(client, make_citizen, auth_header):
    citizen = make_citizen("o-refuse")
    headers = auth_header(citizen) | {"Idempotency-Key": "prompt-refused"}
    resp = client.post(
        "/api/v1/notifications/subscribe", json={"results": {TEMPLATE: "reject"}}, headers=headers
    )
    assert resp.status_code == 200 and resp.get_json()["miniprogram"]["remaining"] == 0
    bad = client.post(
        "/api/v1/notifications/subscribe", json={"results": {TEMPLATE: "maybe"}}, headers=headers
    )
    assert bad.status_code == 422
    assert "未知的订阅结果" in str(bad.get_json()["error"]["fields"]["results"])
    no_key = client.post(
        "/api/v1/notifications/subscribe",
        json={"results": {TEMPLATE: "accept"}},
        headers=auth_header(citizen),
    )
    assert no_key.status_code == 422
    assert no_key.get_json()["error"]["fields"] == {
        "Idempotency-Key": ["请为每次订阅结果提供唯一的请求标识"]
    }
    assert db.session.scalar(select(func.count()).select_from(SubscribeGrant)) == 0


def test_long_term_subscriptions_need_no_count(app, client, city, make_citizen, auth_header, photo):
    app.config["WECHAT_SUBSCRIBE_LONG_TERM"] = True
    try:
        citizen = make_citizen("o-longterm")
        submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103")
        assert deliver_due()["sent"] == 1
        options = client.get("/api/v1/notifications/options", headers=auth_header(citizen))
        assert options.get_json()["miniprogram"]["remaining"] is None
    finally:
        app.config["WECHAT_SUBSCRIBE_LONG_TERM"] = False


def test_a_public_account_citizen_gets_template_messages(
    app, client, city, make_citizen, auth_header, photo
):
    citizen = make_citizen("o-h5-only")
    identity = db.session.scalar(select(WechatIdentity).where(WechatIdentity.user_id == citizen.id))
    identity.app_kind = WechatApp.MP
    db.session.flush()
    submit(client, auth_header(citizen), [photo(citizen)], category="BJ0103")
    assert deliver_due()["sent"] == 1
    (sent,) = emulator_messages(app, "o-h5-only")
    assert sent["template_id"] == app.config["WECHAT_MP_TEMPLATE_ID"]


def test_followers_hear_of_the_case_too(app, client, city, make_citizen, auth_header, photo):
    reporter, neighbour = make_citizen("o-reporter"), make_citizen("o-neighbour")
    for who in (reporter, neighbour):
        consent(client, auth_header(who), 1)
    number = submit(client, auth_header(reporter), [photo(reporter)], category="BJ0103").get_json()[
        "number"
    ]
    follow = client.post(f"/api/v1/reports/{number}/follow", headers=auth_header(neighbour))
    assert follow.status_code in (200, 201), follow.get_json()
    close(client, city, auth_header, photo, number)
    deliver_due()
    for openid in ("o-reporter", "o-neighbour"):
        assert [m["data"]["phrase2"]["value"] for m in emulator_messages(app, openid)] == ["已结案"]
    finals = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)
    )
    assert len(list(finals)) == 2


def test_the_emulators_follow_page_says_what_following_gives(client):
    page = client.get("/_wechat/follow")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "关注公众号" in text and "受理、派遣、办结" in text
