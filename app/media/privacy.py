"""Public copies of photos: faces and licence plates blurred (app/media/redact.py).

The original stays for staff (and for the citizen who uploaded it: ``signed_url``); every view
that shows a photo to anyone else uses ``public_url``, which never returns the original.

A copy is made once, when the photo becomes public:

- ``publish(media)`` makes it now (a staff action that publishes a post, say). Idempotent.
- ``request_publish(media)`` marks it for the worker (``public_state`` "pending"): report photos
  are marked when they are attached to a case, and ``publish_pending`` (a `flask worker` task)
  makes the copies, so that submitting a report never waits for the detectors (seconds of CPU).
- ``public_url(media)`` signs the copy; a photo without one is published on the spot (a fallback
  for callers that did not publish first: slow, once), and a photo that cannot be published gets
  a neutral placeholder, never the original. ``public_url_if_ready`` is for lists that must stay
  fast: None until the copy exists.

The copy is stored under a key derived from the photo's public id, so a retried or concurrent
publication writes the same object, and the purge finds it even if its row was never committed.
A video's public form is its poster frame, blurred (videos are not re-encoded frame by frame).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app
from PIL import Image
from sqlalchemy import delete, select, update

from app.db import on_commit, utcnow
from app.extensions import db
from app.media import redact
from app.media.models import Media
from app.storage import ObjectNotFound, StorageError, get_storage

log = logging.getLogger(__name__)

PENDING, READY, FAILED = "pending", "ready", "failed"
PUBLIC_PREFIX = "public"
PLACEHOLDER = "/static/h5/photo-unavailable.svg"


def public_key_for(media: Media) -> str:
    """Where a photo's public copy is stored (the same key every time)."""
    return f"{PUBLIC_PREFIX}/{media.public_id}.jpg"


def request_publish(media: Media) -> None:
    """Mark a photo as public: the worker makes its blurred copy (written with the caller's
    transaction)."""
    if media.public_state is None:
        media.public_state = PENDING


def publish(media: Media) -> None:
    """Make the public (blurred) copy of ``media`` once, when it becomes public; idempotent.

    Flushes, never commits. Raises StorageError when the store cannot be reached (try again
    later); an original that cannot be read or decoded marks the photo "failed"."""
    if media.public_state == READY and media.public_key:
        return
    if media.kind == "video":
        _publish_video(media)
        return
    key = public_key_for(media)
    if get_storage().exists(key):
        # Made before by a transaction that did not commit its row (a page view's fallback, a
        # worker that died): the copy is the same, only the counts are not known.
        media.public_key, media.public_state, media.redacted_at = key, READY, utcnow()
        db.session.flush()
        return
    try:
        original = get_storage().get(media.storage_key)
    except ObjectNotFound:
        _fail(media, "original missing")
        return
    try:
        copy = redact.redact(original)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        _fail(media, f"undecodable: {exc}")
        return
    except Exception:  # noqa: BLE001 - a detector's failure must show neither a 500 nor the original
        log.exception("redaction of media %s failed", media.public_id)
        _fail(media, "redaction failed")
        return
    get_storage().put(key, copy.data, copy.content_type)
    media.public_key, media.public_state, media.redacted_at = key, READY, utcnow()
    media.faces_found, media.plates_found = copy.faces, copy.plates
    db.session.flush()
    log.info("public copy of media %s: %s faces, %s plates blurred", media.public_id,
             copy.faces, copy.plates)  # fmt: skip


def _publish_video(media: Media) -> None:
    """A video's public form is its poster, blurred."""
    poster = db.session.get(Media, media.poster_id) if media.poster_id else None
    if poster is None:
        _fail(media, "video without a poster")
        return
    publish(poster)
    media.public_state, media.public_key = poster.public_state, poster.public_key
    media.redacted_at, media.faces_found = poster.redacted_at, poster.faces_found
    media.plates_found = poster.plates_found
    db.session.flush()


def _fail(media: Media, why: str) -> None:
    media.public_state, media.public_key = FAILED, None
    db.session.flush()
    log.warning("no public copy of media %s: %s", media.public_id, why)


def public_url(media: Media) -> str:
    """The URL the public sees for ``media``: its blurred copy (or a neutral placeholder)."""
    if media.public_state != READY:
        try:
            publish(media)
        except StorageError:
            log.exception("public copy of media %s could not be made now", media.public_id)
    return public_url_if_ready(media) or placeholder_url()


def public_url_if_ready(media: Media) -> str | None:
    """A short-lived URL of the blurred copy, or None while there is none (never the original)."""
    if media.public_state != READY or not media.public_key:
        return None
    ttl = int(current_app.config["MEDIA_URL_TTL_SECONDS"])
    return get_storage().url(media.public_key, ttl)


def placeholder_url() -> str:
    """A neutral picture shown where a public copy cannot be had."""
    return f"{current_app.config['PUBLIC_BASE_URL']}{PLACEHOLDER}"


def publish_pending(limit: int = 10) -> int:
    """The worker's task: make the copies of photos marked public, one per transaction (several
    workers share the queue: SKIP LOCKED on MariaDB). Returns how many were handled."""
    done = 0
    for _ in range(limit):
        query = select(Media).where(Media.public_state == PENDING).order_by(Media.id).limit(1)
        if db.session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        media = db.session.scalars(query).first()
        if media is None:
            break
        try:
            publish(media)
        except StorageError:
            db.session.rollback()
            log.warning("public copy of media %s postponed: storage unavailable", media.public_id)
            break
        db.session.commit()
        done += 1
    return done


# ---------------------------------------------------------------- deleting photos for good


def referenced_ids(ids: set[int]) -> set[int]:
    """Which of ``ids`` some other row still points at (any table's foreign key to media)."""
    used: set[int] = set()
    media = Media.__table__
    for table in db.metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table is not media or (table is media and fk.parent.name == "poster_id"):
                continue
            remaining = ids - used
            if remaining:
                used |= set(db.session.scalars(select(fk.parent).where(fk.parent.in_(remaining))))
    return used


def delete_unreferenced(ids: Iterable[int]) -> int:
    """Delete the photos among ``ids`` that nothing references any more, with their posters, and
    (after the commit) their stored original and public copy. Returns the rows deleted."""
    wanted = set(ids)
    if not wanted:
        return 0
    with_poster = select(Media.poster_id).where(Media.id.in_(wanted), Media.poster_id.is_not(None))
    posters = set(db.session.scalars(with_poster))
    wanted = (wanted | posters) - referenced_ids(wanted | posters)
    # A poster another video (not deleted here) still shows stays.
    wanted -= set(db.session.scalars(select(Media.poster_id).where(
        Media.poster_id.in_(wanted), Media.id.not_in(wanted))))  # fmt: skip
    if not wanted:
        return 0
    rows = db.session.execute(
        select(Media.id, Media.storage_key, Media.public_id).where(Media.id.in_(wanted))
    ).all()
    keys = [k for _, key, public_id in rows for k in (key, f"{PUBLIC_PREFIX}/{public_id}.jpg")]
    # A video and its poster go in one statement: unlink them first (no self-referencing
    # cascade inside a multi-row DELETE on MariaDB).
    db.session.execute(
        update(Media)
        .where(Media.id.in_(wanted), Media.poster_id.is_not(None))
        .values(poster_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        delete(Media).where(Media.id.in_(wanted)).execution_options(synchronize_session=False)
    )
    on_commit(lambda: _delete_objects(keys))
    return len(rows)


def _delete_objects(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except StorageError:
            log.exception("stored object %s of a deleted photo was not removed", key)
