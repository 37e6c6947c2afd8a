"""News APIs: the staff editor (/api/v1/staff/news) and the public list (/api/v1/news).

Admins and dispatchers write and read every article (``Role.DISPATCHER``; admins hold every
role); other staff get 403. Anyone, signed in or not, reads published articles.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from app.extensions import limiter
from app.news import service
from app.news.schemas import (
    NewsCreateIn,
    NewsListArgs,
    NewsPublicListOut,
    NewsPublicOut,
    NewsStaffListOut,
    NewsStaffOut,
    NewsStatusIn,
    NewsUpdateIn,
    PageArgs,
)
from app.ratelimits import public_limit

staff_blp = Blueprint("news_staff", __name__, url_prefix="/api/v1/staff/news",
                      description="城管动态：编辑与发布（工作人员）")  # fmt: skip
public_blp = Blueprint("news", __name__, url_prefix="/api/v1/news",
                       description="城管动态（公开）")  # fmt: skip

editors = staff_required(Role.DISPATCHER)  # admins hold every role


@staff_blp.route("")
class StaffNewsList(MethodView):
    decorators = [editors]

    @staff_blp.arguments(NewsListArgs, location="query")
    @staff_blp.response(200, NewsStaffListOut)
    @document_errors(staff_blp, 401, 403, 422)
    def get(self, args, staff):
        """Every article, most recently edited first; filter by status (draft, published,
        withdrawn)."""
        items, total = service.staff_list(args.get("status"), args["page"], args["per_page"])
        return {"items": [service.staff_view(a) for a in items], "total": total,
                "page": args["page"], "per_page": args["per_page"]}  # fmt: skip

    @staff_blp.arguments(NewsCreateIn)
    @staff_blp.response(201, NewsStaffOut)
    @document_errors(staff_blp, 401, 403, 422)
    def post(self, body, staff):
        """Write a new article; it starts as a draft (草稿)."""
        article = service.create_article(body, staff)
        commit()
        return service.staff_view(article)


@staff_blp.route("/<int:article_id>")
class StaffNewsOne(MethodView):
    decorators = [editors]

    @staff_blp.response(200, NewsStaffOut)
    @document_errors(staff_blp, 401, 403, 404)
    def get(self, article_id, staff):
        """One article in any status, with its version."""
        return service.staff_view(service.get_article(article_id))

    @staff_blp.arguments(NewsUpdateIn)
    @staff_blp.response(200, NewsStaffOut)
    @document_errors(staff_blp, 401, 403, 404, 409, 422)
    def patch(self, body, article_id, staff):
        """Edit an article; send the ``version`` you read (409 stale_version if it changed).
        Edits to a published article show at once."""
        article = service.update_article(service.get_article(article_id), body, staff)
        commit()
        return service.staff_view(article)


def _status_route(action: str, summary: str) -> None:
    """POST /<id>/<action>: publish or withdraw."""

    @staff_blp.arguments(NewsStatusIn)
    @staff_blp.response(200, NewsStaffOut)
    @document_errors(staff_blp, 401, 403, 404, 409, 422)
    def post(self, body, article_id, staff):
        article = service.get_article(article_id)
        getattr(service, action)(article, staff, body.get("version"))
        commit()
        return service.staff_view(article)

    post.__doc__ = summary
    view = type(f"StaffNews{action.title()}", (MethodView,), {"post": post})
    view.decorators = [editors]
    staff_blp.route(f"/<int:article_id>/{action}")(view)


_status_route("publish", "Publish a draft or withdrawn article; 409 if it is already published.")
_status_route("withdraw", "Withdraw a published article from the public pages; 409 otherwise.")


@public_blp.route("")
class NewsList(MethodView):
    decorators = [limiter.limit(public_limit)]

    @public_blp.arguments(PageArgs, location="query")
    @public_blp.response(200, NewsPublicListOut)
    @document_errors(public_blp, 422, 429)
    def get(self, args):
        """Published articles, newest first."""
        items, total = service.public_list(args["page"], args["per_page"])
        return {"items": [service.public_view(a) for a in items], "total": total,
                "page": args["page"], "per_page": args["per_page"]}  # fmt: skip


@public_blp.route("/<int:article_id>")
class NewsOne(MethodView):
    decorators = [limiter.limit(public_limit)]

    @public_blp.response(200, NewsPublicOut)
    @document_errors(public_blp, 404, 429)
    def get(self, article_id):
        """One published article (404 for drafts and withdrawn articles)."""
        return service.public_view(service.public_article(article_id))
