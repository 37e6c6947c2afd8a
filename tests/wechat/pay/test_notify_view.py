"""POST /wechat/pay/transfer-notify: genuine notifications reach the registered handler once per
delivery and are committed; anything else is refused with WeChat's failure shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.wechat.pay.conftest import REPORT_INFOS
from wechat.pay import keys, on_transfer_finished, views

URL = "/wechat/pay/transfer-notify"


@pytest.fixture
def handled(monkeypatch) -> Iterator[list[dict]]:
    """Register a handler that records what it is given."""
    monkeypatch.setattr(views, "_handlers", {})
    seen: list[dict] = []
    on_transfer_finished(seen.append)
    yield seen


@pytest.fixture
def delivery(pay_config, pay_client, pay_emulator) -> tuple[dict[str, str], bytes]:
    """What the emulator delivers for a paid bill."""
    bill = pay_client.create_bill(
        "VIEW0001", "o-citizen-view0001", 888, "举报奖励", scene_report_infos=REPORT_INFOS
    )
    pay_emulator.confirm(package=bill.package_info)
    body = pay_emulator.build_notification(pay_emulator.state.bill("VIEW0001"))
    return pay_emulator.sign_headers(body), body


def post(client, headers: dict[str, str], body: bytes):
    return client.post(URL, data=body, headers={**headers, "Content-Type": "application/json"})


def test_genuine_notification_reaches_the_handler_once_per_delivery(client, handled, delivery):
    answer = post(client, *delivery)
    assert answer.status_code == 204 and answer.data == b""
    assert [(r["out_bill_no"], r["state"]) for r in handled] == [("VIEW0001", "SUCCESS")]
    assert post(client, *delivery).status_code == 204  # WeChat repeats: the handler dedupes
    assert len(handled) == 2


def test_forged_notification_is_refused_and_not_applied(client, handled, delivery, pay_emulator):
    _, body = delivery
    forged = pay_emulator.sign_headers(body, private_key_pem=keys.generate().platform_private_pem)
    answer = post(client, forged, body)
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "SIGN_ERROR" and answer.get_json()["message"]
    assert handled == []


def test_handler_error_asks_wechat_to_retry(client, monkeypatch, delivery):
    monkeypatch.setattr(views, "_handlers", {})

    def broken(resource):
        raise RuntimeError("ledger unavailable")

    on_transfer_finished(broken)
    answer = post(client, *delivery)
    assert answer.status_code == 500 and answer.get_json()["code"] == "FAIL"


def test_no_handler_asks_wechat_to_retry(client, monkeypatch, delivery):
    monkeypatch.setattr(views, "_handlers", {})
    assert post(client, *delivery).status_code == 500


def test_oversized_body_is_refused(client, handled, pay_config):
    answer = client.post(URL, data=b"{" + b" " * 70_000 + b"}")
    assert answer.status_code == 413 and handled == []


def test_embedded_emulator_is_mounted(app, client, pay_config, pay_server, delivery, monkeypatch):
    monkeypatch.setitem(app.extensions, "wechatpay_emulator", pay_server.emulator)
    page = client.get("/_wechatpay/_emulator/bills")
    assert page.status_code == 200
    assert [b["out_bill_no"] for b in page.get_json()["bills"]] == ["VIEW0001"]
