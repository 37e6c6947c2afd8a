"""A citizen's personal data held by the public-account side (app.privacy): the messages they
sent the account and their follower record, both keyed by the openids of their WeChat
identities. Registered in ``wechat.init_app``; the account deletion erases them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, or_, select

from app.auth.models import User, WechatIdentity
from app.extensions import db
from wechat.models import MpFollower, MpInboundMessage

EXPORT_MESSAGES = 500  # the newest ones; the full log is a request to the bureau


def openids(user: User) -> list[tuple[str, str]]:
    """(app id, openid) of every WeChat identity of ``user``."""
    query = select(WechatIdentity.app_id, WechatIdentity.openid).where(
        WechatIdentity.user_id == user.id
    )
    return [(app_id, openid) for app_id, openid in db.session.execute(query)]


def _of(columns, pairs: list[tuple[str, str]]):
    app_id, openid = columns
    return or_(*(and_(app_id == a, openid == o) for a, o in pairs))


def export(user: User) -> dict[str, Any]:
    """The follower records and the newest messages the citizen sent the public account."""
    pairs = openids(user)
    if not pairs:
        return {"followers": [], "messages": []}
    followers = db.session.scalars(
        select(MpFollower).where(_of((MpFollower.app_id, MpFollower.openid), pairs))
    )
    messages = db.session.scalars(
        select(MpInboundMessage)
        .where(_of((MpInboundMessage.app_id, MpInboundMessage.from_openid), pairs))
        .order_by(MpInboundMessage.id.desc())
        .limit(EXPORT_MESSAGES)
    )
    return {
        "followers": [{"subscribed": f.subscribed, "subscribed_at": f.subscribed_at,
                       "unsubscribed_at": f.unsubscribed_at,
                       "last_message_at": f.last_message_at} for f in followers],
        "messages": [{"type": m.msg_type, "event": m.event, "content": m.content,
                      "received_at": m.received_at} for m in messages],
    }  # fmt: skip


def erase(user: User) -> int:
    """Delete the citizen's messages to the public account and their follower records."""
    pairs = openids(user)
    if not pairs:
        return 0
    touched = db.session.execute(
        delete(MpInboundMessage)
        .where(_of((MpInboundMessage.app_id, MpInboundMessage.from_openid), pairs))
        .execution_options(synchronize_session=False)
    ).rowcount
    touched += db.session.execute(
        delete(MpFollower)
        .where(_of((MpFollower.app_id, MpFollower.openid), pairs))
        .execution_options(synchronize_session=False)
    ).rowcount
    return touched
