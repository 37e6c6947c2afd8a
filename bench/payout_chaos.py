"""Fault-injection run of reward payouts: N rewards paid through the WeChat Pay emulator over
real HTTP while it faults about 20% of calls, bills and callbacks (every fault kind), with
several payout workers running at once and callbacks arriving at our endpoint over HTTP.

It proves: nothing is paid twice (per reward, at most one SUCCESS bill at WeChat), nothing is
lost (every reward ends paid), and the ledger balances (`ledger.check()`), against WeChat's own
record of the bills. The suite runs it with 1,000 payouts (tests/reports/littering/
test_chaos.py); this script runs 10,000 and prints the time it took, next to a reference
measured in the same run (one emulator create+query round trip without faults).

    .venv/bin/python bench/payout_chaos.py --payouts 10000 --workers 4 [--db URL]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAULT_KINDS = [
    "timeout",
    "http500",
    "system_error",
    "frequency_limited",
    "not_enough",
    "dup_callback",
    "out_of_order_callback",
    "lost_callback",
    "no_confirm",
    "fail",
]


@dataclass
class Result:
    payouts: int
    seconds: float
    rounds: int
    bills: int
    renumbered: int
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def serve(wsgi_app) -> tuple[object, str]:
    """A threaded HTTP server on a free loopback port."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def populate(app, n: int, seed: int = 7) -> None:
    """n citizens with a mini-program openid, each with one valid report and an accrued reward
    (amounts 1 to 2,000 yuan), inserted in bulk."""
    from app.auth.models import User, WechatIdentity
    from app.db import utcnow
    from app.extensions import db
    from reports.littering.models import LitteringReport, RewardEntry

    rng = random.Random(seed)
    now = utcnow()
    appid = app.config["WECHATPAY_APPID"]
    base = (db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0) + 1
    for start in range(0, n, 2000):
        ids = range(base + start, base + min(n, start + 2000))
        db.session.execute(insert(User), [{"id": i, "created_at": now} for i in ids])
        db.session.execute(
            insert(WechatIdentity),
            [
                {
                    "user_id": i,
                    "app_kind": "miniprogram",
                    "app_id": appid,
                    "openid": f"o-chaos-{i}",
                    "created_at": now,
                    "last_seen_at": now,
                }
                for i in ids
            ],
        )
        db.session.execute(
            insert(LitteringReport),
            [
                {
                    "id": i,
                    "number": f"CX{i:010d}",
                    "reporter_id": i,
                    "plate": "辽A12345",
                    "plate_colour": "blue",
                    "occurred_at": now,
                    "state": "valid",
                    "created_at": now,
                    "signals": [],
                    "ocr_suggestions": [],
                    "coord_sys_in": "gcj02",
                    "version": 1,
                }
                for i in ids
            ],
        )
        db.session.execute(
            insert(RewardEntry),
            [
                {
                    "report_id": i,
                    "user_id": i,
                    "amount_fen": rng.randrange(100, 200_000),
                    "rule_version": 1,
                    "state": "accrued",
                    "budget_period": "2026-12",
                    "accrued_at": now,
                    "created_at": now,
                    "version": 1,
                }
                for i in ids
            ],
        )
    db.session.commit()


def release_all(app) -> None:
    """One finance account prepares every accrued reward, another releases them."""
    from app.auth import service as auth_service
    from app.extensions import db
    from reports.littering import payouts
    from reports.littering.models import Channel

    staff = [
        auth_service.create_staff(
            f"chaos-fin-{i}-{time.time_ns()}",
            "chaos-password-123",
            ["finance"],
            actor_label="bench",
        )
        for i in range(2)
    ]
    batch = payouts.prepare_batch(staff[0], Channel.WECHAT, limit=10**6)
    payouts.release_batch(batch, staff[1])
    db.session.commit()


