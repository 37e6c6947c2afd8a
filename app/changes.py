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
- ``value(topic)`` is None when the row is missing (a database not migrated this far): callers
  fall back to aggregating the tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String, event, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db

PENDING_KEY = "zhcg.changed_topics"
_WATCHED: dict[type, set[str]] = {}


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


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING_KEY, None)
