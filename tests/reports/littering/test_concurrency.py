"""Double clicks and retries, for real: N requests at once against a database whose transactions
really commit (a migrated SQLite file, or a fresh MariaDB database under TEST_DATABASE_URL).
Every write a person can double-click or a client can retry has one effect and no 5xx."""

from __future__ import annotations

import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.auth import service as auth_service
from app.auth.models import Role, WechatApp
from app.extensions import db
from app.geo.models import Region
from reports.littering import ledger, payouts, rules, worker
from reports.littering.models import LitteringReport, Payout, PayoutBatch, PayoutState, RewardEntry
from reports.models import OutboxMessage
from tests.conftest import committed_app
from tests.reports.conftest import INSIDE_WEST, load_categories, square
from tests.reports.littering.conftest import ago, evidence_jpeg
from tests.wechat.pay.conftest import serve
from wechat.pay.emulator import emulator_from_config

N = 8


@dataclass
class Live:
    app: object
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str, **kwargs):
        headers = kwargs.pop("headers", {}) | {"Authorization": f"Bearer {self.tokens[who]}"}
        client = self.app.test_client()
        return getattr(client, method)(path, headers=headers, **kwargs)

    def parallel(self, method: str, path: str, who: str, n: int = N, **kwargs) -> Counter:
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(lambda _: self.call(method, path, who, **kwargs), range(n)))
        return Counter(r.status_code for r in results), results

    def scalar(self, query):
        with self.app.app_context():
            return db.session.scalar(query)


@pytest.fixture
def live(live_db_url, tmp_path, rate_limiter):
    """A second app on its own committed database, with a small city and its people."""
    app = committed_app(
        live_db_url,
        tmp_path,
        LITTERING_OCR_ENABLED=False,
        WECHATPAY_EMULATOR_DB=str(tmp_path / "pay.db"),
    )
    with app.app_context():
        tokens = _populate(app)
    try:
        yield Live(app, tokens)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _populate(app) -> dict[str, str]:
    load_categories()
    db.session.add(
        Region(
            code="T-W",
            name="测试一区",
            level="district",
            geometry=square((41.75, 123.30, 41.85, 123.40)),
            min_lat=41.75,
            min_lng=123.30,
            max_lat=41.85,
            max_lng=123.40,
            area_m2=1e8,
            source="test",
        )
    )
    tokens = {}
    for name, role in (
        ("reviewer", Role.REVIEWER),
        ("finance", Role.FINANCE),
        ("finance2", Role.FINANCE),
    ):
        staff = auth_service.create_staff(
            name, "correct-horse-battery", [role.value], actor_label="test"
        )
        tokens[name] = auth_service.issue_token(staff=staff)[0]
    for name in ("alice", "bob"):
        user, _ = auth_service.citizen_from_wechat(
            WechatApp.MINIPROGRAM, app.config["WECHAT_MINI_APP_ID"], f"o-{name}"
        )
        tokens[name] = auth_service.issue_token(user=user)[0]
    rule = rules.current_rule()
    rule.budget_fen = None
    db.session.commit()
    return tokens


def _photos(live: Live, who: str, n: int = 2) -> list[str]:
    ids = []
    for i in range(n):
        resp = live.call(
            "post",
            "/api/v1/media",
            who,
            data={"file": (io.BytesIO(evidence_jpeg(hash((who, i)) % 10_000)), "p.jpg")},
            content_type="multipart/form-data",
        )
        assert resp.status_code == 201, resp.json
        ids.append(resp.json["id"])
    return ids


def _report_body(live: Live, who: str, plate: str = "辽A12345") -> dict:
    return {
        "plate": plate,
        "plate_colour": "blue",
        "occurred_at": ago(minutes=20),
        "lat": INSIDE_WEST[0],
        "lng": INSIDE_WEST[1],
        "media": _photos(live, who),
    }


def _valid_report(live: Live, who: str, plate: str) -> str:
    number = live.call(
        "post", "/api/v1/littering/reports", who, json=_report_body(live, who, plate)
    ).json["number"]
    resp = live.call(
        "post",
        f"/api/v1/staff/littering/reports/{number}/review",
        "reviewer",
        json={"decision": "valid"},
    )
    assert resp.status_code == 200, resp.json
    return number


def test_parallel_submissions_with_one_key_make_one_report(live):
    body = _report_body(live, "alice")
    statuses, results = live.parallel(
        "post",
        "/api/v1/littering/reports",
        "alice",
        json=body,
        headers={"Idempotency-Key": "tap-1"},
    )
    assert set(statuses) <= {200, 201}, [r.json for r in results]
    assert statuses[201] == 1
    assert len({r.json["number"] for r in results}) == 1
    assert live.scalar(select(func.count(LitteringReport.id))) == 1


def test_parallel_reviews_decide_once(live):
    number = live.call(
        "post", "/api/v1/littering/reports", "alice", json=_report_body(live, "alice")
    ).json["number"]
    statuses, results = live.parallel(
        "post",
        f"/api/v1/staff/littering/reports/{number}/review",
        "reviewer",
        json={"decision": "valid"},
    )
    assert statuses[200] == 1 and set(statuses) <= {200, 409}, [r.json for r in results]
    assert live.scalar(select(func.count(RewardEntry.id))) == 1


