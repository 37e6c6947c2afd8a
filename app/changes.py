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
  cache-sync scheme: regions, the working calendar, the shop views, the heat map and the nearby
  index all use it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from flask import current_app
from sqlalchemy import BigInteger, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db

PENDING_KEY = "zhcg.changed_topics"
COMMITTING_KEY = "zhcg.committing_topics"
_WATCHED: dict[type, set[str]] = {}
_LOCAL_WRITES: dict[str, int] = {}  # topic -> commits this process made that wrote it


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
    return current_app.config.get("CACHE_CHECK_SECONDS", 0.0 if current_app.testing else 1.0)


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
    for topic in session.info.pop(COMMITTING_KEY, ()):
        _LOCAL_WRITES[topic] = _LOCAL_WRITES.get(topic, 0) + 1


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING_KEY, None)
    session.info.pop(COMMITTING_KEY, None)
