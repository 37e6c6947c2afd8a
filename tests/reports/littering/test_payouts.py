"""Payouts: four eyes, WeChat Pay transfers through the emulator over HTTP, callbacks, expiry,
faults, offline payments, and the ledger check."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from reports.littering import ledger, worker
from reports.littering.models import EntryState, Payout, PayoutFlag, PayoutState, RewardEntry
from reports.littering.rules import local
from reports.models import OutboxMessage
from wechat.pay import TransferClient


@pytest.fixture
def valid_reports(make_citizen, people, rule, submit, review):
    """Factory: n citizens each with one valid (rewarded) report; returns the citizens."""

    def make(n: int = 1, prefix: str = "o-pay"):
        citizens = []
        for i in range(n):
            citizen = make_citizen(f"{prefix}-{i}")
            number = submit(citizen, plate=f"辽K{i:05d}").json["number"]
            assert review(people.reviewer, number).json["state"] == "valid"
            citizens.append(citizen)
        return citizens

    return make


def prepare(client, auth_header, staff, **body):
    return client.post("/api/v1/staff/rewards/batches", json=body, headers=auth_header(staff))


def release(client, auth_header, staff, number):
    return client.post(
        f"/api/v1/staff/rewards/batches/{number}/release", headers=auth_header(staff)
    )


def prepare_and_release(client, auth_header, people, **body):
    """One finance account prepares every accrued reward; the other releases the batch."""
    number = prepare(client, auth_header, people.finance, **body).json["number"]
    return release(client, auth_header, people.finance2, number).json


def deliver(client, pay_emulator, receiver) -> list[int]:
    """Let the emulator deliver its callbacks, then hand each to our endpoint as WeChat would."""
    pay_emulator.deliver_callbacks()
    statuses = []
    for item in receiver.deliveries:
        headers = {k: v for k, v in item["headers"].items() if k.lower().startswith("wechatpay")}
        resp = client.post(
            "/wechat/pay/transfer-notify",
            data=item["body"],
            headers=headers,
            content_type="application/json",
        )
        statuses.append(resp.status_code)
    receiver.deliveries.clear()
    return statuses


def test_four_eyes(valid_reports, people, client, auth_header, pay_config):
    valid_reports(2)
    assert prepare(client, auth_header, people.handler).status_code == 403
    assert prepare(client, auth_header, people.reviewer).status_code == 403
    batch = prepare(client, auth_header, people.finance)
    assert batch.status_code == 201 and batch.json["count"] == 2
    assert batch.json["total_yuan"] == "100" and batch.json["state_label"] == "待放行"
    own = release(client, auth_header, people.finance, batch.json["number"])
    assert own.status_code == 403 and own.json["error"]["code"] == "four_eyes"
    assert release(client, auth_header, people.reviewer, batch.json["number"]).status_code == 403
    done = release(client, auth_header, people.finance2, batch.json["number"])
    assert done.status_code == 200 and done.json["state_label"] == "已放行"
    assert done.json["released_by"] == people.finance2.display_name
    states = {e["state"] for e in done.json["entries"]}
    assert states == {"in_payout"}
    nothing = prepare(client, auth_header, people.finance)
    assert nothing.status_code == 409 and nothing.json["error"]["code"] == "nothing_to_pay"
    assert ledger.check().ok


def test_admin_may_release_what_finance_prepared(
    valid_reports, people, client, auth_header, pay_config
):
    valid_reports(1)
    number = prepare(client, auth_header, people.finance).json["number"]
    assert release(client, auth_header, people.admin, number).status_code == 200


def test_paid_through_wechat_end_to_end(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator, receiver
):
    [citizen] = valid_reports(1)
    number = prepare(client, auth_header, people.finance).json["number"]
    release(client, auth_header, people.finance2, number)
    counts = worker.run_once(pay=pay_client)
    assert counts["moved"] == 1, (counts, db.session.scalars(select(Payout)).all()[0].last_error)
    mine = client.get("/api/v1/littering/reports", headers=auth_header(citizen)).json["items"][0]
    assert mine["status_label"] == "奖励待领取"
    confirm = mine["reward"]["confirm"]
    assert confirm["mchId"] == pay_config["WECHATPAY_MCHID"] and confirm["package"]
    assert confirm["appId"] == pay_config["WECHATPAY_APPID"]
    pay_emulator.confirm(package=confirm["package"])
    assert deliver(client, pay_emulator, receiver) == [204]
    db.session.expire_all()
    mine = client.get("/api/v1/littering/reports", headers=auth_header(citizen)).json
    assert mine["items"][0]["status_label"] == "已到账"
    assert mine["rewards"]["paid_yuan"] == "50"
    texts = [m.payload["text"] for m in db.session.scalars(select(OutboxMessage))]
    assert any("待领取" in t for t in texts) and any("已到账" in t for t in texts)
    assert ledger.check().ok


def test_callback_replayed_and_out_of_order_is_applied_once(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator, receiver
):
    valid_reports(1)
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    payout = db.session.scalar(select(Payout))
    pay_emulator.confirm(out_bill_no=payout.out_bill_no)
    pay_emulator.deliver_callbacks()
    [item] = receiver.deliveries
    headers = {k: v for k, v in item["headers"].items() if k.lower().startswith("wechatpay")}
    for _ in range(3):  # WeChat retries; our answer was lost, say
        resp = client.post(
            "/wechat/pay/transfer-notify",
            data=item["body"],
            headers=headers,
            content_type="application/json",
        )
        assert resp.status_code in (200, 204)
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.SUCCESS
    # A stale "still waiting" state arriving late never moves a paid payout back.
    row = pay_emulator.state.bill(payout.out_bill_no) | {"state": "WAIT_USER_CONFIRM"}
    body = pay_emulator.build_notification(row)
    resp = client.post(
        "/wechat/pay/transfer-notify",
        data=body,
        headers=pay_emulator.sign_headers(body),
        content_type="application/json",
    )
    assert resp.status_code in (200, 204)
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.SUCCESS
    assert db.session.scalar(select(RewardEntry.state)) == EntryState.PAID
    assert ledger.check().ok


def test_forged_stale_and_tampered_callbacks(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator
):
    valid_reports(1)
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    payout = db.session.scalar(select(Payout))
    success = pay_emulator.state.bill(payout.out_bill_no) | {"state": "SUCCESS"}
    body = pay_emulator.build_notification(success)

    def post(data, headers):
        return client.post(
            "/wechat/pay/transfer-notify",
            data=data,
            headers=headers,
            content_type="application/json",
        )

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    forged = post(body, pay_emulator.sign_headers(body, private_key_pem=other))
    stale = post(body, pay_emulator.sign_headers(body, timestamp=int(time.time()) - 3600))
    unknown_serial = post(body, pay_emulator.sign_headers(body, serial="PUB_KEY_ID_NOT_OURS"))
    tampered = body.replace(b'"id":"', b'"id":"x')
    edited = post(tampered, pay_emulator.sign_headers(body))
    for resp in (forged, stale, unknown_serial, edited):
        assert resp.status_code == 401 and resp.json["code"] == "SIGN_ERROR"
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.WAIT_CONFIRM
    # Correctly signed, but the amount is not what the ledger owes: flagged, never applied.
    wrong = pay_emulator.build_notification(success | {"transfer_amount": 99999})
    assert post(wrong, pay_emulator.sign_headers(wrong)).status_code in (200, 204)
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.WAIT_CONFIRM
    flag = db.session.scalar(select(PayoutFlag))
    assert flag.kind == "amount_mismatch" and flag.detail["wechat_amount"] == 99999
    assert ledger.check().ok


def test_unconfirmed_for_24h_returns_to_be_paid_again(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator, receiver
):
    [citizen] = valid_reports(1)
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    first = db.session.scalar(select(Payout))
    pay_emulator.advance_clock(24 * 3600 + 60)
    deliver(client, pay_emulator, receiver)
    db.session.expire_all()
    first = db.session.get(Payout, first.id)
    assert first.state == PayoutState.FAILED and first.wechat_state == "FAIL"
    entry = db.session.scalar(select(RewardEntry))
    assert entry.state == EntryState.APPROVED
    texts = [m.payload["text"] for m in db.session.scalars(select(OutboxMessage))]
    assert any("24小时内确认收款" in t and "退回" in t for t in texts), texts
    again = client.post(
        f"/api/v1/staff/rewards/{entry.id}/retry", headers=auth_header(people.finance)
    )
    assert again.status_code == 201, again.json
    assert again.json["out_bill_no"] != first.out_bill_no and again.json["previous"]
    twice = client.post(
        f"/api/v1/staff/rewards/{entry.id}/retry", headers=auth_header(people.finance)
    )
    assert twice.status_code == 409
    assert ledger.check().ok


def test_poller_settles_a_bill_whose_callback_never_came(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator
):
    valid_reports(1)
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    payout = db.session.scalar(select(Payout))
    pay_emulator.confirm(out_bill_no=payout.out_bill_no)  # no callback is delivered
    payout.next_attempt_at = payout.sent_at  # the half-hourly poll is due
    db.session.commit()
    assert worker.run_once(pay=pay_client)["success"] == 1
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.SUCCESS


@pytest.mark.parametrize("kind", ["timeout", "system_error", "http500"])
def test_unknown_outcome_is_queried_never_renumbered(
    kind,
    valid_reports,
    people,
    client,
    auth_header,
    pay_config,
    pay_client,
    pay_emulator,
    app,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "LITTERING_RETRY_SCALE", 0.0)
    valid_reports(1)
    prepare_and_release(client, auth_header, people)
    monkeypatch.setitem(app.config, "WECHATPAY_HTTP_TIMEOUT", 0.5)
    pay_client = TransferClient.from_config(app.config)
    pay_emulator.set_faults(1.0, [kind], seed=3, timeout_seconds=0.8)
    first = worker.run_once(pay=pay_client)
    assert first["unknown"] == 1, first
    payout = db.session.scalar(select(Payout))
    assert payout.needs_query and payout.state == PayoutState.PENDING
    pay_emulator.set_faults()
    for _ in range(3):
        worker.run_once(pay=pay_client)
    db.session.expire_all()
    payouts = db.session.scalars(select(Payout)).all()
    assert len(payouts) == 1 and payouts[0].state == PayoutState.WAIT_CONFIRM
    assert [b["out_bill_no"] for b in pay_emulator.bills()] == [payouts[0].out_bill_no]


@pytest.mark.parametrize("kind", ["frequency_limited", "not_enough"])
def test_refusals_are_sent_again_later_with_the_same_number(
    kind,
    valid_reports,
    people,
    client,
    auth_header,
    pay_config,
    pay_client,
    pay_emulator,
    app,
    monkeypatch,
):
    monkeypatch.setitem(app.config, "LITTERING_RETRY_SCALE", 0.0)
    valid_reports(1)
    prepare_and_release(client, auth_header, people)
    pay_emulator.set_faults(1.0, [kind], seed=1)
    assert worker.run_once(pay=pay_client)[kind] == 1
    payout = db.session.scalar(select(Payout))
    assert payout.state == PayoutState.PENDING and kind.upper() in payout.last_error
    pay_emulator.set_faults()
    worker.run_once(pay=pay_client)
    db.session.expire_all()
    assert db.session.get(Payout, payout.id).state == PayoutState.WAIT_CONFIRM
    assert len(pay_emulator.bills()) == 1


def test_offline_payment_with_four_eyes(
    valid_reports, people, client, auth_header, pay_config, upload
):
    [citizen] = valid_reports(1)
    batch = prepare(client, auth_header, people.finance, channel="offline").json
    assert batch["channel_label"] == "线下发放"
    assert release(client, auth_header, people.finance, batch["number"]).status_code == 403
    released = release(client, auth_header, people.finance2, batch["number"]).json
    out_bill_no = released["entries"][0]["payout"]["out_bill_no"]
    voucher = upload(people.finance, 1)[0]
    url = f"/api/v1/staff/rewards/payouts/{out_bill_no}/offline"
    missing = client.post(url, json={"reference": " "}, headers=auth_header(people.finance))
    assert missing.status_code == 422
    done = client.post(
        url,
        json={"reference": "ICBC-20261201-0001", "attachment": voucher},
        headers=auth_header(people.finance),
    )
    assert done.status_code == 200 and done.json["state_label"] == "已到账"
    mine = client.get("/api/v1/littering/reports", headers=auth_header(citizen)).json
    assert mine["items"][0]["status_label"] == "已到账"
    assert ledger.check().ok


def test_check_ledger_command_finds_a_double_payment(
    valid_reports, people, client, auth_header, pay_config, app
):
    valid_reports(1)
    batch = prepare(client, auth_header, people.finance, channel="offline").json
    released = release(client, auth_header, people.finance2, batch["number"]).json
    number = released["entries"][0]["payout"]["out_bill_no"]
    client.post(
        f"/api/v1/staff/rewards/payouts/{number}/offline",
        json={"reference": "R1"},
        headers=auth_header(people.finance),
    )
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["rewards", "check-ledger"])
    assert ok.exit_code == 0 and "ledger OK" in ok.output, ok.output
    paid = db.session.scalar(select(Payout))
    db.session.add(
        Payout(
            entry_id=paid.entry_id,
            batch_id=paid.batch_id,
            channel=paid.channel,
            out_bill_no="LTFORGED0001",
            amount_fen=paid.amount_fen,
            state=PayoutState.SUCCESS,
        )
    )
    db.session.commit()
    bad = runner.invoke(args=["rewards", "check-ledger"])
    assert bad.exit_code == 1
    assert "paid 2 times" in bad.output and "accrued 5000 fen != paid 10000" in bad.output


def test_reconcile_lists_differences(
    valid_reports, people, client, auth_header, pay_config, pay_client, pay_emulator, app
):
    valid_reports(2)
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    first = db.session.scalars(select(Payout).order_by(Payout.id)).first()
    pay_emulator.confirm(out_bill_no=first.out_bill_no)  # paid at WeChat, no callback yet
    day = local(utcnow()).date().isoformat()
    result = app.test_cli_runner().invoke(args=["rewards", "reconcile", "--date", day])
    assert result.exit_code == 0, result.output
    assert "2 bills checked, 1 differences" in result.output
    [line] = [json.loads(x) for x in result.output.splitlines()[1:]]
    assert line["out_bill_no"] == first.out_bill_no and line["wechat"] == "SUCCESS"
    page = client.get("/api/v1/staff/rewards/reconciliation", headers=auth_header(people.finance))
    assert page.json["items"][0]["differences"][0]["kind"] == "state_differs"


def test_public_account_citizen_is_paid_under_its_own_appid(
    people, rule, submit, review, client, auth_header, pay_config, pay_client, pay_emulator, app
):
    from app.auth import service as auth_service
    from app.auth.models import WechatApp

    h5_citizen, _ = auth_service.citizen_from_wechat(
        WechatApp.MP, app.config["WECHAT_MP_APP_ID"], "o-mp-only"
    )
    review(people.reviewer, submit(h5_citizen, plate="辽P00001").json["number"])
    prepare_and_release(client, auth_header, people)
    worker.run_once(pay=pay_client)
    payout = db.session.scalar(select(Payout))
    assert payout.appid == app.config["WECHAT_MP_APP_ID"] and payout.openid == "o-mp-only"
    assert pay_emulator.bill(payout.out_bill_no)["appid"] == app.config["WECHAT_MP_APP_ID"]
    mine = client.get("/api/v1/littering/reports", headers=auth_header(h5_citizen)).json
    assert mine["items"][0]["reward"]["confirm"]["appId"] == app.config["WECHAT_MP_APP_ID"]


def test_no_payable_wechat_account_is_left_to_offline(
    people, rule, submit, review, client, auth_header, pay_config, app, monkeypatch
):
    from app.auth import service as auth_service
    from app.auth.models import WechatApp

    monkeypatch.setitem(app.config, "WECHATPAY_H5_APPID", "")
    h5_citizen, _ = auth_service.citizen_from_wechat(
        WechatApp.MP, app.config["WECHAT_MP_APP_ID"], "o-mp-only-2"
    )
    review(people.reviewer, submit(h5_citizen, plate="辽P00002").json["number"])
    batch = prepare(client, auth_header, people.finance).json
    [entry] = release(client, auth_header, people.finance2, batch["number"]).json["entries"]
    assert entry["state"] == "approved" and entry["note"] == "未绑定可收款的微信账号，请线下发放"
    assert db.session.scalar(select(Payout.id)) is None
    page = client.get(
        "/console/littering/rewards?state=approved", headers=auth_header(people.finance)
    )
    assert "转线下发放" in page.get_data(as_text=True)
    again = client.post(
        f"/api/v1/staff/rewards/{entry['id']}/retry", headers=auth_header(people.finance)
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "not_payable"
    offline = client.post(
        f"/api/v1/staff/rewards/{entry['id']}/retry",
        json={"channel": "offline"},
        headers=auth_header(people.finance),
    )
    assert offline.status_code == 201 and offline.json["state_label"] == "待线下发放"
    assert ledger.check().ok
