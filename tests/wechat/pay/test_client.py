"""The production client against the emulator over HTTP: round trips, idempotency, refusals and
the signature checks on both sides."""

from __future__ import annotations

import dataclasses

import pytest

from tests.wechat.pay.conftest import REPORT_INFOS
from wechat.pay import crypto, keys
from wechat.pay.client import TransferClient
from wechat.pay.errors import BillNotFound, PayRejected, PayUnknown


def create(client: TransferClient, number: str = "RWD0001", amount: int = 1234, **kwargs):
    kwargs.setdefault("scene_report_infos", REPORT_INFOS)
    return client.create_bill(number, "o-citizen-abcdef123", amount, "车窗抛物举报奖励", **kwargs)


def test_create_then_query_round_trip(pay_client, pay_emulator):
    bill = create(pay_client)
    assert bill.state == "WAIT_USER_CONFIRM"
    assert bill.package_info and bill.transfer_bill_no
    assert bill.create_time is not None and bill.create_time.utcoffset() is not None

    found = pay_client.query_bill("RWD0001")
    assert (found.state, found.amount_fen, found.openid) == ("WAIT_USER_CONFIRM", 1234, bill.openid)
    assert found.transfer_bill_no == bill.transfer_bill_no
    assert found.raw["mch_id"] == pay_client.settings.mchid
    assert pay_client.confirm_params(bill) == {
        "mchId": pay_client.settings.mchid,
        "appId": pay_client.settings.appid,
        "package": bill.package_info,
    }


def test_query_by_wechat_number_route(pay_client, pay_emulator):
    bill = create(pay_client)
    status, body = pay_client._pay.mch_transfer_bills_query(transfer_bill_no=bill.transfer_bill_no)
    assert status == 200 and "RWD0001" in body


def test_same_number_same_content_returns_the_same_bill(pay_client, pay_emulator):
    first = create(pay_client)
    again = create(pay_client)
    assert again.transfer_bill_no == first.transfer_bill_no
    assert len(pay_emulator.bills()) == 1


def test_same_number_other_amount_is_refused(pay_client, pay_emulator):
    create(pay_client)
    with pytest.raises(PayRejected) as caught:
        create(pay_client, amount=1235)
    assert caught.value.code == "INVALID_REQUEST" and caught.value.retry_later is False
    assert pay_emulator.bill("RWD0001")["transfer_amount"] == 1234


def test_two_thousand_yuan_needs_the_real_name(pay_client, pay_emulator):
    with pytest.raises(PayRejected) as caught:
        create(pay_client, amount=200_000)
    assert caught.value.code == "PARAM_ERROR"
    assert pay_emulator.bills() == []  # refused before anything was sent

    bill = create(pay_client, amount=200_000, user_name="张三")
    assert bill.state == "WAIT_USER_CONFIRM"  # the emulator decrypted the name


def test_emulator_refuses_what_wechat_refuses(pay_client, pay_emulator):
    with pytest.raises(PayRejected) as caught:
        create(pay_client, scene_report_infos=[])
    assert (caught.value.code, caught.value.http_status) == ("PARAM_ERROR", 400)
    with pytest.raises(PayRejected) as caught:
        create(pay_client, amount=9)  # below 0.1 yuan
    assert caught.value.code == "INVALID_REQUEST"


def test_unknown_bill_is_not_found(pay_client, pay_emulator):
    with pytest.raises(BillNotFound) as caught:
        pay_client.query_bill("NOSUCH0001")
    assert caught.value.http_status == 404 and caught.value.retry_later is False


def test_cancel_before_confirmation(pay_client, pay_emulator):
    create(pay_client)
    assert pay_client.cancel_bill("RWD0001").state == "CANCELING"
    assert pay_client.query_bill("RWD0001").state == "CANCELLED"
    assert pay_client.cancel_bill("RWD0001").state == "CANCELLED"  # repeating is harmless


def test_cancel_after_confirmation_is_refused(pay_client, pay_emulator):
    bill = create(pay_client)
    pay_emulator.confirm(package=bill.package_info)
    with pytest.raises(PayRejected) as caught:
        pay_client.cancel_bill("RWD0001")
    assert caught.value.code == "INVALID_REQUEST"
    assert pay_client.query_bill("RWD0001").state == "SUCCESS"


def test_request_signed_with_another_merchant_key_gets_401(pay_client, pay_emulator):
    other = keys.generate()
    forged = TransferClient(
        dataclasses.replace(pay_client.settings, private_key_pem=other.merchant_private_pem)
    )
    with pytest.raises(PayRejected) as caught:
        create(forged)
    assert (caught.value.code, caught.value.http_status) == ("SIGN_ERROR", 401)
    assert pay_emulator.bills() == []


def test_answer_not_signed_by_the_configured_platform_key_is_unknown(pay_client, pay_emulator):
    create(pay_client)
    other = keys.generate()
    fooled = TransferClient(
        dataclasses.replace(pay_client.settings, public_key_pem=other.platform_public_pem)
    )
    with pytest.raises(PayUnknown) as caught:
        fooled.query_bill("RWD0001")
    assert caught.value.code == "BAD_RESPONSE"


def test_nothing_listening_is_unknown(pay_client):
    gone = TransferClient(dataclasses.replace(pay_client.settings, base_url="http://127.0.0.1:9"))
    with pytest.raises(PayUnknown) as caught:
        gone.query_bill("RWD0001")
    assert caught.value.code == "NETWORK_ERROR"


def test_sensitive_field_encryption_round_trip():
    pair = keys.generate()
    sealed = crypto.oaep_encrypt(crypto.load_public_key(pair.platform_public_pem), "张三")
    assert crypto.oaep_decrypt(crypto.load_private_key(pair.platform_private_pem), sealed) == "张三"


def test_keys_are_created_once(tmp_path):
    first = keys.load_or_create(tmp_path)
    assert keys.load_or_create(tmp_path) == first
    assert first.public_key_id.startswith("PUB_KEY_ID_0114") and len(first.apiv3_key) == 32
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0