def test_parallel_budget_is_never_overspent(live):
    with live.app.app_context():
        rules.current_rule().budget_fen = 10000  # two rewards of 50 yuan
        db.session.commit()
    numbers = [
        live.call(
            "post", "/api/v1/littering/reports", who, json=_report_body(live, who, plate)
        ).json["number"]
        for who, plate in (
            ("alice", "辽A00001"),
            ("bob", "辽A00002"),
            ("alice", "辽A00003"),
            ("bob", "辽A00004"),
        )
    ]
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(
                lambda n: live.call(
                    "post",
                    f"/api/v1/staff/littering/reports/{n}/review",
                    "reviewer",
                    json={"decision": "valid"},
                ),
                numbers,
            )
        )
    assert {r.status_code for r in results} == {200}
    with live.app.app_context():
        accrued = db.session.scalar(
            select(func.sum(RewardEntry.amount_fen)).where(RewardEntry.state == "accrued")
        )
        waiting = db.session.scalar(
            select(func.count(RewardEntry.id)).where(RewardEntry.state == "waiting_budget")
        )
    assert (accrued, waiting) == (10000, 2)


def test_parallel_prepare_release_retry_and_record(live):
    for who, plate in (("alice", "辽B00001"), ("bob", "辽B00002")):
        _valid_report(live, who, plate)
    statuses, results = live.parallel(
        "post",
        "/api/v1/staff/rewards/batches",
        "finance",
        json={"channel": "offline"},
        headers={"Idempotency-Key": "batch-1"},
    )
    assert set(statuses) == {201}, [r.json for r in results]
    assert len({r.json["number"] for r in results}) == 1
    statuses, results = live.parallel(
        "post", "/api/v1/staff/rewards/batches", "finance", json={"channel": "offline"}
    )
    assert set(statuses) == {409}  # every reward is already in the first batch
    number = live.scalar(select(PayoutBatch.number))
    statuses, results = live.parallel(
        "post", f"/api/v1/staff/rewards/batches/{number}/release", "finance2"
    )
    assert set(statuses) == {200}, [r.json for r in results]
    assert live.scalar(select(func.count(Payout.id))) == 2
    out_bill_no = live.scalar(select(Payout.out_bill_no).order_by(Payout.id))
    statuses, results = live.parallel(
        "post",
        f"/api/v1/staff/rewards/payouts/{out_bill_no}/offline",
        "finance",
        json={"reference": "BANK-0001"},
    )
    assert set(statuses) == {200}, [r.json for r in results]
    assert (
        live.scalar(select(func.count(Payout.id)).where(Payout.state == PayoutState.SUCCESS)) == 1
    )
    with live.app.app_context():
        assert ledger.check().ok


def test_parallel_retries_make_one_new_payout(live):
    _valid_report(live, "alice", "辽C00001")
    number = live.call(
        "post", "/api/v1/staff/rewards/batches", "finance", json={"channel": "offline"}
    ).json["number"]
    live.call("post", f"/api/v1/staff/rewards/batches/{number}/release", "finance2")
    with live.app.app_context():  # the offline payment bounced: finance marks it failed
        payout = db.session.scalar(select(Payout))
        payouts._finish(payout, PayoutState.FAILED, "退票")
        db.session.commit()
        entry_id = payout.entry_id
    statuses, results = live.parallel("post", f"/api/v1/staff/rewards/{entry_id}/retry", "finance")
    assert statuses[201] == 1 and set(statuses) <= {201, 409}, [r.json for r in results]
    assert live.scalar(select(func.count(Payout.id))) == 2
    with live.app.app_context():
        assert ledger.check().ok


def test_parallel_duplicate_callbacks_pay_once(live, tmp_path):
    emulator = emulator_from_config(live.app.config)
    server, _thread, url = serve(emulator)
    live.app.config["WECHATPAY_API_BASE_URL"] = url
    try:
        _valid_report(live, "alice", "辽D00001")
        number = live.call("post", "/api/v1/staff/rewards/batches", "finance", json={}).json[
            "number"
        ]
        live.call("post", f"/api/v1/staff/rewards/batches/{number}/release", "finance2")
        with live.app.app_context():
            assert worker.run_once()["moved"] == 1
            out_bill_no = db.session.scalar(select(Payout.out_bill_no))
        emulator.confirm(out_bill_no=out_bill_no)
        body = emulator.build_notification(emulator.state.bill(out_bill_no))
        headers = emulator.sign_headers(body)
        with ThreadPoolExecutor(N) as pool:
            results = list(
                pool.map(
                    lambda _: live.app.test_client().post(
                        "/wechat/pay/transfer-notify",
                        data=body,
                        headers=headers,
                        content_type="application/json",
                    ),
                    range(N),
                )
            )
        assert {r.status_code for r in results} <= {200, 204}, [r.data for r in results]
        with live.app.app_context():
            assert db.session.scalar(select(Payout.state)) == PayoutState.SUCCESS
            texts = [m.payload["text"] for m in db.session.scalars(select(OutboxMessage))]
            assert sum("已到账" in t for t in texts) == 1
            assert ledger.check().ok
    finally:
        server.shutdown()
