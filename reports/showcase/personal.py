"""A citizen's personal data in 文明行为展示 (PIPL), as app.privacy asks for it: what is kept
(export), deleting it with the account (erase), and the retention purge of refused posts.

Decided here: a refused post is never shown to anyone but its author and the reviewers, so once
the retention period has passed since the decision it is deleted whole, with its photos (the
author's reason to see it again is gone, and so is the city's). Shown, hidden and pending posts
stay until their author deletes them or the account goes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from app.auth.models import User
from app.db import commit
from app.extensions import db
from reports.showcase import service
from reports.showcase.models import PostState, ShowcaseFlag, ShowcaseLike, ShowcasePost

BATCH = 200  # posts a purge deletes per transaction


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(user: User) -> dict[str, Any]:
    """The citizen's posts (with the reviewers' reasons), likes and reports."""
    posts = db.session.scalars(
        select(ShowcasePost).where(ShowcasePost.author_id == user.id).order_by(ShowcasePost.id)
    )
    likes = db.session.scalars(
        select(ShowcaseLike)
        .where(ShowcaseLike.user_id == user.id)
        .order_by(ShowcaseLike.created_at)
    )
    flags = db.session.scalars(
        select(ShowcaseFlag).where(ShowcaseFlag.user_id == user.id).order_by(ShowcaseFlag.id)
    )
    return {
        "posts": [
            {
                "id": p.id,
                "text": p.text,
                "state": p.state.label,
                "reason": p.reason,
                "district_code": p.district_code,
                "photos": [x.media.public_id for x in p.photos],
                "like_count": p.like_count,
                "created_at": _iso(p.created_at),
                "published_at": _iso(p.published_at),
            }
            for p in posts
        ],
        "likes": [{"post_id": x.post_id, "created_at": _iso(x.created_at)} for x in likes],
        "flags": [
            {
                "post_id": x.post_id,
                "reason": x.reason.label,
                "note": x.note,
                "created_at": _iso(x.created_at),
            }
            for x in flags
        ],
    }


def erase(user: User) -> int:
    """Delete the citizen's posts (and their photos), likes and reports; the counts on other
    people's posts follow. Rows touched."""
    touched = 0
    for post in db.session.scalars(select(ShowcasePost).where(ShowcasePost.author_id == user.id)):
        touched += service.remove_post(post)
    liked = list(
        db.session.scalars(select(ShowcaseLike.post_id).where(ShowcaseLike.user_id == user.id))
    )
    flagged = list(
        db.session.scalars(
            select(ShowcaseFlag.post_id).where(
                ShowcaseFlag.user_id == user.id, ShowcaseFlag.resolved_at.is_(None)
            )
        )
    )
    if liked:
        db.session.execute(
            update(ShowcasePost)
            .where(ShowcasePost.id.in_(liked))
            .values(like_count=ShowcasePost.like_count - 1)
        )
    if flagged:
        db.session.execute(
            update(ShowcasePost)
            .where(ShowcasePost.id.in_(flagged))
            .values(flag_count=ShowcasePost.flag_count - 1)
        )
    for model in (ShowcaseLike, ShowcaseFlag):
        touched += db.session.execute(delete(model).where(model.user_id == user.id)).rowcount
    db.session.flush()
    return touched


def purge(cutoff: datetime, dry_run: bool) -> int:
    """Refused posts decided before ``cutoff``: deleted whole with their photos, a batch per
    transaction (dry run: only counted). How many posts."""
    query = select(ShowcasePost).where(
        ShowcasePost.state == PostState.REFUSED, ShowcasePost.reviewed_at < cutoff
    )
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    done = 0
    while posts := list(db.session.scalars(query.order_by(ShowcasePost.id).limit(BATCH))):
        for post in posts:
            service.remove_post(post)
        commit()
        done += len(posts)
    return done
