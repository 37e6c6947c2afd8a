"""Reads of 文明行为展示 shared by the APIs and the pages: the public gallery (keyset pages,
newest or most liked first), the featured posts, one citizen's posts, the reviewers' lists in
their scope, and the locking reads of rows about to change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from app.auth import scope
from app.auth.models import StaffUser, User
from app.errors import NotFound
from app.extensions import db
from app.geo.models import Region
from reports.showcase.models import PostState, ShowcaseFlag, ShowcaseLike, ShowcasePost

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FEATURED_MAX = 6
GONE = "作品不存在或已下架"


def locked(query: Select) -> Select:
    """A read of rows about to change: locked on MariaDB, and it sees every committed row (a
    repeatable-read snapshot taken earlier in the request would not). SQLite's writers are
    serialised already (BEGIN IMMEDIATE) and it renders no FOR UPDATE."""
    return query.with_for_update().execution_options(populate_existing=True)


# ---------------------------------------------------------------- the public gallery


def _cursor_of(post: ShowcasePost, sort: str) -> str:
    if sort == "popular":
        return f"{post.like_count}.{post.id}"
    return f"{(post.published_at - EPOCH) // MICROSECOND}.{post.id}"


def _after(sort: str, cursor: str) -> Any:
    """The condition "after the post the cursor names" in the sort's order (newest first, or
    most liked first; the id breaks ties)."""
    value, post_id = (int(part) for part in cursor.split("."))
    if sort == "popular":
        column, bound = ShowcasePost.like_count, value
    else:
        column, bound = ShowcasePost.published_at, EPOCH + value * MICROSECOND
    return or_(column < bound, and_(column == bound, ShowcasePost.id < post_id))


def gallery(sort: str, cursor: str | None, per_page: int) -> tuple[list[ShowcasePost], str | None]:
    """One page of approved posts and the cursor of the next page (None on the last)."""
    order = ShowcasePost.like_count if sort == "popular" else ShowcasePost.published_at
    query = (
        select(ShowcasePost)
        .where(ShowcasePost.state == PostState.APPROVED)
        .order_by(order.desc(), ShowcasePost.id.desc())
        .limit(per_page + 1)
    )
    if cursor:
        query = query.where(_after(sort, cursor))
    rows = list(db.session.scalars(query))
    more = len(rows) > per_page
    rows = rows[:per_page]
    return rows, (_cursor_of(rows[-1], sort) if more else None)


def public_post(post_id: int) -> ShowcasePost:
    """An approved post; any other is 404 (whether it exists is not said)."""
    post = db.session.get(ShowcasePost, post_id)
    if post is None or post.state != PostState.APPROVED:
        raise NotFound(GONE, code="showcase_post_not_found")
    return post


def public_post_locked(post_id: int) -> ShowcasePost:
    """An approved post, locked for a like or a report."""
    post = db.session.scalar(locked(select(ShowcasePost).where(ShowcasePost.id == post_id)))
    if post is None or post.state != PostState.APPROVED:
        raise NotFound(GONE, code="showcase_post_not_found")
    return post


def featured(limit: int = FEATURED_MAX) -> list[ShowcasePost]:
    """The featured approved posts, most recently featured first."""
    query = (
        select(ShowcasePost)
        .where(ShowcasePost.state == PostState.APPROVED, ShowcasePost.featured_at.is_not(None))
        .order_by(ShowcasePost.featured_at.desc(), ShowcasePost.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def liked_ids(user: User | None, post_ids: list[int]) -> set[int]:
    """Which of these posts the citizen likes (one query)."""
    if user is None or not post_ids:
        return set()
    query = select(ShowcaseLike.post_id).where(
        ShowcaseLike.user_id == user.id, ShowcaseLike.post_id.in_(post_ids)
    )
    return set(db.session.scalars(query))


def district_choices() -> list[dict[str, str]]:
    """The city's active districts a post may name, by code."""
    rows = db.session.execute(
        select(Region.code, Region.name)
        .where(Region.level == "district", Region.is_active.is_(True))
        .order_by(Region.code)
    )
    return [{"code": code, "name": name} for code, name in rows]


# ---------------------------------------------------------------- the author's own


def own_posts(citizen: User, page: int, per_page: int) -> tuple[list[ShowcasePost], int]:
    """The citizen's posts, newest first."""
    base = select(ShowcasePost).where(ShowcasePost.author_id == citizen.id)
    total = db.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.session.scalars(
        base.order_by(ShowcasePost.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total


def own_post(citizen: User, post_id: int) -> ShowcasePost:
    """One of the citizen's posts; anyone else's is 404."""
    post = db.session.get(ShowcasePost, post_id)
    if post is None or post.author_id != citizen.id:
        raise NotFound("作品不存在", code="showcase_post_not_found")
    return post


# ---------------------------------------------------------------- reviewers


def in_scope(staff: StaffUser) -> Select:
    """Posts in the account's places (by the district the author named; a post naming none is
    for city-wide accounts)."""
    return scope.restrict(select(ShowcasePost), staff, district=ShowcasePost.district_code)


def staff_list(staff: StaffUser, args: dict[str, Any]) -> tuple[list[ShowcasePost], int]:
    """Posts in scope by state; reported ones (open reports, most reported first) or featured
    ones; pending ones oldest first (the queue), others newest first."""
    query = in_scope(staff)
    if args.get("state"):
        query = query.where(ShowcasePost.state == PostState(args["state"]))
    if args.get("flagged"):
        query = query.where(ShowcasePost.flag_count > 0)
    if args.get("featured"):
        query = query.where(ShowcasePost.featured_at.is_not(None))
    if args.get("flagged"):
        query = query.order_by(ShowcasePost.flag_count.desc(), ShowcasePost.id.desc())
    elif args.get("state") == PostState.PENDING.value:
        query = query.order_by(ShowcasePost.id)
    else:
        query = query.order_by(ShowcasePost.id.desc())
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page, per_page = args["page"], args["per_page"]
    rows = db.session.scalars(query.offset((page - 1) * per_page).limit(per_page))
    return list(rows), total or 0


def staff_post(staff: StaffUser, post_id: int, *, lock: bool = False) -> ShowcasePost:
    """A post in the account's scope; out of scope is 404, as if it did not exist."""
    query = select(ShowcasePost).where(ShowcasePost.id == post_id)
    post = db.session.scalar(locked(query) if lock else query)
    if post is None or not scope.covers(staff, district_code=post.district_code):
        raise NotFound("作品不存在", code="showcase_post_not_found")
    return post


def flags_of(post_ids: list[int]) -> dict[int, list[ShowcaseFlag]]:
    """The reports on these posts, open ones first, newest first (one query)."""
    if not post_ids:
        return {}
    rows = db.session.scalars(
        select(ShowcaseFlag)
        .where(ShowcaseFlag.post_id.in_(post_ids))
        .order_by(ShowcaseFlag.resolved_at.is_not(None), ShowcaseFlag.id.desc())
    )
    found: dict[int, list[ShowcaseFlag]] = {}
    for flag in rows:
        found.setdefault(flag.post_id, []).append(flag)
    return found


def pending_count(staff: StaffUser) -> tuple[int, int]:
    """(posts waiting for review, posts with open reports) in the account's scope."""
    base = in_scope(staff).subquery()
    waiting = db.session.scalar(
        select(func.count()).select_from(base).where(base.c.state == PostState.PENDING)
    )
    reported = db.session.scalar(
        select(func.count()).select_from(base).where(base.c.flag_count > 0)
    )
    return waiting or 0, reported or 0
