"""Keyword replies of the public account, edited by admins (关键词回复).

A text message equal to a keyword (``exact``, ignoring surrounding blanks and letter case) gets
its reply; otherwise the longest keyword the message contains (``contains``). The handler (order
50) matches against the active keywords kept in memory per process (the table holds dozens of
rows): they follow the change counter of topic ``mp_keywords`` (``app.changes``), which every
write of the table bumps in its transaction. The topic is shared, so every process on the host
reads the new keywords on its next message after an admin saves; processes on other hosts within
CACHE_CHECK_SECONDS (1 s). Reading them on every text message cost a round trip and about a tenth
of the callback's CPU (issue 18, docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit, changes
from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.extensions import db
from wechat.models import KEYWORDS_TOPIC, MpInboundMessage, MpKeyword
from wechat.mp_callback import Inbound

log = logging.getLogger(__name__)

MATCHES = {"exact": "完全匹配", "contains": "包含关键词"}
KEYWORD_MAX, REPLY_MAX = 64, 600


def view(k: MpKeyword) -> dict[str, Any]:
    """A keyword as the admin API shows it."""
    return {"id": k.id, "keyword": k.keyword, "match": k.match, "match_label": MATCHES[k.match],
            "reply": k.reply, "active": k.active, "updated_at": k.updated_at}  # fmt: skip


def all_keywords() -> list[MpKeyword]:
    """Every keyword, alphabetically."""
    return list(db.session.scalars(select(MpKeyword).order_by(MpKeyword.keyword, MpKeyword.id)))


def get(keyword_id: int) -> MpKeyword:
    """One keyword; 404 when there is none."""
    row = db.session.get(MpKeyword, keyword_id)
    if row is None:
        raise NotFound("没有这个关键词", code="keyword_not_found")
    return row


def _taken(keyword: str, but: int | None = None) -> None:
    """409 when another row already has this keyword (case-insensitively)."""
    for other in all_keywords():
        if other.id != but and other.keyword.casefold() == keyword.casefold():
            raise Conflict(f"关键词“{keyword}”已存在", code="keyword_exists")


def create(data: dict[str, Any], actor: StaffUser) -> MpKeyword:
    """Add a keyword (flushes; the caller commits)."""
    _taken(data["keyword"])
    row = MpKeyword(keyword=data["keyword"], match=data.get("match", "exact"),
                    reply=data["reply"], active=data.get("active", True))  # fmt: skip
    try:
        with db.session.begin_nested():  # a concurrent create of the same keyword loses here
            db.session.add(row)
    except IntegrityError:
        raise Conflict(f"关键词“{row.keyword}”已存在", code="keyword_exists") from None
    audit.record("wechat.keyword.create", "mp_keyword", row.id, actor=actor,
                 keyword=row.keyword, match=row.match)  # fmt: skip
    return row


def update(row: MpKeyword, data: dict[str, Any], actor: StaffUser) -> MpKeyword:
    """Change a keyword's fields."""
    if "keyword" in data:
        _taken(data["keyword"], but=row.id)
    for name in ("keyword", "match", "reply", "active"):
        if name in data:
            setattr(row, name, data[name])
    row.updated_at = utcnow()
    db.session.flush()
    audit.record("wechat.keyword.update", "mp_keyword", row.id, actor=actor,
                 changed=sorted(data))  # fmt: skip
    return row


def delete(row: MpKeyword, actor: StaffUser) -> None:
    """Remove a keyword."""
    audit.record("wechat.keyword.delete", "mp_keyword", row.id, actor=actor, keyword=row.keyword)
    db.session.delete(row)
    db.session.flush()


class _Active:
    """This process's copy of the active keywords (folded for matching) and what it reflects."""

    def __init__(self, app) -> None:
        self.watch = changes.Watch(KEYWORDS_TOPIC)
        self.announced = changes.announced(KEYWORDS_TOPIC, app)
        self.heard: int | None = None  # the host's announcement count the copy reflects
        self.generation: int | None = None  # the watch's generation the copy reflects
        self.rows: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()


def active_keywords() -> list[tuple[str, str, str]]:
    """(folded keyword, match, reply) of every active keyword, from this process's copy: read
    again when a commit on this host announced a change, or when the topic's counter moved (read
    at most every CACHE_CHECK_SECONDS), or always when the counter row is missing (a database
    not migrated this far)."""
    state = current_app.extensions.get("wechat_mp_keywords")
    if state is None:
        state = current_app.extensions.setdefault("wechat_mp_keywords", _Active(current_app))
    # The announcement count is read before the counter: a commit announced after this read
    # moves the count again, so the next message looks again.
    heard = state.announced()
    generation = state.watch.current(interval=0.0 if heard != state.heard else None)
    seen = state.watch.seen  # None until a first probe (another thread may be making it)
    if generation == state.generation and heard == state.heard and seen and seen[0] is not None:
        return state.rows
    rows = db.session.execute(
        select(MpKeyword.keyword, MpKeyword.match, MpKeyword.reply).where(MpKeyword.active)
    ).all()
    folded = [(k.strip().casefold(), m, r) for k, m, r in rows if k.strip()]
    with state.lock:
        state.rows, state.generation, state.heard = folded, generation, heard
    return folded


def reply_for(text: str) -> str | None:
    """The reply to a text message, or None when no active keyword matches."""
    said = text.strip().casefold()
    if not said:
        return None
    best: tuple[int, str] | None = None
    for key, match, reply in active_keywords():
        if key == said:
            return reply
        if match == "contains" and key in said and (best is None or len(key) > best[0]):
            best = (len(key), reply)
    return best[1] if best else None


def answer(msg: Inbound, row: MpInboundMessage) -> str | None:
    """Handler (order 50): a text message's keyword reply."""
    if msg.msg_type != "text" or not msg.content:
        return None
    return reply_for(msg.content)
