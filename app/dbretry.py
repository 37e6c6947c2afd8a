"""Transparent retry of a request whose transaction lost a deadlock (MariaDB 1213).

InnoDB picks a victim when two transactions wait on each other, and Galera aborts a transaction
whose writes conflict with one certified first on another node (a certification failure, or a
brute-force abort of a local transaction); both reach the client as error 1213 with the whole
transaction rolled back, and the server's advice is "try restarting transaction". The error
handler (``app.errors.handle_database_error``) rolls the session back and marks the request;
this middleware then runs the same request again, from the same body, up to
``DB_DEADLOCK_RETRIES`` times, before the client sees the 503 ``database_busy`` it would have
seen anyway.

Only the database's effects are known to be undone, so the views this protects do their
outside effects (WeChat calls, payouts) from the outbox after commit, never inside a request's
transaction; a stored photo of a lost attempt is an unreferenced object, as after any failed
upload. Lock wait timeouts (1205) are not retried: the request already waited 50 s.

The request body is copied as the view reads it (in memory up to 1 MiB, then a temporary file)
and replayed to the next attempt; a body the first attempt did not read is read on from the
client.
"""

from __future__ import annotations

import io
import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from prometheus_client import Counter

from app.errors import DEADLOCK_FLAG as FLAG
from app.metrics import REGISTRY

log = logging.getLogger(__name__)

SPOOL_BYTES = 1024 * 1024

RETRIES = Counter(
    "zhcg_db_deadlock_retries",
    "Requests run again after their transaction lost a deadlock or a Galera certification "
    "(outcome: retried = run again, gave_up = answered 503 after the last attempt)",
    ["outcome"],
    registry=REGISTRY,
)


class _Tee:
    """``wsgi.input`` that copies what is read, so a later attempt can read it again."""

    def __init__(self, stream: Any, copy: Any) -> None:
        self._stream, self._copy = stream, copy

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read() if size is None or size < 0 else self._stream.read(size)
        self._copy.write(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._stream.readline(size)
        self._copy.write(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self._stream.readlines(hint)
        for line in lines:
            self._copy.write(line)
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


class _Replay(_Tee):
    """The bytes an earlier attempt read, then the rest from the client (copied as well)."""

    def __init__(self, earlier: bytes, stream: Any, copy: Any) -> None:
        super().__init__(stream, copy)
        self._earlier = io.BytesIO(earlier)

    def read(self, size: int = -1) -> bytes:
        data = self._earlier.read() if size is None or size < 0 else self._earlier.read(size)
        if size is None or size < 0:
            return data + super().read()
        if len(data) < size:
            data += super().read(size - len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self._earlier.readline(size)
        if data.endswith(b"\n") or (size is not None and 0 <= size <= len(data)):
            return data
        rest = super().readline(-1 if size is None or size < 0 else size - len(data))
        return data + rest

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))


class RetryDeadlocks:
    def __init__(self, wsgi_app: Callable, attempts: int) -> None:
        self.wsgi_app, self.attempts = wsgi_app, attempts

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        original = environ.get("wsgi.input")
        if original is None or self.attempts <= 1:
            return self.wsgi_app(environ, start_response)
        copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed below
        stream: Any = _Tee(original, copy)
        try:
            for attempt in range(1, self.attempts + 1):
                env = dict(environ, **{"wsgi.input": stream})
                captured: list[Any] = []

                def capture(status, headers, exc_info=None, captured=captured):
                    captured[:] = [status, headers, exc_info]
                    return lambda _data: None  # the write() callable; Flask never uses it

                body = self.wsgi_app(env, capture)
                if not env.get(FLAG) or attempt == self.attempts:
                    if env.get(FLAG):
                        RETRIES.labels("gave_up").inc()
                    start_response(*captured)
                    return body
                getattr(body, "close", lambda: None)()
                RETRIES.labels("retried").inc()
                log.info("deadlock on %s %s: attempt %d of %d", environ.get("REQUEST_METHOD"),
                         environ.get("PATH_INFO"), attempt + 1, self.attempts)  # fmt: skip
                # A short random pause: the winner commits and the two do not meet again.
                time.sleep(random.uniform(0.005, 0.05) * attempt)  # noqa: S311 - jitter
                copy.seek(0)
                earlier = copy.read()  # and the copy stays: what comes next is appended
                stream = _Replay(earlier, original, copy)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            copy.close()


def init_app(app: Flask) -> None:
    """Wrap the whole app (ProxyFix and the mounted emulators included): an attempt starts
    from the environ as the server gave it."""
    attempts = 1 + max(0, int(app.config["DB_DEADLOCK_RETRIES"]))
    app.wsgi_app = RetryDeadlocks(app.wsgi_app, attempts)  # type: ignore[method-assign]
