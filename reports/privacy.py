"""Reports under PIPL (app/privacy.py): what a citizen's reports hold about them, erasing it with
the account, and the retention purge of finished cases; photos becoming public get a blurred copy.

- Export: the citizen's reports, the cases they follow (我也遇到了), their subscribe consents.
- Erase: reports stay as city records (the case, its place and its handling are the city's), with
  the contact phone and the citizen's rating comment removed; follows and subscribe consents go.
- Purge: cases finished (结案/归档, 不予立案, 作废, 合并) and untouched for RETENTION_DAYS lose
  their photos (rows and stored files) and the reporter's contact details; ``purged_at`` marks them.
  Batches of RETENTION_BATCH ids are read from ``ix_reports_purge`` (purged_at, state,
  updated_at), so each batch costs its own size at 1.3 million cases, and each is committed.
- Public copies: every report photo is marked for the worker's blurred copy when it is attached
  (``mark_public``, a mapper event: the submission, the handler's after photos, and any other
  path that attaches one), so the nearby list and the follower's view never show an original.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, delete, event, func, or_, select, update

from app.auth.models import User
from app.db import utcnow
from app.extensions import db
from app.media import privacy as media_privacy
from app.media.models import Media
from reports.follows import ReportFollow
from reports.models import Report, ReportPhoto, ReportState
from reports.mp_chat_models import MpChat
from wechat import personal as wechat_personal
from wechat.models import SubscribeGrant

log = logging.getLogger(__name__)

FINISHED_STATES = (ReportState.CLOSED, ReportState.ARCHIVED, ReportState.REJECTED,
                   ReportState.VOIDED, ReportState.MERGED)  # fmt: skip


def export(user: User) -> dict[str, Any]:
    """The citizen's reports, follows and subscribe consents."""
    reports = db.session.scalars(
        select(Report).where(Report.reporter_id == user.id).order_by(Report.id)
    )
    follows = db.session.execute(
        select(Report.number, ReportFollow.created_at)
        .join(Report, Report.id == ReportFollow.report_id)
        .where(ReportFollow.user_id == user.id)
        .order_by(ReportFollow.id)
    )
    grants = db.session.scalars(
        select(SubscribeGrant).where(SubscribeGrant.user_id == user.id).order_by(SubscribeGrant.id)
    )
    return {
        "reports": [_report(r) for r in reports],
        "following": [{"number": n, "since": at} for n, at in follows],
        "subscriptions": [
            {"case": g.report_number, "granted_at": g.created_at, "used_at": g.used_at}
            for g in grants
        ],  # fmt: skip
    }


def _report(r: Report) -> dict[str, Any]:
    return {
        "number": r.number, "state": r.state.label, "description": r.description,
        "address": r.address, "lat": r.lat, "lng": r.lng, "contact_phone": r.contact_phone,
        "answers": r.answers, "created_at": r.created_at, "closed_at": r.closed_at,
        "rating": r.rating, "rating_comment": r.rating_comment,
        "photos": [p.media.public_id for p in r.photos if p.media.user_id == r.reporter_id],
    }  # fmt: skip


def erase(user: User) -> int:
    """Anonymise the citizen's reports and drop their follows, subscribe consents and chat
    conversations with the public account (the reports filed from a chat stay)."""
    touched = db.session.execute(
        update(Report)
        .where(Report.reporter_id == user.id)
        .values(contact_phone=None, rating_comment=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    for model in (ReportFollow, SubscribeGrant):
        touched += db.session.execute(
            delete(model)
            .where(model.user_id == user.id)
            .execution_options(synchronize_session=False)  # fmt: skip
        ).rowcount
    pairs = wechat_personal.openids(user)
    chats = [MpChat.user_id == user.id, *(and_(MpChat.app_id == a, MpChat.openid == o)
                                          for a, o in pairs)]  # fmt: skip
    touched += db.session.execute(
        delete(MpChat).where(or_(*chats)).execution_options(synchronize_session=False)
    ).rowcount
    return touched


def _purgeable(cutoff: datetime):
    return (Report.purged_at.is_(None), Report.state.in_(FINISHED_STATES),
            Report.updated_at < cutoff)  # fmt: skip


def purge(cutoff: datetime, dry_run: bool) -> int:
    """Purge finished cases untouched since before ``cutoff``, a batch per transaction; the dry
    run counts them. Returns the number of cases."""
    if dry_run:
        return db.session.scalar(select(func.count()).where(*_purgeable(cutoff))) or 0
    batch, total = int(current_app.config["RETENTION_BATCH"]), 0
    while True:
        ids = list(db.session.scalars(select(Report.id).where(*_purgeable(cutoff)).limit(batch)))
        if not ids:
            return total
        photos = set(db.session.scalars(
            select(ReportPhoto.media_id).where(ReportPhoto.report_id.in_(ids))))  # fmt: skip
        db.session.execute(delete(ReportPhoto).where(ReportPhoto.report_id.in_(ids))
                           .execution_options(synchronize_session=False))  # fmt: skip
        db.session.execute(
            update(Report).where(Report.id.in_(ids))
            .values(contact_phone=None, rating_comment=None, purged_at=utcnow())
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        removed = media_privacy.delete_unreferenced(photos)
        db.session.commit()
        db.session.expire_all()
        total += len(ids)
        log.info("retention: %s cases purged (%s photos removed)", len(ids), removed)


# ---------------------------------------------------------------- public copies


def mark_public(_mapper: Any, connection: Any, photo: ReportPhoto) -> None:
    """A photo attached to a case will be seen by others (the nearby list, followers): queue
    its blurred copy. A device's evidence (owned by nobody) is for staff only."""
    media = Media.__table__
    connection.execute(
        update(media)
        .where(media.c.id == photo.media_id, media.c.public_state.is_(None),
               (media.c.user_id.is_not(None)) | (media.c.staff_id.is_not(None)))
        .values(public_state=media_privacy.PENDING)
    )  # fmt: skip


def register() -> None:
    """Listen for attached photos (once per process)."""
    if not event.contains(ReportPhoto, "after_insert", mark_public):
        event.listen(ReportPhoto, "after_insert", mark_public)
