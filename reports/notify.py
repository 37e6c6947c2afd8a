"""Citizen notifications through an outbox: written in the same transaction as the change,
delivered by `flask worker` as a WeChat subscribe message (mini-program) or template message
(public account). Quota errors (43101) and other permanent errors are recorded, not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, select

from app.auth.models import WechatApp, WechatIdentity
from app.db import commit, utcnow
from app.extensions import db
from reports.follows import ReportFollow
from reports.models import OutboxMessage, OutboxStatus, Report, ReportState
from wechat import service as wx
from wechat import subscriptions

log = logging.getLogger(__name__)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_ATTEMPTS = 8


# A case's last word: a one-time subscribe consent is kept for a message in one of these.
FINAL_STATES = frozenset({ReportState.CLOSED, ReportState.ARCHIVED, ReportState.REJECTED,
                          ReportState.VOIDED})  # fmt: skip


def enqueue_state_change(
    report: Report, text: str | None, *, new_case: bool = False
) -> list[OutboxMessage]:
    """Queue a message to the reporter, to reporters whose reports were merged into this case,
    and to citizens who follow it (我也遇到了). Nothing for cases without a citizen behind them.
    ``new_case``: created in this transaction, so nothing is merged into it or follows it yet."""
    if not text:
        return []
    merged, following = [], []
    if not new_case:
        merged = db.session.scalars(select(Report.reporter_id).where(
            Report.merged_into_id == report.id, Report.reporter_id.is_not(None)))  # fmt: skip
        following = db.session.scalars(
            select(ReportFollow.user_id).where(ReportFollow.report_id == report.id)
        )
    users = dict.fromkeys([report.reporter_id, *merged, *following])
    users.pop(None, None)
    final = report.state in FINAL_STATES
    messages = [
        OutboxMessage(kind="wechat_notice", status=OutboxStatus.PENDING, report_id=report.id,
                      payload={"user_id": user_id, "number": report.number,
                               "state": report.state.label, "text": text,
                               "at": utcnow().isoformat(), "final": final})
        for user_id in users
    ]  # fmt: skip
    db.session.add_all(messages)
    return messages


def enqueue_notice(
    user_id: int, number: str, state: str, text: str, *, page: str, path: str
) -> OutboxMessage:
    """Queue one message to a citizen about something that is not a case (a reward, say)."""
    msg = OutboxMessage(kind="wechat_notice", status=OutboxStatus.PENDING,
                        payload={"user_id": user_id, "number": number, "state": state,
                                 "text": text, "at": utcnow().isoformat(), "page": page,
                                 "path": path})  # fmt: skip
    db.session.add(msg)
    return msg


# Outbox kinds a feature's own worker task delivers (reports.hotline: "hotline_push"), which the
# WeChat delivery below leaves alone. Added by the features' init_app (``other_kind``).
OTHER_KINDS: set[str] = set()


def other_kind(kind: str) -> None:
    """Leave outbox rows of ``kind`` to the feature's own worker task."""
    OTHER_KINDS.add(kind)


def claim_each(query: Select, limit: int) -> Iterator[OutboxMessage]:
    """The rows of ``query`` one at a time, each locked while the caller handles it (FOR UPDATE
    SKIP LOCKED on MariaDB: another worker takes the next row instead of waiting). The caller
    commits before asking for the next row; a row it leaves due is not offered again this round.

    Never a batch locked at once: the first commit releases every lock of the batch, and another
    worker then claims the rest of it again. Two workers did exactly that in the cluster test
    and sent 11 of 14 reward notices twice (docs/scale.md)."""
    handled: list[int] = []
    locking = db.session.get_bind().dialect.name != "sqlite"
    for _ in range(limit):
        one = query.limit(1)
        if handled:
            one = one.where(OutboxMessage.id.not_in(handled))
        if locking:
            one = one.with_for_update(skip_locked=True, of=OutboxMessage)
        msg = db.session.scalars(one).first()
        if msg is None:
            return
        handled.append(msg.id)
        yield msg


