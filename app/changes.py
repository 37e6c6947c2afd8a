"""Change counters: one row per topic, bumped by every transaction that writes the topic's tables.

Caches built from whole tables (the shop views of 一店一码, the shop heat map) ask "did anything
change?" once a second per process. Aggregating the tables to answer that (count, max, sum over
50,000 shops) cost a 40 ms scan a time, twice a second on a loaded MariaDB; one primary-key read
of a counter costs a fraction of a millisecond.

- ORM writes are seen by themselves: ``watch(topic, *models)`` registers the models, and a flush
  that inserts, changes or deletes one marks the transaction; bulk Core statements call
  ``touch(topic)`` instead.
- The counter is bumped once per transaction, as its last statement before COMMIT, so the row
  lock is held for the commit alone and always taken after the rows written (no lock-order
  deadlock with writers that lock a shop first).
- ``value(topic)`` is None when the row is missing (a database not migrated this far).
- ``Watch(topic)`` is how a per-process cache learns that its tables changed: it reads the
  counter at most every ``CACHE_CHECK_SECONDS`` (1 s; 0 in tests) and counts generations; a
  commit in this process that writes the topic makes the next check immediate. This is the ONE
  cache-sync scheme: regions, the working calendar, the shop views, the heat map, the public
  account's keyword replies and the nearby index all use it.
- ``share(topic)`` makes a topic's commits known at once to every process on the host: the
  committing process adds one to the topic's slot in a small mapped file (``CHANGES_FILE``), and
  ``announced(topic)`` reads that slot in a fraction of a microsecond, so a cache that answers
  every request from memory (the nearby index) can look on every use and probe the counter as
  soon as the slot moves. Processes on other hosts still learn through the counter.
"""

from __future__ import annotations

import fcntl
import logging
import math
import mmap
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import BigInteger, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db

log = logging.getLogger(__name__)
PENDING_KEY = "zhcg.changed_topics"
COMMITTING_KEY = "zhcg.committing_topics"
_WATCHED: dict[type, set[str]] = {}
_LOCAL_WRITES: dict[str, int] = {}  # topic -> commits this process made that wrote it
_SHARED: set[str] = set()  # topics whose commits are announced to the host (share)


class ChangeCounter(db.Model):
    """How many committed transactions have written a topic's tables."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def watch(topic: str, *models: type) -> None:
    """Count ORM writes of ``models`` under ``topic``."""
    for model in models:
        _WATCHED.setdefault(model, set()).add(topic)


def touch(topic: str, session: Session | None = None) -> None:
    """Mark this transaction as writing ``topic`` (for bulk statements the ORM does not see)."""
    (session or db.session()).info.setdefault(PENDING_KEY, set()).add(topic)


def check_interval() -> float:
    """Seconds between counter reads: CACHE_CHECK_SECONDS (1 s; the tests check every time)."""
    return current_app.config["CACHE_CHECK_SECONDS"]


class Watch:
    """A per-process view of one topic: ``generation()`` changes when the topic's tables did.

    Only one thread probes at a time (the others keep the generation they have). ``max_age``
    forces a new generation that often even without a change (a safety net for writes that
    bypassed the counter, such as a manual SQL fix).
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.seen: tuple[int | None, int] | None = None
        self.generation = 0
        self.checked = self.built = float("-inf")
        self.lock = threading.Lock()

    def current(self, interval: float | None = None, max_age: float = math.inf) -> int:
        """The generation now, re-reading the counter if ``interval`` seconds have passed or
        this process committed a write of the topic since the last read."""
        now = time.monotonic()
        local = _LOCAL_WRITES.get(self.topic, 0)
        wait = check_interval() if interval is None else interval
        fresh = now - self.checked < wait and (self.seen is None or self.seen[1] == local)
        if fresh or not self.lock.acquire(blocking=False):
            return self.generation
        try:
            seen = (value(self.topic), local)
            if seen != self.seen or now - self.built >= max_age:
                self.seen, self.built = seen, now
                self.generation += 1
            self.checked = now
        finally:
            self.lock.release()
        return self.generation


