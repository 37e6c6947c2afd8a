"""Consent to be messaged: the mini-program's subscribe prompt and the public account.

WeChat lets a mini-program send a one-time subscribe message only after the user accepted the
template in ``wx.requestSubscribeMessage``, and one acceptance is good for one message (error
43101 otherwise). The mini-program reports the prompt's result here; each "accept" is kept as a
grant (wechat.models.SubscribeGrant) and a message spends one. A case usually has several steps
(受理, 派遣, 办结) and a citizen usually accepts once, so a grant is kept for the final result:
a message about an intermediate step is sent only while the citizen holds more than one.
With long-term subscriptions (WECHAT_SUBSCRIBE_LONG_TERM) nothing is counted.

Public-account template messages need the citizen to follow the account; H5 pages show its QR
code and say what following gives (``options``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.db import utcnow
from app.extensions import db
from wechat.models import SubscribeGrant

ACCEPT = "accept"  # the other answers of the prompt: reject, ban, filter


def template_ids() -> list[str]:
    """The one-time templates the mini-program asks for at submission (at most 3 per prompt)."""
    return [current_app.config["WECHAT_SUBSCRIBE_TEMPLATE_ID"]]


def long_term() -> bool:
    return bool(current_app.config["WECHAT_SUBSCRIBE_LONG_TERM"])


def record(user_id: int, results: dict[str, str], key: str, report_number: str | None) -> int:
    """Keep one grant per accepted template of this prompt; a retry (same key) adds nothing.
    Returns how many new grants were kept."""
    wanted = set(template_ids())
    added = 0
    for template_id, answer in results.items():
        if answer != ACCEPT or template_id not in wanted:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    SubscribeGrant(
                        user_id=user_id,
                        template_id=template_id,
                        request_key=key,
                        report_number=report_number,
                    )
                )
            added += 1
        except IntegrityError:  # this prompt's result was reported before
            pass
    return added


def remaining(user_id: int, template_id: str) -> int:
    """Grants not spent yet."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(SubscribeGrant)
            .where(
                SubscribeGrant.user_id == user_id,
                SubscribeGrant.template_id == template_id,
                SubscribeGrant.used_at.is_(None),
            )
        )
        or 0
    )


def spend(user_id: int, template_id: str, outbox_id: int, *, final: bool) -> int | None:
    """Take a grant for one message (the id, or None: do not send). A message about an
    intermediate step leaves the last grant for the result. Atomic: two workers never spend
    the same grant."""
    if long_term():
        return 0
    free = list(
        db.session.scalars(
            select(SubscribeGrant.id)
            .where(
                SubscribeGrant.user_id == user_id,
                SubscribeGrant.template_id == template_id,
                SubscribeGrant.used_at.is_(None),
            )
            .order_by(SubscribeGrant.id)
            .limit(2)
        )
    )
    if not free or (not final and len(free) < 2):
        return None
    for grant_id in free:
        taken = db.session.execute(
            update(SubscribeGrant)
            .where(SubscribeGrant.id == grant_id, SubscribeGrant.used_at.is_(None))
            .values(used_at=utcnow(), used_by=outbox_id)
        ).rowcount
        if taken:
            return grant_id
    return None


def give_back(grant_id: int | None) -> None:
    """A message that was not delivered did not use its grant (WeChat counts only sent ones)."""
    if grant_id:
        db.session.execute(
            update(SubscribeGrant)
            .where(SubscribeGrant.id == grant_id)
            .values(used_at=None, used_by=None)
        )


def follow_url() -> str:
    """The link of the public account's follow QR code ('' if none is configured)."""
    cfg = current_app.config
    if cfg["WECHAT_MP_FOLLOW_URL"]:
        return cfg["WECHAT_MP_FOLLOW_URL"]
    return f"{cfg['PUBLIC_BASE_URL']}/_wechat/follow" if cfg["WECHAT_EMULATOR"] else ""


def options(user_id: int | None) -> dict[str, Any]:
    """What a citizen can choose to hear about their cases, said plainly."""
    cfg = current_app.config
    templates = template_ids()
    left = None if long_term() or user_id is None else remaining(user_id, templates[0])
    return {
        "miniprogram": {
            "template_ids": templates,
            "long_term": long_term(),
            "remaining": left,
            "explain": "提交后在弹窗中点“允许”，案件办结时会在微信里通知您办理结果；"
            "每次允许可收到一条通知，多次允许可收到受理、派遣等进展。",
        },
        "public_account": {
            "name": cfg["WECHAT_MP_NAME"],
            "follow_url": follow_url(),
            "explain": f"关注公众号“{cfg['WECHAT_MP_NAME']}”，案件的受理、派遣、办结等每一步"
            "都会推送给您；取消关注后不再推送。",
        },
        "always": "不订阅也不关注，也可以随时在“我的上报”查看办理进展。",
    }
