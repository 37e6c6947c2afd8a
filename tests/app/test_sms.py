"""The SMS gateway client against its emulator over real HTTP: Aliyun's signature v1 (checked
against the documentation's worked example), SendSms, QuerySendDetails receipts, the refusals
and the injected faults the outbox worker retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from werkzeug.serving import make_server

from app.sms import signing
from app.sms.client import SmsClient, SmsError
from app.sms.emulator import SmsEmulator

KEY, SECRET = "test-key-id", "test-key-secret"
TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_the_signature_of_the_documented_example():
    """Aliyun's 短信服务 signature document: testId / testSecret, SendSms, GET."""
    params = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }  # fmt: skip
    assert signing.signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert signing.percent_encode("a b*~") == "a%20b%2A~"


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[SmsEmulator, str]]:
    emulator = SmsEmulator({KEY: SECRET})
    server = make_server("127.0.0.1", 0, emulator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield emulator, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=5)


def client(url: str, secret: str = SECRET) -> SmsClient:
    session = requests.Session()
    session.trust_env = False
    return SmsClient(url, KEY, secret, timeout=5, session=session)


def test_send_then_pull_the_delivery_receipt(gateway):
    emulator, url = gateway
    sms = client(url)
    sent = sms.send_sms("13812340001", "沈阳城管", "SMS_480150001", {"phone": "138****0001"}, "41")
    assert sent.biz_id.endswith("^0") and sent.request_id
    assert emulator.messages("13812340001")[-1]["params"] == {"phone": "138****0001"}
    receipts = sms.query_send_details("13812340001", TODAY, biz_id=sent.biz_id)
    assert [(r.status, r.err_code, r.out_id) for r in receipts] == [
        ("delivered", "DELIVERED", "41")
    ]
    # A number that is out of service: sent, then the receipt says so.
    failed = sms.send_sms("13812340000", "沈阳城管", "SMS_480150001", {}, "42")
    receipt = sms.query_send_details("13812340000", TODAY, biz_id=failed.biz_id)[0]
    assert (receipt.status, receipt.err_code) == ("failed", "MOBILE_NOT_ON_SERVICE")
    assert sms.find_sent("13812340001", TODAY, "41") is not None
    assert sms.find_sent("13812340001", TODAY, "99") is None


@pytest.mark.parametrize(("call", "code", "retryable"), [
    (lambda s: s.send_sms("024-12345678", "沈阳城管", "SMS_480150001", {}, "1"),
     "isv.MOBILE_NUMBER_ILLEGAL", False),
    (lambda s: s.send_sms("13812340001", "", "SMS_480150001", {}, "1"),
     "isv.SMS_SIGNATURE_ILLEGAL", False),
    (lambda s: s.send_sms("13812340001", "沈阳城管", "notatemplate", {}, "1"),
     "isv.SMS_TEMPLATE_ILLEGAL", False),
    (lambda s: s.query_send_details("13812340001", TODAY, page_size=51),
     "InvalidParameter", False),
])  # fmt: skip
def test_refusals_carry_aliyun_codes(gateway, call, code, retryable):
    with pytest.raises(SmsError) as err:
        call(client(gateway[1]))
    assert (err.value.code, err.value.retryable) == (code, retryable)


def test_a_wrong_secret_and_a_replayed_nonce_are_refused(gateway):
    _, url = gateway
    with pytest.raises(SmsError) as err:
        client(url, "wrong-secret").send_sms("13812340001", "沈阳城管", "SMS_480150001", {}, "1")
    assert err.value.code == "SignatureDoesNotMatch"
    sms = client(url)
    params = sms.signed_params("QuerySendDetails", {"PhoneNumber": "13812340001",
                               "SendDate": TODAY.strftime("%Y%m%d"), "PageSize": "10",
                               "CurrentPage": "1"})  # fmt: skip
    http = requests.Session()
    http.trust_env = False
    assert http.post(url, data=params, timeout=5).json()["Code"] == "OK"
    again = http.post(url, data=params, timeout=5)
    assert again.status_code == 400 and again.json()["Code"] == "SignatureNonceUsed"


def test_injected_faults(gateway):
    emulator, url = gateway
    sms = client(url)
    emulator.inject("isv.BUSINESS_LIMIT_CONTROL", "http503", "sent-then-503")
    before = len(emulator.messages("13812340002"))
    outcomes = []
    for _ in range(3):
        with pytest.raises(SmsError) as err:
            sms.send_sms("13812340002", "沈阳城管", "SMS_480150001", {}, "77")
        outcomes.append((err.value.code, err.value.retryable, err.value.ambiguous))
    lost = ("ServiceUnavailable", True, True)  # a 5xx: retry, but it may have gone out
    assert outcomes == [("isv.BUSINESS_LIMIT_CONTROL", True, False), lost, lost]
    # Only the last one went out, and the caller can find it by its OutId.
    assert len(emulator.messages("13812340002")) == before + 1
    assert sms.find_sent("13812340002", TODAY, "77") is not None
