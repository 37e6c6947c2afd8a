"""The fault-injection run in the suite: 1,000 rewards paid through the WeChat Pay emulator over
HTTP with about 20% of calls, bills and callbacks faulted (every fault kind), four payout workers
at once, callbacks arriving at our endpoint over HTTP. 0 paid twice, 0 lost, the ledger balances
(bench/payout_chaos.py runs the same with 10,000 and records the time)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from flask_migrate import upgrade

from app import create_app
from app.extensions import db
from wechat.pay.emulator import emulator_from_config

BENCH = Path(__file__).resolve().parents[3] / "bench" / "payout_chaos.py"


def _chaos():
    spec = importlib.util.spec_from_file_location("payout_chaos", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_thousand_payouts_under_faults(live_db_url, tmp_path, rate_limiter):
    chaos = _chaos()
    app = create_app(
        "testing",
        {
            "SQLALCHEMY_DATABASE_URI": live_db_url,
            "UPLOAD_DIR": str(tmp_path / "up"),
            "WECHATPAY_EMULATOR_DB": str(tmp_path / "pay.db"),
            "WECHATPAY_HTTP_TIMEOUT": 0.5,
            "LITTERING_RETRY_SCALE": 0.0001,
            "CHANGES_FILE": str(tmp_path / "seq.bin"),
            "RATELIMIT_ENABLED": False,
        },
    )
    emulator = emulator_from_config(app.config)
    pay_server, pay_url = chaos.serve(emulator)
    app_server, app_url = chaos.serve(app)
    app.config.update(
        WECHATPAY_API_BASE_URL=pay_url, WECHATPAY_NOTIFY_URL=f"{app_url}/wechat/pay/transfer-notify"
    )
    try:
        with app.app_context():
            upgrade()
        result = chaos.run(app, emulator, n=1000, workers=4)
    finally:
        pay_server.shutdown()
        app_server.shutdown()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert result.problems == []
    faults = {k for k in result.outcomes if k not in ("moved", "busy", "success", "unchanged")}
    assert {"unknown", "frequency_limited", "not_enough"} <= faults, result.outcomes
    assert result.renumbered > 0  # failed and expired bills were paid again under new numbers
    assert result.bills >= 1000
