"""The worker's part: deliver queued SMS through the gateway (outbox kind "sms", with retries),
pull delivery receipts (QuerySendDetails), queue reminders and escalate the overdue.

A message is never sent twice: the outbox row is claimed with SKIP LOCKED and committed per
message, and after an attempt whose outcome is unknown (a timeout, a 5xx) the next attempt
first asks the gateway whether a message with our OutId (the SMS row's id) went out that day.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.db import commit, utcnow
from app.extensions import db
from app.sms.client import SmsClient, SmsError, client_from_config
from reports import notify, reference
from reports.models import OutboxMessage, OutboxStatus
from reports.smallads import service
from reports.smallads.models import SmsMessage, SmsState

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RECEIPT_WINDOW = timedelta(days=3)  # QuerySendDetails keeps 30 days; receipts come in minutes


def deliver_due(client: SmsClient | None = None, batch: int = 20) -> int:
    """Send up to ``batch`` queued SMS, one locked row at a time (``notify.claim_each``);
    commits per message. Returns how many were handled."""
    handled = 0
    due = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == "sms",
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= utcnow(),
        )
        .order_by(OutboxMessage.id)
    )
    for outbox in notify.claim_each(due, batch):
        if client is None:
            client = client_from_config()
        _deliver(outbox, client)
        commit()
        handled += 1
    commit()  # no lock is kept past the round
    return handled


def _dates(msg: SmsMessage) -> list:
    tz = reference.work_calendar().tz
    return sorted({msg.created_at.astimezone(tz).date(), utcnow().astimezone(tz).date()})


def _deliver(outbox: OutboxMessage, client: SmsClient) -> None:
    msg = db.session.get(SmsMessage, outbox.payload.get("sms_id"))
    outbox.attempts += 1
    if msg is None or msg.state != SmsState.QUEUED:
        outbox.status, outbox.sent_at = OutboxStatus.SENT, utcnow()
        return
    msg.attempts += 1
    try:
        if msg.ambiguous and _already_sent(msg, client):
            outbox.status, outbox.sent_at = OutboxStatus.SENT, utcnow()
            return
        result = client.send_sms(
            msg.phone,
            current_app.config["SMS_SIGN_NAME"],
            msg.template_code,
            msg.params,
            str(msg.id),
        )
    except SmsError as exc:
        msg.error_code, msg.error_message = exc.code[:64], exc.message[:300]
        msg.ambiguous = msg.ambiguous or exc.ambiguous
        outbox.last_error = f"{exc.code}: {exc.message}"[:500]
        if exc.retryable and msg.attempts < MAX_ATTEMPTS:
            scale = current_app.config.get("SMS_RETRY_SCALE", 1.0)
            outbox.next_attempt_at = utcnow() + timedelta(seconds=30 * 2**msg.attempts * scale)
            log.info("sms %s: %s, retrying", msg.id, exc.code)
            return
        msg.state, outbox.status = SmsState.FAILED, OutboxStatus.FAILED
        log.warning("sms %s to advertiser %s failed: %s", msg.id, msg.advertiser_id, exc.code)
        return
    msg.state, msg.sent_at, msg.biz_id = SmsState.SENT, utcnow(), result.biz_id
    msg.error_code = msg.error_message = None
    outbox.status, outbox.sent_at = OutboxStatus.SENT, utcnow()


def _already_sent(msg: SmsMessage, client: SmsClient) -> bool:
    """After an unknown outcome: whether the gateway has our message (by OutId)."""
    for day in _dates(msg):
        found = client.find_sent(msg.phone, day, str(msg.id))
        if found is not None:
            msg.state, msg.sent_at, msg.ambiguous = SmsState.SENT, utcnow(), False
            log.info("sms %s had gone out before its answer was lost; not sent again", msg.id)
            return True
    return False


def poll_receipts(client: SmsClient | None = None, now: datetime | None = None) -> int:
    """Record the delivery receipts of sent messages (checked at most once a minute each)."""
    now = now or utcnow()
    rows = list(
        db.session.scalars(
            select(SmsMessage)
            .where(
                SmsMessage.state == SmsState.SENT,
                SmsMessage.sent_at >= now - RECEIPT_WINDOW,
                (SmsMessage.receipt_checked_at.is_(None))
                | (SmsMessage.receipt_checked_at <= now - service.RECEIPT_RECHECK),
            )
            .limit(50)
        )
    )
    if rows and client is None:
        client = client_from_config()
    done = 0
    for msg in rows:
        msg.receipt_checked_at = now
        try:
            receipts = []
            for day in _dates(msg):
                receipts += client.query_send_details(msg.phone, day, biz_id=msg.biz_id or None)
        except SmsError as exc:
            log.info("receipts of sms %s not read: %s", msg.id, exc.code)
            continue
        mine = next((r for r in receipts if r.out_id == str(msg.id)), None)
        if mine is None or mine.status == "waiting":
            continue
        msg.state = SmsState.DELIVERED if mine.status == "delivered" else SmsState.UNDELIVERED
        msg.receipt_code = mine.err_code[:64]
        msg.received_at = _parse_local(mine.receive_date) or now
        done += 1
    commit()
    return done


def _parse_local(text: str) -> datetime | None:
    try:
        local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=reference.work_calendar().tz)


def smallads_round() -> int:
    """One worker round: reminders and escalations first, then sends and receipts."""
    queued = service.queue_reminders()
    escalated = service.escalate_overdue()
    commit()
    return queued + escalated + deliver_due() + poll_receipts()