def deliver_due(batch: int = 50) -> dict[str, int]:
    """Deliver up to ``batch`` due messages; commits per message. Returns counts by outcome."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    due = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING,
               OutboxMessage.next_attempt_at <= utcnow(),
               OutboxMessage.kind.not_in(sorted(OTHER_KINDS)))
        .order_by(OutboxMessage.id)
    )  # fmt: skip
    for msg in claim_each(due, batch):
        outcome = _deliver(msg)
        counts[outcome] += 1
        commit()
    # End the claim's transaction even when it found nothing: on MariaDB its FOR UPDATE keeps
    # next-key locks on the outbox index, which would block every request that queues a message
    # while the worker's other tasks run (found by the cluster test, docs/scale.md).
    commit()
    return counts


def _deliver(msg: OutboxMessage) -> str:
    msg.attempts += 1
    try:
        _send(msg, wx)
    except _NoConsent as exc:
        msg.status, msg.last_error = OutboxStatus.SKIPPED, str(exc)
        log.info("notice %s for %s not sent: %s", msg.id, msg.payload.get("number"), exc)
        return "skipped"
    except wx.MessageSendFailed as exc:
        if exc.retryable:  # not sent: the consent is still good (43101 says it is not)
            subscriptions.give_back(getattr(exc, "grant", None))
        msg.errcode, msg.last_error = exc.errcode, str(exc.message)[:500]
        if exc.retryable and msg.attempts < MAX_ATTEMPTS:
            msg.next_attempt_at = utcnow() + timedelta(seconds=30 * 2**msg.attempts)
            return "retry"
        msg.status = OutboxStatus.FAILED
        log.warning("notice %s for report %s not delivered: errcode %s", msg.id,
                    msg.payload.get("number"), exc.errcode)  # fmt: skip
        return "failed"
    except _NoRecipient as exc:
        msg.status, msg.last_error = OutboxStatus.FAILED, str(exc)
        return "failed"
    msg.status, msg.sent_at = OutboxStatus.SENT, utcnow()
    return "sent"


class _NoRecipient(Exception):
    """The reporter has no WeChat identity we can message."""


class _NoConsent(Exception):
    """The citizen has not allowed this message (no subscribe consent left, not following)."""


def _send(msg: OutboxMessage, wx) -> int | None:
    """Send by the channel the citizen allowed: a subscribe message spending a consent (kept
    for the case's result while it is the last one), else a public-account template message.
    Returns the consent spent (None: none needed)."""
    cfg = current_app.config
    p = msg.payload
    identities = {i.app_kind: i for i in db.session.scalars(
        select(WechatIdentity).where(WechatIdentity.user_id == p["user_id"]))}  # fmt: skip
    # Both templates carry: case number, state, what happened, when (WeChat's field limits).
    data = {
        "character_string1": {"value": p["number"]},
        "phrase2": {"value": p["state"][:5]},
        "thing3": {"value": p["text"][:20]},
        "time4": {"value": _local(p["at"])},
    }
    # Other kinds of case (车窗抛物) name their own mini-program page and H5 path.
    page = p.get("page") or f"pages/report/detail?number={p['number']}"
    path = p.get("path") or f"/h5/reports/{p['number']}"
    template = cfg["WECHAT_SUBSCRIBE_TEMPLATE_ID"]
    grant = None
    if WechatApp.MINIPROGRAM in identities:
        grant = subscriptions.spend(p["user_id"], template, msg.id, final=p.get("final", True))
    if grant is not None:
        msg.via = "subscribe"
        try:
            wx.send_subscribe_message(identities[WechatApp.MINIPROGRAM].openid, template, data,
                                      page=page)  # fmt: skip
        except wx.MessageSendFailed as exc:
            exc.grant = grant
            raise
        return grant or None
    if WechatApp.MP in identities:
        # Public account: a customer-service text while the citizen's last message to the
        # account is under 48 hours old (WeChat's window), else the template message.
        mp = identities[WechatApp.MP]
        url = f"{cfg['PUBLIC_BASE_URL']}{path}"
        if wx.mp_in_service_window(mp.openid, mp.app_id):
            msg.via = "custom"
            text = (f"【案件进展】编号：{p['number']}\n状态：{p['state']}\n"
                    f"{p['text'][:300]}\n时间：{_local(p['at'])}\n查看详情：{url}")  # fmt: skip
            try:
                wx.send_custom_text(mp.openid, text)
                log.info("notice %s for %s sent via custom (48-hour window)", msg.id, p["number"])
                return None
            except wx.MessageSendFailed as exc:
                if exc.errcode not in wx.CUSTOM_WINDOW_CLOSED:
                    raise
                log.info("notice %s for %s: custom message refused (%s), sending the template",
                         msg.id, p["number"], exc.errcode)  # fmt: skip
        msg.via = "template"
        wx.send_template_message(mp.openid, cfg["WECHAT_MP_TEMPLATE_ID"], data, url=url)
        log.info("notice %s for %s sent via template", msg.id, p["number"])
        return None
    if WechatApp.MINIPROGRAM in identities:
        raise _NoConsent("未订阅：市民未在小程序中允许接收此类通知（或额度留给办理结果）")
    raise _NoRecipient("reporter has no WeChat identity")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


WORKER_TASKS = "zhcg.worker_tasks"


def add_worker_task(app, task) -> None:
    """Let a feature run ``task()`` in every round of `flask worker` (payouts, say). The task
    commits its own work and returns how many things it did."""
    app.extensions.setdefault(WORKER_TASKS, []).append(task)


def run_worker(once: bool = False, interval: float = 2.0) -> None:
    """The `flask worker` loop: deliver due messages and run the features' tasks, sleep when
    idle. A task that fails is logged and tried again next round."""
    while True:
        try:
            counts = deliver_due()
        except Exception:  # noqa: BLE001 - e.g. the database failing over: try again next round
            db.session.rollback()
            log.exception("outbox delivery failed")
            counts = {}  # sleep below: no busy loop while the database is away
        for task in current_app.extensions.get(WORKER_TASKS, []):
            try:
                counts[task.__name__] = task()
            except Exception:  # noqa: BLE001 - one failing task must not stop the others
                db.session.rollback()
                log.exception("worker task %s failed", task.__name__)
        if any(counts.values()):
            log.info("outbox: %s", counts)
        if once:
            return
        if not any(counts.values()):
            try:
                commit()  # no transaction (nor its locks) is held while idle
            except Exception:  # noqa: BLE001 - the database away: the next round tries again
                db.session.rollback()
            time.sleep(interval)
