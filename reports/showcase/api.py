"""文明行为展示 APIs. Citizens (/api/v1/showcase): the public gallery and featured posts,
posting (idempotent), their own posts, likes and abuse reports. Reviewers (/api/v1/staff/
showcase): the lists in their scope with the reports, approve / refuse / hide, and featuring."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from app.apispec import document_errors
from app.auth.current import citizen_required, current_citizen, staff_required
from app.auth.models import Role
from app.db import commit
from app.errors import Conflict
from app.extensions import db, limiter
from app.ratelimits import public_limit
from reports.api import IDEMPOTENCY_DOC, citizen_key, idempotency_key
from reports.showcase import present, queries, service
from reports.showcase.schemas import (
    ShowcaseDistrictsOut,
    ShowcaseEmptyIn,
    ShowcaseFeaturedOut,
    ShowcaseFlagIn,
    ShowcaseFlagOut,
    ShowcaseGalleryArgs,
    ShowcaseGalleryOut,
    ShowcaseLikeOut,
    ShowcaseOwnListOut,
    ShowcaseOwnPostOut,
    ShowcasePageArgs,
    ShowcasePostIn,
    ShowcasePublicPostOut,
    ShowcaseReasonIn,
    ShowcaseStaffListArgs,
    ShowcaseStaffListOut,
    ShowcaseStaffPostOut,
)

blp = Blueprint(
    "showcase",
    __name__,
    url_prefix="/api/v1/showcase",
    description="文明行为展示：作品墙、发布、点赞与举报（市民）",
)
staff_blp = Blueprint(
    "staff_showcase",
    __name__,
    url_prefix="/api/v1/staff/showcase",
    description="文明行为展示：审核、隐藏与精选（工作人员）",
)

READERS = (Role.REVIEWER, Role.DISPATCHER)  # admins hold every role
REVIEWERS = (Role.REVIEWER,)
EDITORS = (Role.REVIEWER, Role.DISPATCHER)  # 精选: reviewers and the news editors


def post_limit() -> str:
    """Posts per citizen."""
    return current_app.config["RATELIMIT_SHOWCASE_POSTS"]


def like_limit() -> str:
    """Likes and unlikes per citizen."""
    return current_app.config["RATELIMIT_SHOWCASE_LIKES"]


def flag_limit() -> str:
    """Abuse reports per citizen."""
    return current_app.config["RATELIMIT_SHOWCASE_FLAGS"]


# ---------------------------------------------------------------- citizens


@blp.route("/posts")
class Posts(MethodView):
    decorators = [
        limiter.limit(public_limit, methods=["GET"]),
        limiter.limit(post_limit, key_func=citizen_key, methods=["POST"]),
    ]

    @blp.arguments(ShowcaseGalleryArgs, location="query")
    @blp.response(200, ShowcaseGalleryOut)
    @document_errors(blp, 401, 422, 429)
    def get(self, args):
        """The gallery: approved posts, newest (by approval) or most liked first, a page at a
        time (``next_cursor``). ``liked`` is the signed-in citizen's; anyone may read."""
        posts, cursor = queries.gallery(args["sort"], args["cursor"], args["per_page"])
        items = present.public_items(posts, current_citizen())
        return {"items": items, "sort": args["sort"], "next_cursor": cursor}

    @citizen_required  # outermost: who may not post hears so before the body is read
    @blp.arguments(ShowcasePostIn)
    @blp.doc(parameters=[IDEMPOTENCY_DOC])
    @blp.response(201, ShowcaseOwnPostOut)
    @blp.alt_response(
        200, schema=ShowcaseOwnPostOut, description="A retry: the post this key created"
    )
    @document_errors(blp, 401, 403, 409, 422, 429)
    def post(self, body, citizen):
        """Post civil behaviour seen in the city: one or two photos (uploaded first) and a few
        words; it waits for review. A retry with the same Idempotency-Key returns the first
        post (200); the same key with other content is 422 ``idempotency_key_reused``."""
        sub = service.PostSubmission(
            text=body["text"],
            photo_ids=body["photos"],
            district=body["district"],
            idempotency_key=idempotency_key(),
        )
        try:
            post, created = service.submit(citizen, sub)
            commit()
        except IntegrityError:
            db.session.rollback()  # a concurrent retry with the same key committed first
            post = service.find_by_key(service.scoped_key(citizen, sub.idempotency_key))
            if post is None:
                raise Conflict(
                    "照片已用于另一条作品，请重新上传照片", code="showcase_photo_used"
                ) from None
            created = False
        return present.own_view(post, present.districts()), 201 if created else 200


@blp.route("/posts/<int:post_id>")
class PostItem(MethodView):
    decorators = [
        limiter.limit(public_limit, methods=["GET"]),
        limiter.limit(public_limit, key_func=citizen_key, methods=["DELETE"]),
    ]

    @blp.response(200, ShowcasePublicPostOut)
    @document_errors(blp, 401, 404, 429)
    def get(self, post_id):
        """One approved post (404 for any other, whether or not it exists)."""
        return present.public_items([queries.public_post(post_id)], current_citizen())[0]

    @blp.response(204)
    @document_errors(blp, 401, 403, 404, 429)
    @citizen_required
    def delete(self, post_id, citizen):
        """Delete one of my posts, in any state, with its photos, likes and reports."""
        service.delete_own(citizen, post_id)
        commit()


def _like(post_id: int, citizen, on: bool) -> dict:
    post = (service.like if on else service.unlike)(citizen, post_id)
    commit()
    return {"liked": on, "like_count": post.like_count}


