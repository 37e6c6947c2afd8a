"""Every injected fault reaches the caller as the right exception, and leaves the bill in the
state the fault promises (applied or not)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.wechat.pay.conftest import REPORT_INFOS
from wechat.pay.client import TransferClient
from wechat.pay.emulator_state import FAIL_REASONS
from wechat.pay.errors import BillNotFound, PayRejected, PayUnknown


def create(client: TransferClient, number: str, amount: int = 500):
    return client.create_bill(
        number, "o-citizen-faults01", amount, "举报奖励", scene_report_infos=REPORT_INFOS
    )


def test_timeout_is_unknown_and_the_bill_exists_afterwards(pay_client, pay_emulator):
    impatient = TransferClient(dataclasses.replace(pay_client.settings, timeout=0.3))
    pay_emulator.set_faults(1.0, ["timeout"], timeout_seconds=0.8)
    started = time.monotonic()
    with pytest.raises(PayUnknown) as caught:
        create(impatient, "TMO00001")
    assert caught.value.code == "TIMEOUT" and time.monotonic() - started < 0.8
    pay_emulator.set_faults()
    assert pay_client.query_bill("TMO00001").state == "WAIT_USER_CONFIRM"


@pytest.mark.parametrize("kind", ["http500", "system_error"])
def test_server_errors_are_unknown_and_sometimes_applied(pay_client, pay_emulator, kind):
    pay_emulator.set_faults(1.0, [kind], seed=7)
    numbers = [f"ERR{kind[:3].upper()}{i:03d}" for i in range(8)]
    for number in numbers:
        with pytest.raises(PayUnknown) as caught:
            create(pay_client, number)
        assert caught.value.http_status == 500
        if kind == "system_error":
            assert caught.value.code == "SYSTEM_ERROR"
    pay_emulator.set_faults()
    exists = []
    for number in numbers:
        try:
            exists.append(pay_client.query_bill(number).state == "WAIT_USER_CONFIRM")
        except BillNotFound:
            exists.append(False)
    assert True in exists and False in exists  # the caller cannot tell: it must query


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("frequency_limited", "FREQUENCY_LIMITED", 429), ("not_enough", "NOT_ENOUGH", 403)],
)
def test_retry_later_refusals_create_nothing(pay_client, pay_emulator, kind, code, status):
    pay_emulator.set_faults(1.0, [kind])
    with pytest.raises(PayRejected) as caught:
        create(pay_client, "LATER0001")
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert caught.value.retry_later is True
    pay_emulator.set_faults()
    with pytest.raises(BillNotFound):
        pay_client.query_bill("LATER0001")
    assert create(pay_client, "LATER0001").state == "WAIT_USER_CONFIRM"  # same number, later


def test_query_faults_never_change_the_bill(pay_client, pay_emulator):
    create(pay_client, "QRY00001")
    pay_emulator.set_faults(1.0, ["http500", "system_error", "frequency_limited"], seed=3)
    outcomes = set()
    for _ in range(6):
        with pytest.raises((PayUnknown, PayRejected)) as caught:
            pay_client.query_bill("QRY00001")
        outcomes.add(caught.value.code)
    assert len(outcomes) >= 2
    pay_emulator.set_faults()
    assert pay_emulator.bill("QRY00001")["state"] == "WAIT_USER_CONFIRM"


def test_faults_are_deterministic_for_a_seed(pay_client, pay_emulator):
    def run() -> list[str]:
        pay_emulator.reset()
        pay_emulator.set_faults(0.5, ["frequency_limited", "system_error"], seed=11)
        seen = []
        for i in range(10):
            try:
                create(pay_client, f"DET{i:05d}")
                seen.append("ok")
            except (PayUnknown, PayRejected) as exc:
                seen.append(exc.code)
        return seen

    first = run()
    assert run() == first and "ok" in first and len(set(first)) > 1


def test_auto_confirm_pays_at_once(pay_client, pay_emulator):
    pay_emulator.set_faults(auto_confirm=True)
    assert create(pay_client, "AUTO0001").state == "WAIT_USER_CONFIRM"
    assert pay_client.query_bill("AUTO0001").state == "SUCCESS"


def test_no_confirm_expires_after_24_hours(pay_client, pay_emulator):
    pay_emulator.set_faults(1.0, ["no_confirm"], auto_confirm=True)
    create(pay_client, "NOCF0001")
    pay_emulator.advance_clock(23 * 3600)
    assert pay_client.query_bill("NOCF0001").state == "WAIT_USER_CONFIRM"
    pay_emulator.advance_clock(3601)
    bill = pay_client.query_bill("NOCF0001")
    assert (bill.state, bill.fail_reason) == ("FAIL", "OVERDUE_CLOSE")


def test_fail_after_confirmation(pay_client, pay_emulator):
    pay_emulator.set_faults(1.0, ["fail"], auto_confirm=True)
    create(pay_client, "FAIL0001")
    bill = pay_client.query_bill("FAIL0001")
    assert bill.state == "FAIL" and bill.fail_reason in FAIL_REASONS


def test_unknown_fault_kind_is_refused(pay_emulator):
    with pytest.raises(ValueError, match="unknown fault"):
        pay_emulator.set_faults(0.5, ["meteor"])
