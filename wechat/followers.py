"""Followers of the public account: subscribe and unsubscribe, and when each person last wrote.

``track`` runs first on every inbound message (handler order 0, returns None): one upsert by
(app_id, openid), so the callback stays cheap.

WeChat's customer-service window (客服消息, https://developers.weixin.qq.com/doc/offiaccount/
Customer_Service/Customer_Service_Messages.html): a message the person sends lets us send 5
customer-service messages within 48 hours; a menu click, a scan or a follow only 3 within one
minute. So ``last_message_at`` moves on messages only, ``last_seen_at`` on every push.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import utcnow
from app.extensions import db
from wechat.models import MpFollower, MpInboundMessage
from wechat.mp_callback import Inbound, cached_statement

log = logging.getLogger(__name__)


def _changes(msg: Inbound, now: datetime) -> dict:
    """The columns this message moves."""
    values: dict = {"last_seen_at": now}
    if msg.msg_type != "event":
        values["last_message_at"] = now
        return values
    event = (msg.event or "").lower()
    if event == "subscribe":
        values |= {"subscribed": True, "subscribed_at": now}
    elif event == "unsubscribe":
        values |= {"subscribed": False, "unsubscribed_at": now}
    return values


def _upsert(dialect: str, columns: tuple[str, ...]):
    """INSERT a follower, or set ``columns`` of the existing one to the values given."""
    if dialect == "sqlite":
        stmt = sqlite_insert(MpFollower)
        return stmt.on_conflict_do_update(
            index_elements=["app_id", "openid"], set_={c: stmt.excluded[c] for c in columns}
        )
    stmt = mysql_insert(MpFollower)
    return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns})


def track(msg: Inbound, row: MpInboundMessage) -> None:
    """Record the follower's state and last contact; never answers (returns None).

    One upsert by (app_id, openid), a statement built once per kind of push and executed on the
    transaction's connection (no ORM bookkeeping). An UPDATE of a missing row first would lock
    the index gap on MariaDB (REPEATABLE READ), and two new people's INSERTs into that gap then
    deadlock."""
    values = _changes(msg, utcnow())
    # Only people who follow the account can write to it: a new openid follows unless this is
    # its unsubscribe.
    fresh = {"app_id": row.app_id, "openid": msg.from_user, "subscribed": True} | values
    conn = db.session.connection()
    key = ("follower", conn.dialect.name, tuple(values))
    conn.execute(cached_statement(key, lambda: _upsert(key[1], key[2])), fresh)
    return None


def follower(openid: str, app_id: str | None = None) -> MpFollower | None:
    """The follower row of ``openid`` (the configured account unless ``app_id``)."""
    app_id = app_id or current_app.config["WECHAT_MP_APP_ID"]
    stmt = select(MpFollower).where(MpFollower.app_id == app_id, MpFollower.openid == openid)
    return db.session.scalars(stmt).first()


def in_service_window(openid: str, app_id: str | None = None, now: datetime | None = None) -> bool:
    """True when ``openid`` follows and wrote to the account within the customer-service window
    (WECHAT_MP_CUSTOM_WINDOW_HOURS, a little under WeChat's 48 hours)."""
    row = follower(openid, app_id)
    if row is None or not row.subscribed or row.last_message_at is None:
        return False
    hours = current_app.config["WECHAT_MP_CUSTOM_WINDOW_HOURS"]
    return (now or utcnow()) - row.last_message_at < timedelta(hours=hours)
