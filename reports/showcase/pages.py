"""文明行为展示 pages: the citizen's gallery (readable without signing in), one post with its
like button and the report form, the post form and the author's own posts; the staff review
console; the featured block on the citizen home and the 城管动态 page (app.h5 page blocks).

Rendered on the server from the same queries and presenters as the JSON APIs; every write goes
through those APIs from static/showcase/, which check the caller again.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, render_template, request, url_for

from app.auth.current import current_citizen
from app.auth.models import Role, StaffUser, User
from app.console import add_todos, nav_item, render, staff_page
from app.errors import NotFound
from app.h5 import add_page_block, citizen_page
from reports.showcase import present, queries
from reports.showcase.models import FLAG_LABELS
from reports.showcase.schemas import CURSOR_PATTERN, MAX_PHOTOS, SORTS

bp = Blueprint(
    "showcase_pages",
    __name__,
    template_folder="templates",
    static_folder="static/showcase",
    static_url_path="/static/showcase",
)

PER_PAGE = 10
STAFF_PER_PAGE = 20
READERS = (Role.REVIEWER, Role.DISPATCHER, Role.ADMIN)
SORT_LABELS = {"newest": "最新", "popular": "最热"}
# Console tabs: key -> (label, list filters).
TABS: dict[str, tuple[str, dict[str, Any]]] = {
    "pending": ("待审核", {"state": "pending"}),
    "flagged": ("被举报", {"flagged": True}),
    "approved": ("展示中", {"state": "approved"}),
    "featured": ("精选", {"state": "approved", "featured": True}),
    "hidden": ("已隐藏", {"state": "hidden"}),
    "refused": ("未通过", {"state": "refused"}),
}
STATE_TONES = {"pending": "warn", "approved": "ok", "hidden": "danger", "refused": "muted"}
REASONS = (
    "照片与文明行为无关",
    "照片不清晰",
    "含有他人面部、车牌等隐私信息",
    "内容不实或摆拍",
    "含有广告或不文明内容",
)


def _page_number() -> int:
    return max(1, min(request.args.get("page", 1, type=int) or 1, 10_000))


# ---------------------------------------------------------------- citizen H5


@bp.get("/h5/showcase")
def gallery():
    """The gallery, newest or most liked first, ten at a time (加载更多: the next cursor)."""
    sort = request.args.get("sort", "newest")
    sort = sort if sort in SORTS else "newest"
    cursor = request.args.get("cursor", "")
    cursor = cursor if re.fullmatch(CURSOR_PATTERN, cursor) else None
    posts, next_cursor = queries.gallery(sort, cursor, PER_PAGE)
    return render_template(
        "showcase/gallery.html",
        items=present.public_items(posts, current_citizen()),
        sort=sort,
        sorts=SORT_LABELS,
        cursor=cursor,
        next_cursor=next_cursor,
    )


@bp.get("/h5/showcase/<int:post_id>")
def post_page(post_id: int):
    """One shown post: its photos, like button and the report form; others are a friendly 404."""
    try:
        post = queries.public_post(post_id)
    except NotFound as exc:
        return render_template("showcase/missing.html", message=exc.message), 404
    return render_template(
        "showcase/post.html",
        p=present.public_items([post], current_citizen())[0],
        reasons=[(r.value, label) for r, label in FLAG_LABELS.items()],
    )


@bp.get("/h5/showcase/new")
@citizen_page
def new_post(citizen: User):
    """The post form: one or two photos, a few words, the district (optional)."""
    return render_template(
        "showcase/new.html", districts=queries.district_choices(), max_photos=MAX_PHOTOS
    )


@bp.get("/h5/showcase/mine")
@citizen_page
def my_posts(citizen: User):
    """My posts with their state, and why one was refused or hidden."""
    page = _page_number()
    posts, total = queries.own_posts(citizen, page, PER_PAGE)
    names = present.districts()
    return render_template(
        "showcase/mine.html",
        items=[present.own_view(p, names) for p in posts],
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        per_page=PER_PAGE,
        tones=STATE_TONES,
    )


def featured_block() -> str:
    """文明风采 on the citizen home and the 城管动态 page: the featured posts ("" without any)."""
    posts = queries.featured()
    if not posts:
        return ""
    return render_template(
        "showcase/_featured.html", items=present.public_items(posts, current_citizen())
    )


# ---------------------------------------------------------------- staff console


@nav_item("文明展示审核", READERS, order=25, endpoint="showcase_pages.review")
@bp.get("/console/showcase")
@staff_page(*READERS)
def review(staff: StaffUser):
    """Posts in the account's scope, by tab; approve / refuse / hide / feature from the page."""
    tab = request.args.get("tab", "pending")
    tab = tab if tab in TABS else "pending"
    page = _page_number()
    args = {"page": page, "per_page": STAFF_PER_PAGE} | TABS[tab][1]
    posts, total = queries.staff_list(staff, args)
    names, flags = present.districts(), queries.flags_of([p.id for p in posts])
    waiting, reported = queries.pending_count(staff)
    return render(
        "showcase/review.html",
        staff,
        tab=tab,
        tabs=TABS,
        total=total,
        items=[present.staff_view(p, names, flags.get(p.id, [])) for p in posts],
        counts={"pending": waiting, "flagged": reported},
        tones=STATE_TONES,
        reasons=REASONS,
        may_review=staff.has_role(Role.REVIEWER),
        prev=url_for(".review", tab=tab, page=page - 1) if page > 1 else None,
        next=url_for(".review", tab=tab, page=page + 1) if page * STAFF_PER_PAGE < total else None,
    )


def todos(staff: StaffUser) -> list[dict[str, Any]]:
    """Posts waiting for review and reported posts, on the console home (reviewers)."""
    if not staff.has_role(Role.REVIEWER):
        return []
    waiting, reported = queries.pending_count(staff)
    items = []
    if waiting:
        items.append(
            {
                "label": "文明展示待审核",
                "count": waiting,
                "url": url_for("showcase_pages.review", tab="pending"),
                "urgent": False,
            }
        )
    if reported:
        items.append(
            {
                "label": "文明展示被举报",
                "count": reported,
                "url": url_for("showcase_pages.review", tab="flagged"),
                "urgent": True,
            }
        )
    return items


def init_app(app: Flask) -> None:
    """Register the pages, the console to-dos and the featured block."""
    app.register_blueprint(bp)
    add_todos(app, todos)
    add_page_block(app, "home", featured_block)
    add_page_block(app, "news", featured_block)