def value(topic: str) -> int | None:
    """The topic's counter, or None if its row does not exist."""
    return db.session.scalar(select(ChangeCounter.value).where(ChangeCounter.name == topic))


@event.listens_for(Session, "after_flush")
def _mark(session: Session, _context: Any) -> None:
    if not _WATCHED:
        return
    for obj in (*session.new, *session.deleted, *session.dirty):
        topics = _WATCHED.get(type(obj))
        if topics and (obj not in session.dirty or session.is_modified(obj)):
            session.info.setdefault(PENDING_KEY, set()).update(topics)


@event.listens_for(Session, "before_commit")
def _bump(session: Session) -> None:
    session.flush()  # commit flushes after this event: flush now so every write is marked
    topics = session.info.pop(PENDING_KEY, None)
    if topics:
        conn = session.connection()
        for topic in sorted(topics):
            conn.execute(update(ChangeCounter).where(ChangeCounter.name == topic)
                         .values(value=ChangeCounter.value + 1))  # fmt: skip
        session.info[COMMITTING_KEY] = topics


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    topics = session.info.pop(COMMITTING_KEY, ())
    for topic in topics:
        _LOCAL_WRITES[topic] = _LOCAL_WRITES.get(topic, 0) + 1
    shared = sorted(_SHARED.intersection(topics))
    if shared:
        announce(shared)


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(COMMITTING_KEY, None)


# ---------------------------------------------------------------- announced on this host
#
# One file per host (CHANGES_FILE, default changes.bin in the instance folder) of SLOTS 8-byte
# counters; a topic's slot is chosen by a hash of its name (two topics sharing a slot only cost a
# spare probe). A reader compares the slot with the value it last acted on, never its size, so a
# file left from another database, a torn read or a wrap cannot hide a change.

SLOTS = 512
_COUNT = struct.Struct("<Q")
_maps: dict[str, mmap.mmap] = {}
_maps_lock = threading.Lock()
_failed: set[str] = set()  # files already warned about


def share(topic: str) -> None:
    """Announce the topic's commits to every process on this host (see :func:`announced`)."""
    _SHARED.add(topic)


def board_path(app: Flask | None = None) -> Path:
    """The host's announcement file: CHANGES_FILE, else changes.bin in the instance folder."""
    app = app or current_app
    return Path(app.config.get("CHANGES_FILE") or Path(app.instance_path) / "changes.bin")


def _slot(topic: str) -> int:
    return zlib.crc32(topic.encode()) % SLOTS * _COUNT.size


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if os.fstat(fd).st_size < SLOTS * _COUNT.size:
        os.ftruncate(fd, SLOTS * _COUNT.size)
    return fd


def announce(topics: Iterable[str]) -> None:
    """Add one to each topic's slot on this host (after a commit; needs an app context). A file
    that cannot be written is logged once: the other processes then learn at their next counter
    read instead."""
    if not has_app_context():
        return
    path = board_path()
    try:
        fd = _open(path)  # opened per call: flock excludes per open file, and workers fork
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            for topic in topics:
                at = _slot(topic)
                count = _COUNT.unpack(os.pread(fd, _COUNT.size, at))[0]
                os.pwrite(fd, _COUNT.pack((count + 1) % 2**64), at)
        finally:
            os.close(fd)
    except OSError:
        if str(path) not in _failed:
            _failed.add(str(path))
            log.warning("cannot announce changes in %s", path, exc_info=True)


def announced(topic: str, app: Flask | None = None) -> Callable[[], int]:
    """A function reading how many commits of ``topic`` were announced on this host (a mapping
    of the file the process keeps, shared across a fork: a fraction of a microsecond)."""
    path = str(board_path(app))
    with _maps_lock:
        mapped = _maps.get(path)
        if mapped is None:
            fd = _open(Path(path))
            try:
                mapped = _maps[path] = mmap.mmap(fd, SLOTS * _COUNT.size, access=mmap.ACCESS_READ)
            finally:
                os.close(fd)
    at, unpack = _slot(topic), _COUNT.unpack_from
    return lambda: unpack(mapped, at)[0]
