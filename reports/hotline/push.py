"""The worker's 12345 task: deliver queued status pushes (outbox rows of kind ``hotline_push``)
to the platform over HTTP, signed as the platform signs its orders.

Pushes of one order go in order: a push waits while an earlier one of its order is still
pending (in its back-off, say). A failure (a 5xx, a timeout, no connection) is tried again
after HOTLINE_RETRY_SECONDS x 2^(attempts-1), at most an hour later, up to HOTLINE_MAX_ATTEMPTS;
a 4xx other than 408/429 is the platform refusing that push: given up at once (the next push
of the order then goes). Each push carries a ``push_id``: a push that arrived although we saw
a timeout is sent again, and the platform acknowledges the repeat without applying it twice.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from app.db import commit, utcnow
from reports import notify
from reports.hotline import signing
from reports.hotline.models import PUSH_KIND
from reports.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
MAX_DELAY_SECONDS = 3600
EMULATOR_MOUNT = "/_12345"
PUSH_PATH = "/api/status"  # under the platform's base URL


class PushFailed(Exception):
    """The push did not arrive; ``retry`` says whether sending it again may help."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def base_url() -> str:
    """HOTLINE_BASE_URL, else the embedded emulator's, else empty (nowhere to push)."""
    cfg = current_app.config
    base = cfg.get("HOTLINE_BASE_URL") or ""
    if not base and cfg.get("HOTLINE_EMULATOR"):
        base = cfg["PUBLIC_BASE_URL"] + EMULATOR_MOUNT
    return base.rstrip("/")


def _due() -> Select:
    """Due pushes whose order has no earlier push still pending, oldest first (claimed one at a
    time by ``notify.claim_each``: several workers share them)."""
    earlier = aliased(OutboxMessage)
    waiting = exists().where(
        earlier.kind == PUSH_KIND,
        earlier.report_id == OutboxMessage.report_id,
        earlier.status == OutboxStatus.PENDING,
        earlier.id < OutboxMessage.id,
    )
    return (
        select(OutboxMessage)
        .where(OutboxMessage.kind == PUSH_KIND, OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.next_attempt_at <= utcnow(), ~waiting)
        .order_by(OutboxMessage.id)
    )  # fmt: skip


def send(payload: dict) -> None:
    """POST one push to the platform; raises PushFailed."""
    cfg = current_app.config
    base = base_url()
    if not base:
        raise PushFailed("未配置12345平台地址（HOTLINE_BASE_URL）", retry=False)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = signing.sign(cfg["HOTLINE_SECRET"], body, platform=cfg["HOTLINE_PLATFORM_ID"])
    headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        resp = requests.post(base + PUSH_PATH, data=body, headers=headers,
                             timeout=cfg["HOTLINE_HTTP_TIMEOUT"])  # fmt: skip
    except requests.Timeout:
        raise PushFailed("平台响应超时") from None
    except requests.RequestException as exc:
        raise PushFailed(f"无法连接平台：{type(exc).__name__}") from None
    if resp.status_code >= 300:
        retry = resp.status_code >= 500 or resp.status_code in (408, 429)
        raise PushFailed(f"平台返回 HTTP {resp.status_code}：{resp.text[:200]}", retry=retry)


def push_round(batch: int = 50) -> int:
    """Deliver one batch of due pushes, committing after each; the number handled."""
    cfg = current_app.config
    handled = 0
    for msg in notify.claim_each(_due(), batch):
        msg.attempts += 1
        try:
            send(msg.payload)
        except PushFailed as exc:
            msg.last_error = str(exc)[:500]
            if exc.retry and msg.attempts < cfg["HOTLINE_MAX_ATTEMPTS"]:
                delay = min(cfg["HOTLINE_RETRY_SECONDS"] * 2 ** (msg.attempts - 1),
                            MAX_DELAY_SECONDS)  # fmt: skip
                msg.next_attempt_at = utcnow() + timedelta(seconds=delay)
            else:
                msg.status = OutboxStatus.FAILED
                log.warning("12345 push %s given up after %d attempt(s): %s",
                            msg.payload.get("push_id"), msg.attempts, exc)  # fmt: skip
        else:
            msg.status, msg.sent_at, msg.last_error = OutboxStatus.SENT, utcnow(), None
        commit()
        handled += 1
    commit()  # no lock is kept past the round
    return handled
