"""What each audience sees of a post. The public: the text, the public (blurred) photos, the
author's masked nickname and the district, never who the author is. The author: the state and,
when refused or hidden, why. Reviewers: the original photos, the nickname and the reports."""

from __future__ import annotations

from typing import Any

from app.auth.models import User
from app.geo import regions
from app.media import privacy
from app.media.service import signed_url
from reports.showcase import queries
from reports.showcase.models import ShowcaseFlag, ShowcasePost

ANONYMOUS = "热心市民"
RESOLUTION_LABELS = {"upheld": "举报成立", "dismissed": "举报不成立"}


def mask_nickname(nickname: str | None) -> str:
    """A nickname for the public: its first character and two stars ("张**"), length hidden.
    A nickname starting with a digit or a Latin letter (a phone number, an account name) shows
    nothing of itself; WeChat's default "微信用户" and no nickname read as 热心市民."""
    name = (nickname or "").strip()
    if not name or name == "微信用户":
        return ANONYMOUS
    first = name[0]
    return f"{first}**" if not first.isascii() and first.isalpha() else "市民**"


def districts() -> dict[str, str]:
    """District code -> name, read once per request."""
    return regions.district_names()


def public_photos(post: ShowcasePost) -> list[dict[str, str]]:
    """The photos as the public sees them: their public (blurred) copies."""
    return [{"id": p.media.public_id, "url": privacy.public_url(p.media)} for p in post.photos]


def private_photos(post: ShowcasePost) -> list[dict[str, str]]:
    """The stored photos, for their author and the reviewers."""
    return [{"id": p.media.public_id, "url": signed_url(p.media).url} for p in post.photos]


def public_view(post: ShowcasePost, names: dict[str, str], liked: bool = False) -> dict[str, Any]:
    """A post in the gallery."""
    return {
        "id": post.id,
        "text": post.text,
        "photos": public_photos(post),
        "author": mask_nickname(post.author.nickname),
        "district": names.get(post.district_code or ""),
        "published_at": post.published_at,
        "like_count": post.like_count,
        "liked": liked,
        "featured": post.featured_at is not None,
    }


def public_items(posts: list[ShowcasePost], viewer: User | None) -> list[dict[str, Any]]:
    """Posts in the gallery, each with whether ``viewer`` (a citizen, or None) likes it."""
    names = districts()
    liked = queries.liked_ids(viewer, [p.id for p in posts])
    return [public_view(p, names, p.id in liked) for p in posts]


def own_view(post: ShowcasePost, names: dict[str, str]) -> dict[str, Any]:
    """A post as its author sees it."""
    return {
        "id": post.id,
        "text": post.text,
        "photos": private_photos(post),
        "district": names.get(post.district_code or ""),
        "state": post.state.value,
        "state_label": post.state.label,
        "reason": post.reason,
        "created_at": post.created_at,
        "published_at": post.published_at,
        "like_count": post.like_count,
        "featured": post.featured_at is not None,
    }


def flag_view(flag: ShowcaseFlag) -> dict[str, Any]:
    """A report as reviewers see it."""
    return {
        "reason": flag.reason.value,
        "reason_label": flag.reason.label,
        "note": flag.note,
        "reporter": mask_nickname(flag.user.nickname),
        "created_at": flag.created_at,
        "open": flag.resolved_at is None,
        "resolution_label": RESOLUTION_LABELS.get(flag.resolution or ""),
    }


def staff_view(
    post: ShowcasePost, names: dict[str, str], flags: list[ShowcaseFlag]
) -> dict[str, Any]:
    """A post as reviewers see it."""
    return own_view(post, names) | {
        "author": post.author.nickname or "微信用户",
        "district_code": post.district_code,
        "reviewer": post.reviewer.display_name if post.reviewer else None,
        "reviewed_at": post.reviewed_at,
        "featured_at": post.featured_at,
        "flag_count": post.flag_count,
        "flags": [flag_view(f) for f in flags],
    }