@blp.route("/posts/<int:post_id>/like")
class Like(MethodView):
    decorators = [limiter.limit(like_limit, key_func=citizen_key)]

    @blp.response(200, ShowcaseLikeOut)
    @document_errors(blp, 401, 403, 404, 429)
    @citizen_required
    def post(self, post_id, citizen):
        """Like an approved post (one like per person: again changes nothing)."""
        return _like(post_id, citizen, True)

    @blp.response(200, ShowcaseLikeOut)
    @document_errors(blp, 401, 403, 404, 429)
    @citizen_required
    def delete(self, post_id, citizen):
        """Take my like back (without one, nothing changes)."""
        return _like(post_id, citizen, False)


@blp.route("/posts/<int:post_id>/flags")
class Flags(MethodView):
    decorators = [limiter.limit(flag_limit, key_func=citizen_key)]

    @citizen_required
    @blp.arguments(ShowcaseFlagIn)
    @blp.response(201, ShowcaseFlagOut)
    @blp.alt_response(200, schema=ShowcaseFlagOut, description="I reported this post before")
    @document_errors(blp, 401, 403, 404, 409, 422, 429)
    def post(self, body, post_id, citizen):
        """Report an approved post as abuse, with a reason (once per post). After enough
        reports from different citizens it is hidden until a reviewer decides; my own post is
        409 ``showcase_own_post``."""
        flag, created = service.flag(citizen, post_id, body["reason"], body["note"])
        commit()
        view = {
            "reason": flag.reason.value,
            "reason_label": flag.reason.label,
            "created_at": flag.created_at,
        }
        return view, 201 if created else 200


@blp.route("/featured")
class Featured(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, ShowcaseFeaturedOut)
    @document_errors(blp, 401, 429)
    def get(self):
        """The featured posts (精选) staff picked for the home page, most recent first."""
        return {"items": present.public_items(queries.featured(), current_citizen())}


@blp.route("/districts")
class Districts(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200, ShowcaseDistrictsOut)
    @document_errors(blp, 429)
    def get(self):
        """The districts a post may name (the ``district`` of POST /posts)."""
        return {"items": queries.district_choices()}


@blp.route("/mine")
class Mine(MethodView):
    @blp.arguments(ShowcasePageArgs, location="query")
    @blp.response(200, ShowcaseOwnListOut)
    @document_errors(blp, 401, 403, 422)
    @citizen_required
    def get(self, args, citizen):
        """My posts, newest first, with their state and, when refused or hidden, why."""
        posts, total = queries.own_posts(citizen, args["page"], args["per_page"])
        names = present.districts()
        return {
            "items": [present.own_view(p, names) for p in posts],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


# ---------------------------------------------------------------- staff


def staff_item(post) -> dict:
    """A post with its reports, as reviewers see it."""
    return present.staff_view(
        post, present.districts(), queries.flags_of([post.id]).get(post.id, [])
    )


@staff_blp.route("/posts")
class StaffPosts(MethodView):
    @staff_required(*READERS)
    @staff_blp.arguments(ShowcaseStaffListArgs, location="query")
    @staff_blp.response(200, ShowcaseStaffListOut)
    @document_errors(staff_blp, 401, 403, 422)
    def get(self, args, staff):
        """Posts in my scope (by the district named): by state, with open reports (most
        reported first) or featured; the pending queue oldest first."""
        posts, total = queries.staff_list(staff, args)
        names, flags = present.districts(), queries.flags_of([p.id for p in posts])
        return {
            "items": [present.staff_view(p, names, flags.get(p.id, [])) for p in posts],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@staff_blp.route("/posts/<int:post_id>")
class StaffPost(MethodView):
    @staff_required(*READERS)
    @staff_blp.response(200, ShowcaseStaffPostOut)
    @document_errors(staff_blp, 401, 403, 404)
    def get(self, post_id, staff):
        """One post with its original photos and every report (404 out of my scope)."""
        return staff_item(queries.staff_post(staff, post_id))


ACTIONS = {
    "approve": (
        REVIEWERS,
        ShowcaseEmptyIn,
        "Show the post in the gallery; a hidden one again (its open "
        "reports are dismissed), or a refused one after all.",
    ),
    "refuse": (
        REVIEWERS,
        ShowcaseReasonIn,
        "Refuse the post (or take a shown one down); the reason is shown to its author.",
    ),
    "hide": (
        REVIEWERS,
        ShowcaseReasonIn,
        "Hide a shown post (its open reports are upheld); the reason is shown to its author.",
    ),
    "feature": (
        EDITORS,
        ShowcaseEmptyIn,
        "Feature a shown post on the citizen home and the 城管动态 page (精选).",
    ),
    "unfeature": (EDITORS, ShowcaseEmptyIn, "Take a post off the featured ones."),
}


def _action_view(action: str) -> type[MethodView]:
    roles, schema, summary = ACTIONS[action]

    class Action(MethodView):
        @staff_required(*roles)
        @staff_blp.arguments(schema)
        @staff_blp.response(200, ShowcaseStaffPostOut)
        @document_errors(staff_blp, 401, 403, 404, 409, 422)
        def post(self, body, post_id, staff):
            post = queries.staff_post(staff, post_id, lock=True)
            if action in ("refuse", "hide"):
                getattr(service, action)(staff, post, body["reason"])
            elif action in ("feature", "unfeature"):
                service.feature(staff, post, action == "feature")
            else:
                service.approve(staff, post)
            commit()
            return staff_item(post)

    Action.post.__doc__ = summary
    Action.__name__ = f"Showcase{action.title()}"
    return Action


for _action in ACTIONS:
    staff_blp.route(f"/posts/<int:post_id>/{_action}", endpoint=f"post_{_action}")(
        _action_view(_action)
    )
