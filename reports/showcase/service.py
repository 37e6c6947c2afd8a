"""文明行为展示 operations: post (idempotent), delete one's own, like and unlike (one per
person), report abuse (hidden after enough different citizens), and the reviewers' decisions:
approve, refuse, hide, feature. Other features call this module only.

Services flush, never commit: the view commits once. Likes and reports lock their post's row
first, so the counts kept on it stay exact under concurrent requests, and two transactions
never hold the row's foreign-key lock while waiting for each other's update. The like or report
itself is inserted in a savepoint, its primary or unique key deciding a race: on MariaDB a
locking read that finds nothing takes a gap lock, and two such gaps make a deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app import audit
from app.auth.models import StaffUser, User
from app.db import utcnow
from app.errors import Conflict, InvalidTransition, ValidationFailed
from app.extensions import db
from app.media import privacy
from app.media.models import Media
from reports.showcase import queries
from reports.showcase.models import (
    FlagReason,
    PostState,
    ShowcaseFlag,
    ShowcaseLike,
    ShowcasePhoto,
    ShowcasePost,
)
from reports.showcase.queries import locked

log = logging.getLogger(__name__)

AUTO_HIDE_REASON = "多名市民举报，暂时隐藏，待审核确认"
REUSED = "该请求标识（Idempotency-Key）已用于内容不同的另一次发布，请刷新页面后重新提交"


@dataclass
class PostSubmission:
    """What a citizen's post carries in."""

    text: str
    photo_ids: list[str] = field(default_factory=list)
    district: str | None = None
    idempotency_key: str | None = None


# ---------------------------------------------------------------- posting


def scoped_key(citizen: User, key: str | None) -> str | None:
    """Idempotency keys are per citizen, so two people's keys never collide."""
    return f"user:{citizen.id}:{key}" if key else None


def find_by_key(key: str | None) -> ShowcasePost | None:
    """The post a retried submission already created."""
    if key is None:
        return None
    return db.session.scalar(select(ShowcasePost).where(ShowcasePost.idempotency_key == key))


def _replay(post: ShowcasePost, sub: PostSubmission) -> ShowcasePost:
    """The first post of a retry; 422 if the key came back with other content."""
    same = post.text == sub.text and [p.media.public_id for p in post.photos] == list(
        dict.fromkeys(sub.photo_ids)
    )
    if not same:
        raise ValidationFailed(
            REUSED,
            code="idempotency_key_reused",
            fields={"Idempotency-Key": ["已用于内容不同的另一次发布"]},
        )
    return post


def _photos(ids: list[str], citizen: User) -> list[Media]:
    """The citizen's own uploaded photos, in order, each once, used by no other post."""
    ids = list(dict.fromkeys(ids))
    found = {
        m.public_id: m
        for m in db.session.scalars(
            select(Media).where(Media.public_id.in_(ids), Media.user_id == citizen.id)
        )
    }
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(fields={"photos": ["照片不存在或不是您上传的，请重新上传"]})
    if any(m.kind != "image" for m in found.values()):
        raise ValidationFailed(fields={"photos": ["只能发布照片，不能发布视频"]})
    used = db.session.scalar(
        select(ShowcasePhoto.media_id)
        .where(ShowcasePhoto.media_id.in_([m.id for m in found.values()]))
        .limit(1)
    )
    if used is not None:
        raise ValidationFailed(fields={"photos": ["照片已用于您的另一条作品，请重新上传"]})
    return [found[i] for i in ids]


def submit(citizen: User, sub: PostSubmission) -> tuple[ShowcasePost, bool]:
    """Store a new post, waiting for review; (post, created). A retry with the same key returns
    the first post. Retries at once wait for each other on the citizen's row; one whose
    snapshot predates the first one's commit fails on the key's unique index (IntegrityError:
    the view rolls back and answers with the first post)."""
    key = scoped_key(citizen, sub.idempotency_key)
    if key is not None:
        db.session.execute(locked(select(User.id).where(User.id == citizen.id)))
        existing = find_by_key(key)
        if existing is not None:
            return _replay(existing, sub), False
    if sub.district is not None and sub.district not in {
        d["code"] for d in queries.district_choices()
    }:
        raise ValidationFailed(fields={"district": ["请选择本市的区县"]})
    media = _photos(sub.photo_ids, citizen)
    post = ShowcasePost(
        author=citizen,
        idempotency_key=key,
        text=sub.text,
        district_code=sub.district,
        state=PostState.PENDING,
    )
    post.photos = [ShowcasePhoto(media=m, position=i) for i, m in enumerate(media)]
    db.session.add(post)
    db.session.flush()
    log.info("showcase post %s submitted by user %s", post.id, citizen.id)
    return post, True


def delete_own(citizen: User, post_id: int) -> None:
    """The author takes a post down, in any state: it goes with its photos, likes and reports."""
    remove_post(queries.own_post(citizen, post_id))
    log.info("showcase post %s deleted by its author %s", post_id, citizen.id)


def remove_post(post: ShowcasePost) -> int:
    """Delete a post, its likes and reports, and its photos (rows now; the stored originals and
    public copies once the transaction commits). A photo still used elsewhere stays. Rows
    deleted."""
    media_ids = [photo.media_id for photo in post.photos]
    db.session.delete(post)
    db.session.flush()
    return 1 + privacy.delete_unreferenced(media_ids)


# ---------------------------------------------------------------- likes and reports


