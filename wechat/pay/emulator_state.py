"""The WeChat Pay emulator's state: bills, notifications, clock and faults in one SQLite file.

Every process (gunicorn workers, a separate ``flask worker``, the test server) opens the same file,
so they see one emulator. WAL mode, one connection per thread, a busy timeout, and writes in
``BEGIN IMMEDIATE`` transactions so two writers queue instead of failing on a lock upgrade.

Times are emulator-clock seconds (wall time plus an offset that tests advance), so a test can make
24 hours pass. Fault draws hash (seed, operation, out_bill_no, attempt number): the same seed gives
the same faults for the same bill whatever the concurrency.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DAY = 24 * 3600
# WeChat's retry schedule for notifications that get no 2xx (seconds after each failure).
CALLBACK_BACKOFF = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600)
REQUEST_FAULTS = ("timeout", "http500", "system_error", "frequency_limited", "not_enough")
BILL_FAULTS = ("no_confirm", "fail")
CALLBACK_FAULTS = ("dup_callback", "out_of_order_callback", "lost_callback")
ALL_FAULTS = REQUEST_FAULTS + BILL_FAULTS + CALLBACK_FAULTS
# fail_reason values WeChat documents for a bill that fails after the user confirmed.
FAIL_REASONS = (
    "PAYEE_ACCOUNT_ABNORMAL",
    "ACCOUNT_FROZEN",
    "REAL_NAME_CHECK_FAIL",
    "DAY_RECEIVED_QUOTA_EXCEED",
)
EXPIRED_REASON = "OVERDUE_CLOSE"  # 超过系统重试期，系统自动关闭 (unconfirmed for 24 h)
CANCEL_REASON = "MCH_CANCEL"

SCHEMA = """
CREATE TABLE IF NOT EXISTS bills (
    out_bill_no TEXT PRIMARY KEY,
    transfer_bill_no TEXT NOT NULL UNIQUE,
    mch_id TEXT NOT NULL,
    appid TEXT NOT NULL,
    openid TEXT NOT NULL,
    transfer_amount INTEGER NOT NULL,
    transfer_remark TEXT NOT NULL,
    transfer_scene_id TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    notify_url TEXT,
    package_info TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    fail_reason TEXT,
    fault_no_confirm INTEGER NOT NULL DEFAULT 0,
    fault_fail INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    confirmed_at REAL
);
CREATE INDEX IF NOT EXISTS ix_bills_state_created ON bills (state, created_at);
CREATE TABLE IF NOT EXISTS notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    nid TEXT NOT NULL,
    out_bill_no TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    fault TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    delivered_at REAL,
    last_result TEXT
);
CREATE INDEX IF NOT EXISTS ix_notifications_due ON notifications (status, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    out_bill_no TEXT NOT NULL,
    op TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (out_bill_no, op)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class EmulatorError(Exception):
    """A WeChat Pay error answer: HTTP status and ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Faults:
    """Fault injection settings. ``rate`` is the chance that one call, bill or notification is
    hit; the kind is then drawn among the listed kinds of that class."""

    rate: float = 0.0
    kinds: list[str] = field(default_factory=list)
    seed: int = 0
    timeout_seconds: float = 6.0
    auto_confirm: bool = False

    def kinds_of(self, group: tuple[str, ...]) -> list[str]:
        """The listed kinds that belong to ``group``, in a stable order."""
        return [k for k in group if k in self.kinds] if self.rate > 0 else []


def draw(seed: int, *parts: Any) -> float:
    """A deterministic number in [0, 1) for ``parts`` under ``seed``."""
    text = "|".join(str(p) for p in (seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def pick(faults: Faults, group: tuple[str, ...], *parts: Any) -> str | None:
    """The fault of ``group`` drawn for ``parts``, or None."""
    kinds = faults.kinds_of(group)
    if not kinds or draw(faults.seed, *parts, "hit") >= faults.rate:
        return None
    return kinds[int(draw(faults.seed, *parts, "kind") * len(kinds))]


class EmulatorState:
    """Bills, notifications, the clock and the fault settings, shared through SQLite."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = str(db_path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.conn().executescript(SCHEMA)

    # -- connections ---------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must stay on their thread)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (no deadlock on upgrading a read lock)."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def reset(self) -> None:
        """Forget every bill, notification, counter, fault setting and clock offset."""
        with self.tx() as conn:
            for table in ("bills", "notifications", "attempts", "meta"):
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names

    # -- clock and faults ----------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def now(self) -> float:
        """Emulator time: wall time plus the offset tests added."""
        return time.time() + float(self._meta("clock_offset") or 0)

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator clock forward; returns the new emulator time."""
        with self.tx() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'clock_offset'").fetchone()
            offset = float(row[0] if row else 0) + float(seconds)
            self._set_meta(conn, "clock_offset", repr(offset))
        return time.time() + offset

    def faults(self) -> Faults:
        """The current fault settings."""
        raw = self._meta("faults")
        return Faults(**json.loads(raw)) if raw else Faults()

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings (seen by every process at its next call)."""
        unknown = set(faults.kinds) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if not 0 <= faults.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self.tx() as conn:
            self._set_meta(conn, "faults", json.dumps(asdict(faults)))

    def next_attempt(self, op: str, out_bill_no: str) -> int:
        """Count one call of ``op`` on ``out_bill_no``; returns its number (1 for the first)."""
        with self.tx() as conn:
            row = conn.execute(
                "INSERT INTO attempts (out_bill_no, op, n) VALUES (?, ?, 1) "
                "ON CONFLICT (out_bill_no, op) DO UPDATE SET n = n + 1 RETURNING n",
                (out_bill_no, op),
            ).fetchone()
        return int(row[0])

    # -- bills ---------------------------------------------------------------------------------

    def bill(self, out_bill_no: str) -> dict[str, Any] | None:
        """The bill row under our number, or None."""
        row = (
            self.conn()
            .execute("SELECT * FROM bills WHERE out_bill_no = ?", (out_bill_no,))
            .fetchone()
        )
        return dict(row) if row else None

    def bill_by(self, column: str, value: str) -> dict[str, Any] | None:
        """The bill whose transfer_bill_no or package_info is ``value``."""
        if column not in {"transfer_bill_no", "package_info"}:
            raise ValueError(column)
        row = (
            self.conn()
            .execute(
                f"SELECT * FROM bills WHERE {column} = ?",  # noqa: S608 - column checked above
                (value,),
            )
            .fetchone()
        )
        return dict(row) if row else None

    def bills(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest bills first."""
        rows = self.conn().execute(
            "SELECT * FROM bills ORDER BY created_at DESC, out_bill_no LIMIT ?", (limit,)
        )
        return [dict(r) for r in rows]

    def insert_bill(self, bill: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a new bill, or return the one already under its number: (row, created)."""
        columns = ", ".join(bill)
        marks = ", ".join("?" for _ in bill)
        with self.tx() as conn:
            existing = conn.execute(
                "SELECT * FROM bills WHERE out_bill_no = ?", (bill["out_bill_no"],)
            ).fetchone()
            if existing:
                return dict(existing), False
            conn.execute(
                f"INSERT INTO bills ({columns}) VALUES ({marks})",  # noqa: S608 - our keys
                tuple(bill.values()),
            )
        return dict(bill), True

    def _update(self, conn: sqlite3.Connection, out_bill_no: str, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        conn.execute(
            f"UPDATE bills SET {sets} WHERE out_bill_no = ?",  # noqa: S608 - our keys
            (*changes.values(), out_bill_no),
        )

    def transition(
        self,
        out_bill_no: str,
        allowed: set[str],
        state: str,
        *,
        fail_reason: str | None = None,
        notify: Any = None,
    ) -> dict[str, Any]:
        """Move a bill in one of ``allowed`` states to ``state``; queue ``notify(row)`` if given.

        Raises KeyError when there is no such bill and EmulatorError when its state forbids it.
        """
        now = self.now()
        with self.tx() as conn:
            row = conn.execute(
                "SELECT * FROM bills WHERE out_bill_no = ?", (out_bill_no,)
            ).fetchone()
            if row is None:
                raise KeyError(out_bill_no)
            if row["state"] not in allowed:
                raise EmulatorError(
                    400, "INVALID_REQUEST", f"当前单据状态为{row['state']}，不支持此操作"
                )
            changes: dict[str, Any] = {"state": state, "updated_at": now}
            if fail_reason:
                changes["fail_reason"] = fail_reason
            if state == "TRANSFERING":
                changes["confirmed_at"] = now
            self._update(conn, out_bill_no, **changes)
            updated = {**dict(row), **changes}
            if notify is not None:
                notify(conn, updated)
        return updated

    def due_bills(self, now: float) -> list[tuple[str, str]]:
        """(out_bill_no, state) of bills whose waiting time ran out or whose transfer settles."""
        rows = self.conn().execute(
            "SELECT out_bill_no, state FROM bills WHERE "
            "(state = 'WAIT_USER_CONFIRM' AND created_at <= ?) OR state = 'TRANSFERING'",
            (now - DAY,),
        )
        return [(r[0], r[1]) for r in rows]

    # -- notifications -------------------------------------------------------------------------

    def queue_notification(
        self, conn: sqlite3.Connection, row: dict[str, Any], nid: str, body: str, faults: Faults
    ) -> None:
        """Queue the finished-bill notification, with the callback fault drawn for it."""
        url = row.get("notify_url")
        if not url:
            return
        now = self.now()
        fault = pick(faults, CALLBACK_FAULTS, "callback", row["out_bill_no"])
        status, next_at = "pending", now
        if fault == "lost_callback":
            status = "lost"
        elif fault == "out_of_order_callback":
            # Held back a little so later bills' notifications overtake it.
            next_at = now + 5 + 55 * draw(faults.seed, "delay", row["out_bill_no"])
        insert = (
            "INSERT INTO notifications (nid, out_bill_no, url, body, status, fault, next_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        conn.execute(insert, (nid, row["out_bill_no"], url, body, status, fault, next_at, now))
        if fault == "dup_callback":
            # The same notification again, a little later (after newer ones, as WeChat may).
            conn.execute(insert, (nid, row["out_bill_no"], url, body, status, fault, now + 20, now))

    def claim_notifications(self, max_items: int | None, lease: float = 30) -> list[dict[str, Any]]:
        """Due pending notifications, leased to this caller so other processes skip them."""
        now, wall = self.now(), time.time()
        with self.tx() as conn:
            rows = conn.execute(
                "SELECT * FROM notifications WHERE status = 'pending' AND next_at <= ? "
                "AND claimed_until < ? ORDER BY next_at, seq LIMIT ?",
                (now, wall, max_items if max_items is not None else -1),
            ).fetchall()
            conn.executemany(
                "UPDATE notifications SET claimed_until = ? WHERE seq = ?",
                [(wall + lease, r["seq"]) for r in rows],
            )
        return [dict(r) for r in rows]

    def record_delivery(self, seq: int, ok: bool, result: str) -> None:
        """Mark a delivery attempt: delivered, or retried later with WeChat's backoff."""
        now = self.now()
        with self.tx() as conn:
            row = conn.execute(
                "SELECT attempts FROM notifications WHERE seq = ?", (seq,)
            ).fetchone()
            attempts = (row[0] if row else 0) + 1
            if ok:
                status, next_at = "delivered", now
            elif attempts > len(CALLBACK_BACKOFF):
                status, next_at = "failed", now
            else:
                status, next_at = "pending", now + CALLBACK_BACKOFF[attempts - 1]
            conn.execute(
                "UPDATE notifications SET status = ?, attempts = ?, next_at = ?, claimed_until = 0,"
                " delivered_at = ?, last_result = ? WHERE seq = ?",
                (status, attempts, next_at, now if ok else None, result[:200], seq),
            )

    def notifications(self, out_bill_no: str | None = None, limit: int = 500) -> list[dict]:
        """Queued notifications, oldest first, optionally for one bill."""
        sql = "SELECT * FROM notifications"
        args: tuple[Any, ...] = ()
        if out_bill_no:
            sql, args = sql + " WHERE out_bill_no = ?", (out_bill_no,)
        rows = self.conn().execute(sql + " ORDER BY seq LIMIT ?", (*args, limit))
        return [dict(r) for r in rows]
