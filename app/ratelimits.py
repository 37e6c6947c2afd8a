"""Rate-limit strings from config, so deployments tune them without code changes, and a lean
per-address limiter for the hottest public routes."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, request
from limits import parse_many

from app.errors import TooManyRequests
from app.extensions import REDIS_SCHEMES, redis_client

log = logging.getLogger(__name__)


def public_limit() -> str:
    """Limit for public, unauthenticated endpoints (per client address)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def report_limit() -> str:
    """Limit on report submissions per citizen."""
    return current_app.config["RATELIMIT_REPORTS"]


def login_limit() -> str:
    """Limit for sign-in endpoints (per client address)."""
    return current_app.config["RATELIMIT_LOGIN"]


# ---------------------------------------------------------------- lean limiter for hot routes


FAILED_PAUSE = 5.0  # seconds without syncing after Redis failed (config: REDIS_RETRY_SECONDS)


@dataclass(slots=True)
class _Slot:
    window: int  # index of the fixed window (seconds since the epoch // period)
    amount: int  # the limit
    pending: int = 0  # hits in this process not yet added to the shared counter
    shared: int = 0  # the shared counter as last read (every process's hits, ours included)


class WindowCounter:
    """Fixed-window hit counts per key, kept in the process (a dict and a lock: ~2 us a hit).

    With Redis, each process adds its pending hits to one shared counter per key and window at
    most every ``sync_seconds`` (one pipeline for all keys) and reads the totals back, so every
    worker enforces the same budget; between syncs a client can overshoot by what it sends to the
    *other* workers in that interval (workers x rate x sync_seconds). If Redis is unreachable the
    limit still holds per process. Without Redis the counts are per process, as Flask-Limiter's
    memory storage is.
    """

    def __init__(self, redis=None, prefix: str = "zhcg", sync_seconds: float = 0.2,
                 failed_pause: float = FAILED_PAUSE) -> None:  # fmt: skip
        self.redis = redis
        self.prefix = prefix
        self.sync_seconds = sync_seconds
        self.failed_pause = failed_pause
        self.slots: dict[tuple, _Slot] = {}
        self.lock = threading.Lock()
        self.sync_lock = threading.Lock()
        self.synced = time.monotonic()

    def hit(self, key: tuple, amount: int, period: int) -> float | None:
        """Count one hit; None if allowed, else the seconds until the window ends."""
        now = time.time()
        window = int(now // period)
        with self.lock:
            slot = self.slots.get(key)
            if slot is None or slot.window != window:
                slot = self.slots[key] = _Slot(window, amount)
            if slot.pending + slot.shared >= amount:
                return (window + 1) * period - now
            slot.pending += 1
        if time.monotonic() - self.synced >= self.sync_seconds:
            self.sync()
        return None

    def sync(self) -> None:
        """Send pending hits to Redis and read the shared totals; drop finished windows. One thread
        per process does it; the others keep going."""
        if not self.sync_lock.acquire(blocking=False):
            return
        try:
            self.synced = time.monotonic()
            now = time.time()
            with self.lock:
                stale = [k for k, s in self.slots.items() if s.window != int(now // k[-1])]
                for k in stale:
                    del self.slots[k]
                # Slots with new hits, and those past half their budget (hits elsewhere may
                # have used the rest).
                batch = [(k, s.window, s.pending) for k, s in self.slots.items()
                         if s.pending or 2 * s.shared >= s.amount]  # fmt: skip
                for k, _, n in batch:  # optimistic: counted as shared until Redis answers
                    slot = self.slots[k]
                    slot.pending, slot.shared = 0, slot.shared + n
            if self.redis is None or not batch:
                return
            pipe = self.redis.pipeline(transaction=False)
            for k, window, n in batch:
                name = f"{self.prefix}:fl:{':'.join(map(str, k))}:{window}"
                pipe.incrby(name, n)
                pipe.expire(name, k[-1] + 5)
            totals = pipe.execute()[::2]
            with self.lock:
                for (k, window, _), total in zip(batch, totals, strict=True):
                    slot = self.slots.get(k)
                    if slot is not None and slot.window == window:
                        slot.shared = max(slot.shared, int(total))
        except Exception:  # noqa: BLE001 - Redis down: the limit still holds in this process
            log.warning("rate-limit sync with Redis failed; retrying in %.0f s", self.failed_pause,
                        exc_info=True)  # fmt: skip
            self.synced = time.monotonic() + self.failed_pause - self.sync_seconds
        finally:
            self.sync_lock.release()


def window_counter(app: Flask) -> WindowCounter:
    """The app's counter: shared through Redis when the limiter's storage is Redis."""
    counter = app.extensions.get("fast_limit")
    if counter is None:
        uri = app.config.get("RATELIMIT_STORAGE_URI") or ""
        # The app's guarded pool: short timeouts, no retries, and no waiting at all while a
        # recent failure keeps Redis paused (sync() then pauses syncing too).
        client = redis_client(app, uri) if uri.startswith(REDIS_SCHEMES) else None
        prefix = app.config["RATELIMIT_KEY_PREFIX"]
        pause = float(app.config.get("REDIS_RETRY_SECONDS", FAILED_PAUSE))
        counter = app.extensions.setdefault(
            "fast_limit", WindowCounter(client, prefix, failed_pause=pause)
        )
    return counter


_parsed: dict[str, list[tuple[int, int]]] = {}


def enforce(text: str, *key: object) -> None:
    """Count one hit against the limits in ``text`` for ``key`` (scope, client ...); 429 in the
    one error shape with Retry-After when one is used up."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config["RATELIMIT_ENABLED"]:
        return
    items = _parsed.get(text)
    if items is None:
        items = _parsed[text] = [(i.amount, i.get_expiry()) for i in parse_many(text)]
    counter = window_counter(app)
    for amount, period in items:
        wait = counter.hit((*key, amount, period), amount, period)
        if wait is not None:
            raise TooManyRequests(headers={"Retry-After": str(max(1, int(wait) + 1))})


def fast_limit(limit_provider, scope: str):
    """Decorator: a per-client-address fixed-window limit for hot public routes (a shop plate
    lookup costs a few hundred microseconds; Flask-Limiter's per-route machinery alone ~100 us, a
    Redis round trip per request more). Counts in a :class:`WindowCounter`."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            enforce(limit_provider(), scope, request.remote_addr)
            return view(*args, **kwargs)

        wrapper.fast_limited = True  # Flask-Limiter's hook leaves it alone (app.extensions)
        return wrapper

    return decorate
