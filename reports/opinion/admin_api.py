"""Managing the watch: sources (feeds and board pages with their rules) and the keyword lists.
Observers read them; admins change them."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app import audit
from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from reports.opinion import present, queries, service
from reports.opinion.schemas import OpinionKeywordsIn, OpinionSourceIn, OpinionSourcePatch

blp = Blueprint(
    "admin_opinion",
    __name__,
    url_prefix="/api/v1/staff/opinion",
    description="网络舆情：监测来源与关键词（管理员）",
)

OBSERVERS = (Role.DISPATCHER,)
ADMIN = (Role.ADMIN,)


@blp.route("/sources")
class Sources(MethodView):
    @staff_required(*OBSERVERS)
    @blp.response(200)
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """Every source with its last fetch, error count and items found."""
        return {"items": [present.source_view(s) for s in queries.sources()]}

    @staff_required(*ADMIN)
    @blp.arguments(OpinionSourceIn)
    @blp.response(201)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Add a source (fetched at the worker's next round)."""
        source = service.save_source(None, body)
        audit.record(
            "opinion.source.create",
            "opinion_source",
            str(source.id),
            actor=staff,
            name=source.name,
            url=source.url,
        )
        commit()
        return present.source_view(source)


@blp.route("/sources/<int:source_id>")
class Source(MethodView):
    @staff_required(*ADMIN)
    @blp.arguments(OpinionSourcePatch)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, source_id, staff):
        """Change a source (a new URL or rule forgets the ETag and fetches again)."""
        source = service.save_source(queries.source_by_id(source_id), body)
        audit.record(
            "opinion.source.update",
            "opinion_source",
            str(source.id),
            actor=staff,
            fields=sorted(body),
        )
        commit()
        return present.source_view(source)


@blp.route("/sources/<int:source_id>/fetch")
class FetchNow(MethodView):
    @staff_required(*ADMIN)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404)
    def post(self, source_id, staff):
        """立即抓取: due at the worker's next round, its error count forgiven."""
        source = queries.source_by_id(source_id)
        service.fetch_soon(source)
        commit()
        return present.source_view(source)


@blp.route("/keywords")
class Keywords(MethodView):
    @staff_required(*OBSERVERS)
    @blp.response(200)
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """The relevance filter's keyword lists."""
        include, exclude = service.keyword_lists()
        return {"include": include, "exclude": exclude}

    @staff_required(*ADMIN)
    @blp.arguments(OpinionKeywordsIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 409, 422)
    def put(self, body, staff):
        """Replace both lists (409 if a word is in both)."""
        include, exclude = service.set_keywords(body["include"], body["exclude"])
        audit.record(
            "opinion.keywords",
            "opinion_keywords",
            "*",
            actor=staff,
            include=len(include),
            exclude=len(exclude),
        )
        commit()
        return {"include": include, "exclude": exclude}
