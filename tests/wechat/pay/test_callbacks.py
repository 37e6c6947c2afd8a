"""Notifications: the confirm page, expiry and cancellation produce signed, encrypted
MCHTRANSFER.BILL.FINISHED deliveries; verify_callback accepts those and nothing else."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime

import pytest

from tests.wechat.pay.conftest import REPORT_INFOS
from wechat.pay import keys
from wechat.pay.client import TransferClient
from wechat.pay.errors import CallbackRejected


def create(client: TransferClient, number: str = "CB000001", amount: int = 1234):
    return client.create_bill(
        number, "o-citizen-callback1", amount, "车窗抛物举报奖励", scene_report_infos=REPORT_INFOS
    )


def only_delivery(receiver) -> tuple[dict, bytes]:
    assert len(receiver.deliveries) == 1
    return receiver.deliveries[0]["headers"], receiver.deliveries[0]["body"]


def test_confirm_page_pays_and_notifies(pay_client, pay_emulator, pay_server, receiver, http):
    bill = create(pay_client)
    page = http.get(pay_server.url + "/confirm", params={"package": bill.package_info})
    assert page.status_code == 200
    assert "确认收款" in page.text and "¥12.34" in page.text and "车窗抛物举报奖励" in page.text

    done = http.post(
        pay_server.url + "/confirm", data={"package": bill.package_info, "action": "confirm"}
    )
    assert "收款成功" in done.text
    assert pay_client.query_bill(bill.out_bill_no).state == "SUCCESS"

    assert pay_emulator.deliver_callbacks() == 1
    headers, body = only_delivery(receiver)
    resource = pay_client.verify_callback(headers, body)
    assert resource["out_bill_no"] == bill.out_bill_no
    assert (resource["state"], resource["transfer_amount"]) == ("SUCCESS", 1234)
    assert resource["_notification_id"] == json.loads(body)["id"]
    assert pay_emulator.deliver_callbacks() == 0  # delivered once


def test_declining_leaves_the_bill_waiting(pay_client, pay_emulator, pay_server, http):
    bill = create(pay_client)
    answer = http.post(
        pay_server.url + "/confirm", data={"package": bill.package_info, "action": "decline"}
    )
    assert "暂不收款" in answer.text
    assert pay_client.query_bill(bill.out_bill_no).state == "WAIT_USER_CONFIRM"


def test_unconfirmed_bill_fails_after_24_hours_and_notifies(
    pay_client, pay_emulator, pay_server, receiver, http
):
    bill = create(pay_client)
    clock = http.post(pay_server.url + "/_emulator/clock", json={"advance_seconds": 86_401})
    assert clock.status_code == 200
    found = pay_client.query_bill(bill.out_bill_no)
    assert (found.state, found.fail_reason) == ("FAIL", "OVERDUE_CLOSE")
    confirm = http.post(pay_server.url + "/_emulator/confirm", json={"package": bill.package_info})
    assert confirm.status_code == 400  # too late to confirm

    assert pay_emulator.deliver_callbacks() == 1
    resource = pay_client.verify_callback(*only_delivery(receiver))
    assert (resource["state"], resource["fail_reason"]) == ("FAIL", "OVERDUE_CLOSE")


def test_cancel_notifies(pay_client, pay_emulator, receiver):
    create(pay_client)
    pay_client.cancel_bill("CB000001")
    pay_emulator.deliver_callbacks()
    assert pay_client.verify_callback(*only_delivery(receiver))["state"] == "CANCELLED"


def test_failed_delivery_is_retried_with_backoff(pay_client, pay_emulator, receiver):
    receiver.statuses.append(500)
    bill = create(pay_client)
    pay_emulator.confirm(package=bill.package_info)
    assert pay_emulator.deliver_callbacks() == 0
    assert pay_emulator.deliver_callbacks() == 0  # not due again yet
    pay_emulator.advance_clock(15)
    assert pay_emulator.deliver_callbacks() == 1
    assert len(receiver.deliveries) == 2
    assert receiver.deliveries[0]["body"] == receiver.deliveries[1]["body"]


def test_callback_faults(pay_client, pay_emulator, receiver):
    pay_emulator.set_faults(1.0, ["dup_callback"], auto_confirm=True)
    create(pay_client, "DUP00001")
    pay_emulator.set_faults(1.0, ["lost_callback"], auto_confirm=True)
    create(pay_client, "LOST0001")
    pay_emulator.set_faults(1.0, ["out_of_order_callback"], auto_confirm=True)
    create(pay_client, "LATE0001")
    pay_emulator.set_faults(auto_confirm=True)
    create(pay_client, "PLAIN001")

    pay_emulator.deliver_callbacks()
    pay_emulator.advance_clock(61)
    pay_emulator.deliver_callbacks()
    order = [pay_client.verify_callback(d["headers"], d["body"])["out_bill_no"]
             for d in receiver.deliveries]  # fmt: skip
    assert sorted(order) == ["DUP00001", "DUP00001", "LATE0001", "PLAIN001"]
    assert order.index("PLAIN001") < order.index("LATE0001")  # the held-back one comes later
    ids = [json.loads(d["body"])["id"] for d in receiver.deliveries]
    assert len(set(ids)) == 3  # the duplicate carries the same notification id
    lost = pay_emulator.notifications("LOST0001")
    assert [n["status"] for n in lost] == ["lost"]


# -- verify_callback refusals -------------------------------------------------------------------


@pytest.fixture
def genuine(pay_client, pay_emulator) -> tuple[dict[str, str], bytes]:
    """A genuine notification for a paid bill, as the emulator would deliver it."""
    bill = create(pay_client)
    pay_emulator.confirm(package=bill.package_info)
    body = pay_emulator.build_notification(pay_emulator.state.bill(bill.out_bill_no))
    return pay_emulator.sign_headers(body), body


def test_genuine_notification_is_accepted(pay_client, genuine):
    assert pay_client.verify_callback(*genuine)["state"] == "SUCCESS"


def test_forged_signature_is_refused(pay_client, pay_emulator, genuine):
    _, body = genuine
    forged = pay_emulator.sign_headers(body, private_key_pem=keys.generate().platform_private_pem)
    with pytest.raises(CallbackRejected, match="signature"):
        pay_client.verify_callback(forged, body)


def test_unknown_serial_is_refused(pay_client, pay_emulator, genuine):
    _, body = genuine
    headers = pay_emulator.sign_headers(body, serial="PUB_KEY_ID_0114999999999999999999999999999")
    with pytest.raises(CallbackRejected, match="Serial"):
        pay_client.verify_callback(headers, body)


def test_stale_timestamp_is_refused(pay_client, pay_emulator, genuine):
    _, body = genuine
    old = pay_emulator.sign_headers(body, timestamp=int(time.time()) - 301)
    with pytest.raises(CallbackRejected, match="timestamp"):
        pay_client.verify_callback(old, body)
    later = datetime.fromtimestamp(int(old["Wechatpay-Timestamp"]) + 200, UTC)
    assert pay_client.verify_callback(old, body, now=later)["state"] == "SUCCESS"


def test_tampered_body_is_refused(pay_client, genuine):
    headers, body = genuine
    tampered = body.replace(b'"summary":"', b'"summary":"x')
    assert tampered != body
    with pytest.raises(CallbackRejected, match="signature"):
        pay_client.verify_callback(headers, tampered)


def test_wrong_apiv3_key_is_refused(pay_client, genuine):
    other = TransferClient(dataclasses.replace(pay_client.settings, apiv3_key="k" * 32))
    with pytest.raises(CallbackRejected, match="decrypt"):
        other.verify_callback(*genuine)


def test_other_signature_type_and_event_are_refused(pay_client, pay_emulator, genuine):
    headers, body = genuine
    with pytest.raises(CallbackRejected, match="Signature-Type"):
        pay_client.verify_callback({**headers, "Wechatpay-Signature-Type": "SM2"}, body)
    other_event = body.replace(b"MCHTRANSFER.BILL.FINISHED", b"TRANSACTION.SUCCESS")
    with pytest.raises(CallbackRejected, match="MCHTRANSFER"):
        pay_client.verify_callback(pay_emulator.sign_headers(other_event), other_event)