def _drain(app, workers: int, outcomes: Counter) -> None:
    """Payout workers in parallel until nothing is due."""
    from reports.littering import payouts, worker

    def loop():
        with app.app_context():
            idle = 0
            while idle < 2:
                counts = worker.run_once(limit=25)
                outcomes.update(counts)
                if not payouts.due_ids(1):
                    idle += 1
                    time.sleep(0.05)
                else:
                    idle = 0

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _pending_callbacks(emulator) -> int:
    row = (
        emulator.state.conn()
        .execute("SELECT COUNT(*) FROM notifications WHERE status = 'pending'")
        .fetchone()
    )
    return int(row[0])


def _deliver(emulator) -> None:
    """Deliver every queued callback, letting emulator time pass for held-back ones and for
    WeChat's retry backoff (lost callbacks never come: the poller must settle those bills)."""
    for _ in range(50):
        emulator.deliver_callbacks()
        if not _pending_callbacks(emulator):
            return
        emulator.advance_clock(120)


def run(app, emulator, *, n: int, workers: int = 4, max_rounds: int = 12) -> Result:
    """Pay n rewards through the faulty emulator; check everything against its bills."""
    from app.db import utcnow
    from app.extensions import db
    from reports.littering import ledger, payouts
    from reports.littering.models import EntryState, Payout, PayoutState, RewardEntry

    with app.app_context():
        populate(app, n)
        release_all(app)
    emulator.set_faults(
        0.2,
        FAULT_KINDS,
        seed=11,
        timeout_seconds=app.config["WECHATPAY_HTTP_TIMEOUT"] + 0.2,
        auto_confirm=True,
    )
    outcomes: Counter = Counter()
    started = time.perf_counter()
    rounds = 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - reported
        _drain(app, workers, outcomes)
        _deliver(emulator)
        with app.app_context():
            left = db.session.scalar(
                select(db.func.count(RewardEntry.id)).where(RewardEntry.state != EntryState.PAID)
            )
            db.session.commit()  # hold no transaction while our endpoint takes callbacks
        if not left:
            break
        # A day passes: unconfirmed bills expire at WeChat; our pollers come due.
        emulator.advance_clock(25 * 3600)
        _deliver(emulator)
        with app.app_context():
            db.session.execute(
                update(Payout)
                .where(
                    Payout.state.in_(
                        [PayoutState.WAIT_CONFIRM, PayoutState.TRANSFERING, PayoutState.PENDING]
                    )
                )
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
            db.session.commit()
        _drain(app, workers, outcomes)
        _deliver(emulator)
        with app.app_context():  # finance pays again what failed or expired (a new number)
            for entry in db.session.scalars(
                select(RewardEntry).where(RewardEntry.state == EntryState.APPROVED)
            ):
                payouts.retry(entry, staff_for_retry())
            db.session.commit()
    seconds = time.perf_counter() - started
    emulator.set_faults()
    with app.app_context():
        return _verify(app, emulator, n, rounds, seconds, outcomes, ledger)


def staff_for_retry():
    """The finance account that pays failed rewards again."""
    from app.auth.models import StaffUser
    from app.extensions import db

    return db.session.scalar(select(StaffUser).where(StaffUser.username.like("chaos-fin-0-%")))


def _verify(app, emulator, n, rounds, seconds, outcomes, ledger) -> Result:
    from app.extensions import db
    from reports.littering.models import EntryState, Payout, PayoutState, RewardEntry

    bills = {
        row["out_bill_no"]: dict(row)
        for row in emulator.state.conn().execute(
            "SELECT out_bill_no, state, transfer_amount, openid FROM bills"
        )
    }
    payouts_by_no = {p.out_bill_no: p for p in db.session.scalars(select(Payout))}
    entries = {e.id: e for e in db.session.scalars(select(RewardEntry))}
    problems = []
    success_per_entry: Counter = Counter()
    for number, bill in bills.items():
        payout = payouts_by_no.get(number)
        if payout is None and number.startswith("REF"):
            continue  # the reference round trips of this run
        if payout is None:
            problems.append(f"bill {number} unknown to the ledger")
            continue
        if bill["transfer_amount"] != payout.amount_fen:
            problems.append(
                f"bill {number} amount {bill['transfer_amount']} != {payout.amount_fen}"
            )
        if bill["state"] == "SUCCESS":
            success_per_entry[payout.entry_id] += 1
            if payout.state != PayoutState.SUCCESS:
                problems.append(f"bill {number} paid at WeChat, ledger says {payout.state.value}")
    paid_twice = [e for e, c in success_per_entry.items() if c > 1]
    lost = [e.id for e in entries.values() if e.state != EntryState.PAID]
    unpaid_at_wechat = [e for e in entries if e not in success_per_entry]
    problems += [f"entry {e} paid {success_per_entry[e]} times" for e in paid_twice]
    problems += [f"entry {e} not paid" for e in lost[:20]]
    problems += [f"entry {e} has no SUCCESS bill" for e in unpaid_at_wechat[:20]]
    check = ledger.check()
    problems += check.problems
    return Result(
        payouts=n,
        seconds=seconds,
        rounds=rounds,
        bills=len(bills),
        renumbered=len(payouts_by_no) - n,
        outcomes=outcomes,
        problems=problems,
    )


def reference_round_trips(app, emulator, k: int = 200) -> float:
    """Seconds per create+query round trip to the emulator with no faults (same client); their
    callbacks go to a sink, not to our endpoint."""
    from wechat.pay import TransferClient

    _, sink = serve(lambda environ, start: (start("204 No Content", []), [b""])[1])
    client = TransferClient.from_config(app.config)
    emulator.set_faults()
    started = time.perf_counter()
    for i in range(k):
        number = f"REF{time.time_ns()}{i}"[:32]
        client.create_bill(
            number,
            "o-reference",
            100,
            "参考",
            notify_url=sink,
            scene_report_infos=[
                {"info_type": "活动名称", "info_content": "参考"},
                {"info_type": "奖励说明", "info_content": "参考"},
            ],
        )
        client.query_bill(number)
    return (time.perf_counter() - started) / k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", default="", help="database URL (default: a SQLite file)")
    args = parser.parse_args()
    from flask_migrate import upgrade

    from app import create_app
    from wechat.pay.emulator import emulator_from_config

    tmp = Path(tempfile.mkdtemp(prefix="payout-chaos-"))
    url = args.db or f"sqlite:///{tmp / 'chaos.db'}"
    overrides = {
        "SQLALCHEMY_DATABASE_URI": url,
        "UPLOAD_DIR": str(tmp / "up"),
        "WECHATPAY_EMULATOR_DB": str(tmp / "pay.db"),
        "WECHATPAY_HTTP_TIMEOUT": 0.5,
        "LITTERING_RETRY_SCALE": 0.0001,
        "CHANGES_FILE": str(tmp / "seq.bin"),
    }
    app = create_app("development", overrides)
    emulator = emulator_from_config(app.config)
    _, pay_url = serve(emulator)
    _, app_url = serve(app)
    app.config.update(
        WECHATPAY_API_BASE_URL=pay_url, WECHATPAY_NOTIFY_URL=f"{app_url}/wechat/pay/transfer-notify"
    )
    with app.app_context():
        upgrade()
    reference = reference_round_trips(app, emulator)
    result = run(app, emulator, n=args.payouts, workers=args.workers)
    print(
        json.dumps(
            {
                "payouts": result.payouts,
                "workers": args.workers,
                "seconds": round(result.seconds, 1),
                "reference_round_trip_ms": round(reference * 1000, 2),
                "seconds_per_payout_over_reference": round(
                    result.seconds / result.payouts / reference, 2
                ),
                "rounds": result.rounds,
                "bills_at_wechat": result.bills,
                "new_numbers_after_confirmed_failure": result.renumbered,
                "outcomes": dict(result.outcomes),
                "problems": result.problems[:20],
                "paid_twice": sum("paid 2" in p for p in result.problems),
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    raise SystemExit(1 if result.problems else 0)


if __name__ == "__main__":
    main()
