"""An emulator of the city's 12345 platform, for the embedded mode and the tests.

Mounted at ``/_12345`` when HOTLINE_EMULATOR is on (and served over real HTTP by the tests).
It receives our status pushes (``POST /api/status``: signature and timestamp checked as we
check the platform's, each ``push_id`` applied once: a repeat is acknowledged, not recorded
again), shows them on a small Chinese page, sends demo orders to our inbound interface (the
form on that page, or ``flask hotline send-demo``), and injects faults for the retry tests: the
next N pushes answer 500, or are recorded and answered only after ``timeout_seconds`` (the
sender gives up first and sends the push again).

Its state lives in a small SQLite file (HOTLINE_EMULATOR_DB), so every worker process of the
embedded server shows the same pushes.
"""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Mapping
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import Flask, jsonify, redirect, render_template, request

from reports.hotline import signing

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (push_id TEXT PRIMARY KEY, order_id TEXT, seq INTEGER,
  state_label TEXT, action_label TEXT, text TEXT, case_number TEXT, received_at TEXT,
  body TEXT, deliveries INTEGER DEFAULT 1);
CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY CHECK (id = 1), mode TEXT,
  remaining INTEGER, timeout_seconds REAL);
CREATE TABLE IF NOT EXISTS sent_orders (order_id TEXT PRIMARY KEY, status INTEGER, answer TEXT,
  sent_at TEXT);