def _inserted(row: ShowcaseLike | ShowcaseFlag) -> bool:
    """Insert a like or a report in a savepoint; False if the citizen's one is there already
    (committed by a concurrent request, whatever this transaction's snapshot shows)."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return False
    return True


def like(citizen: User, post_id: int) -> ShowcasePost:
    """Like an approved post; liking it again changes nothing."""
    post = queries.public_post_locked(post_id)
    if _inserted(ShowcaseLike(post_id=post.id, user_id=citizen.id)):
        post.like_count += 1
        db.session.flush()
    return post


def unlike(citizen: User, post_id: int) -> ShowcasePost:
    """Take a like back; without one, nothing changes."""
    post = queries.public_post_locked(post_id)
    mine = delete(ShowcaseLike).where(
        ShowcaseLike.post_id == post.id, ShowcaseLike.user_id == citizen.id
    )
    gone = db.session.execute(mine).rowcount
    if gone:
        post.like_count = max(0, post.like_count - gone)
        db.session.flush()
    return post


def flag(citizen: User, post_id: int, reason: str, note: str | None) -> tuple[ShowcaseFlag, bool]:
    """Report an approved post (once per citizen and post: again returns the first report).
    With SHOWCASE_HIDE_AFTER_FLAGS open reports from different citizens it is hidden until a
    reviewer decides."""
    post = queries.public_post_locked(post_id)
    if post.author_id == citizen.id:
        raise Conflict("不能举报自己发布的作品", code="showcase_own_post")
    report = ShowcaseFlag(post_id=post.id, user=citizen, reason=FlagReason(reason), note=note)
    if not _inserted(report):
        mine = select(ShowcaseFlag).where(
            ShowcaseFlag.post_id == post.id, ShowcaseFlag.user_id == citizen.id
        )
        return db.session.scalar(locked(mine)), False  # it exists: a record lock, no gap
    post.flag_count += 1
    if post.flag_count >= current_app.config["SHOWCASE_HIDE_AFTER_FLAGS"]:
        post.state, post.reason, post.featured_at = PostState.HIDDEN, AUTO_HIDE_REASON, None
        log.info("showcase post %s hidden after %s reports", post.id, post.flag_count)
    db.session.flush()
    return report, True


# ---------------------------------------------------------------- reviewers' decisions

ALLOWED_FROM = {
    "approve": (PostState.PENDING, PostState.HIDDEN, PostState.REFUSED),
    "refuse": (PostState.PENDING, PostState.APPROVED, PostState.HIDDEN),
    "hide": (PostState.APPROVED,),
}
REFUSED_MOVES = {
    "approve": "该作品已在展示中",
    "refuse": "该作品已是未通过状态",
    "hide": "只有展示中的作品可以隐藏",
}


def _check(post: ShowcasePost, action: str) -> None:
    if post.state not in ALLOWED_FROM[action]:
        raise InvalidTransition(REFUSED_MOVES[action])


def _resolve_flags(post: ShowcasePost, resolution: str) -> int:
    """Close the post's open reports (upheld or dismissed); how many."""
    now, closed = utcnow(), 0
    for item in db.session.scalars(
        select(ShowcaseFlag).where(
            ShowcaseFlag.post_id == post.id, ShowcaseFlag.resolved_at.is_(None)
        )
    ):
        item.resolved_at, item.resolution = now, resolution
        closed += 1
    post.flag_count = 0
    return closed


def _decided(post: ShowcasePost, staff: StaffUser, action: str, **detail: object) -> None:
    post.reviewed_by_id, post.reviewed_at = staff.id, utcnow()
    db.session.flush()
    audit.record(f"showcase.{action}", "showcase_post", post.id, actor=staff, **detail)
    log.info("showcase post %s %s by %s", post.id, action, staff.username)


def approve(staff: StaffUser, post: ShowcasePost) -> ShowcasePost:
    """Show the post in the gallery (a hidden one again: its open reports are dismissed). Its
    photos' public copies are made now."""
    _check(post, "approve")
    for photo in post.photos:
        privacy.publish(photo.media)
    dismissed = _resolve_flags(post, "dismissed")
    post.state, post.reason = PostState.APPROVED, None
    post.published_at = post.published_at or utcnow()
    _decided(post, staff, "approve", dismissed_reports=dismissed)
    return post


def refuse(staff: StaffUser, post: ShowcasePost, reason: str) -> ShowcasePost:
    """Refuse the post (or take an approved one down): the reason is shown to its author."""
    _check(post, "refuse")
    upheld = _resolve_flags(post, "upheld")
    post.state, post.reason, post.featured_at = PostState.REFUSED, reason, None
    _decided(post, staff, "refuse", reason=reason, upheld_reports=upheld)
    return post


def hide(staff: StaffUser, post: ShowcasePost, reason: str) -> ShowcasePost:
    """Hide an approved post from the public (the reason is shown to its author)."""
    _check(post, "hide")
    upheld = _resolve_flags(post, "upheld")
    post.state, post.reason, post.featured_at = PostState.HIDDEN, reason, None
    _decided(post, staff, "hide", reason=reason, upheld_reports=upheld)
    return post


def feature(staff: StaffUser, post: ShowcasePost, on: bool) -> ShowcasePost:
    """Put an approved post on the citizen home and the 城管动态 page, or take it off."""
    if post.state != PostState.APPROVED:
        raise InvalidTransition("只有展示中的作品可以设为精选")
    if on == (post.featured_at is not None):
        raise InvalidTransition("该作品已是精选" if on else "该作品不是精选")
    post.featured_at = utcnow() if on else None
    post.featured_by_id = staff.id if on else None
    db.session.flush()
    action = "feature" if on else "unfeature"
    audit.record(f"showcase.{action}", "showcase_post", post.id, actor=staff)
    log.info("showcase post %s %s by %s", post.id, action, staff.username)
    return post