"""
# Demo orders: (platform category code, name, content, address, BD-09 point or None).
DEMO_ORDERS = [
    ("CG0101", "占道经营", "市民反映太原街路口有商贩占用人行道摆摊经营，影响行人通行",
     "和平区太原街", (41.7993, 123.4145)),
    ("CG0301", "噪音扰民（施工）", "市民反映小北一路工地夜间22点后仍在施工，噪音很大影响休息",
     "铁西区小北一路", (41.8183, 123.3614)),
    ("CG0401", "垃圾清运", "小区门口堆放的生活垃圾三天没有清运，气味难闻", "和平区南京南街", None),
    ("CG0501", "井盖缺失", "路边一处雨水井盖缺失，晚上很危险，请尽快处理", "铁西区北二路",
     (41.8150, 123.3700)),
]  # fmt: skip


class HotlineEmulator:
    """The platform's side: its shared secret, its id and the state file."""

    def __init__(self, secret: str, platform: str, db_path: str, inbound_url: str,
                 max_skew: int = 300) -> None:  # fmt: skip
        self.secret, self.platform, self.inbound_url = secret, platform, inbound_url
        self.max_skew = max_skew
        self.db_path = db_path
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with closing(self._connect()) as conn:
            conn.executescript(SCHEMA)
        self.app = _build_app(self)

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    # ------------------------------------------------------------ faults

    def inject(self, mode: str, count: int, timeout_seconds: float = 0.0) -> None:
        """The next ``count`` pushes fail: ``error`` (HTTP 500) or ``timeout`` (recorded, then
        answered after ``timeout_seconds``)."""
        with closing(self._connect()) as conn:
            conn.execute("INSERT OR REPLACE INTO faults VALUES (1, ?, ?, ?)",
                         (mode, max(count, 0), timeout_seconds))  # fmt: skip

    def _take_fault(self) -> tuple[str, float] | None:
        with self._lock, closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT mode, remaining, timeout_seconds FROM faults").fetchone()
            if row is None or row["remaining"] <= 0:
                conn.execute("COMMIT")
                return None
            conn.execute("UPDATE faults SET remaining = remaining - 1")
            conn.execute("COMMIT")
            return row["mode"], row["timeout_seconds"]

    def faults(self) -> dict[str, Any]:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT mode, remaining, timeout_seconds FROM faults").fetchone()
        return dict(row) if row else {"mode": None, "remaining": 0, "timeout_seconds": 0}

    # ------------------------------------------------------------ pushes

    def record(self, payload: dict[str, Any], body: bytes) -> bool:
        """Apply a push once; False for a repeat of one already applied."""
        with self._lock, closing(self._connect()) as conn:
            try:
                conn.execute(
                    "INSERT INTO pushes (push_id, order_id, seq, state_label, action_label, text,"
                    " case_number, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (payload["push_id"], payload.get("order_id"), payload.get("seq"),
                     payload.get("state_label"), payload.get("action_label"),
                     payload.get("text"), payload.get("case_number"),
                     datetime.now(UTC).isoformat(), body.decode("utf-8")))  # fmt: skip
            except sqlite3.IntegrityError:
                conn.execute("UPDATE pushes SET deliveries = deliveries + 1 WHERE push_id = ?",
                             (payload["push_id"],))  # fmt: skip
                return False
        return True

    def pushes(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Pushes applied, in the order they arrived (rowid)."""
        with closing(self._connect()) as conn:
            if order_id:
                rows = conn.execute(
                    "SELECT * FROM pushes WHERE order_id = ? ORDER BY rowid", (order_id,)
                )
            else:
                rows = conn.execute("SELECT * FROM pushes ORDER BY rowid")
            return [dict(r) for r in rows]

    def reset(self) -> None:
        with closing(self._connect()) as conn:
            conn.executescript("DELETE FROM pushes; DELETE FROM faults; DELETE FROM sent_orders;")

    # ------------------------------------------------------------ orders out

    def send_order(self, order: dict[str, Any], url: str | None = None,
                   timeout: float = 30) -> requests.Response:  # fmt: skip
        """Send a signed order to our inbound interface; the answer is kept for the page."""
        body = json.dumps(order, ensure_ascii=False).encode("utf-8")
        headers = signing.sign(self.secret, body, platform=self.platform)
        headers["Content-Type"] = "application/json; charset=utf-8"
        resp = requests.post(url or self.inbound_url, data=body, headers=headers, timeout=timeout)
        with closing(self._connect()) as conn:
            conn.execute("INSERT OR REPLACE INTO sent_orders VALUES (?, ?, ?, ?)",
                         (order["order_id"], resp.status_code, resp.text[:500],
                          datetime.now(UTC).isoformat()))  # fmt: skip
        return resp

    def sent_orders(self) -> list[dict[str, Any]]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT * FROM sent_orders ORDER BY sent_at DESC LIMIT 50")
            return [dict(r) for r in rows]


def demo_order(index: int | None = None, *, deadline_hours: float = 48,
               order_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A realistic order of the platform (one of DEMO_ORDERS; random when no ``index``)."""
    if index is None:
        index = random.randrange(len(DEMO_ORDERS))  # noqa: S311 - a demo, not a secret
    code, name, content, address, point = DEMO_ORDERS[index % len(DEMO_ORDERS)]
    now = datetime.now(LOCAL_TZ).replace(microsecond=0)
    order = {
        "order_id": order_id or f"SY12345-{now:%Y%m%d}-{random.randint(0, 999999):06d}",  # noqa: S311
        "category_code": code, "category_name": name, "title": name, "content": content,
        "address": address, "caller_phone": "13800000000",
        "received_at": now.isoformat(),
        "reply_deadline": (now + timedelta(hours=deadline_hours)).isoformat(),
    }  # fmt: skip
    if point:
        order |= {"lat": point[0], "lng": point[1], "coord_sys": "bd09"}
    return order


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _build_app(emu: HotlineEmulator) -> Flask:
    app = Flask(__name__, template_folder=str(Path(__file__).resolve().parent / "templates"))
    app.json.ensure_ascii = False

    @app.post("/api/status")
    def status():
        body = request.get_data()
        try:
            platform = signing.verify(emu.secret, request.headers, body, emu.max_skew)
        except signing.SignatureProblem as exc:
            return jsonify(code=401, message=f"签名无效：{exc.code}"), 401
        if platform != emu.platform:
            return jsonify(code=403, message="平台标识不符"), 403
        try:
            payload = json.loads(body)
            payload["push_id"]  # noqa: B018 - required
        except (ValueError, KeyError, TypeError):
            return jsonify(code=400, message="回传内容格式错误"), 400
        fault = emu._take_fault()
        if fault is not None and fault[0] == "error":
            return jsonify(code=500, message="平台内部错误（模拟）"), 500
        new = emu.record(payload, body)
        if fault is not None:  # timeout: applied, but the answer comes too late
            time.sleep(fault[1])
        return jsonify(code=0, message="成功" if new else "重复回传，已忽略")

    @app.get("/")
    def index():
        pushes = list(reversed(emu.pushes()))[:200]
        for p in pushes:
            p["received_at_local"] = _local(p["received_at"])
        return render_template("hotline/emulator.html", pushes=pushes, faults=emu.faults(),
                                      sent=emu.sent_orders(), demo=DEMO_ORDERS)  # fmt: skip

    @app.get("/api/pushes")
    def list_pushes():
        return jsonify(items=emu.pushes(request.args.get("order_id")))

    @app.post("/faults")
    def faults():
        data = request.get_json(silent=True) or request.form
        emu.inject(data.get("mode", "error"), int(data.get("count", 1)),
                   float(data.get("timeout_seconds", 0) or 0))  # fmt: skip
        return jsonify(emu.faults()) if request.is_json else redirect("./")

    @app.post("/send")
    def send():
        index = int(request.form.get("index", 0))
        hours = float(request.form.get("hours", 48) or 48)
        # The page shows what was answered; an unreachable server answered nothing.
        with contextlib.suppress(requests.RequestException):
            emu.send_order(demo_order(index, deadline_hours=hours))
        return redirect("./")

    return app


def emulator_from_config(config: Mapping[str, Any]) -> HotlineEmulator:
    """The emulator with the app's secret, platform id and state file; orders go to our
    inbound interface at PUBLIC_BASE_URL."""
    return HotlineEmulator(
        config["HOTLINE_SECRET"], config["HOTLINE_PLATFORM_ID"], config["HOTLINE_EMULATOR_DB"],
        config["PUBLIC_BASE_URL"] + "/api/v1/hotline/orders", config["HOTLINE_MAX_SKEW_SECONDS"],
    )  # fmt: skip
