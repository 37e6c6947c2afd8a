"""Citizen API of project consultations: the public projects and their approved comments
(anyone), the citizen's answers and votes in a phase (one per phase, changeable while it is
open: PUT is an upsert), and comments and proposals (moderated before others see them).

Public reads are rate limited per address; a citizen's writes per citizen
(RATELIMIT_CONSULTATIONS).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.apispec import document_errors
from app.auth.current import citizen_required, current_citizen
from app.db import commit
from app.errors import ValidationFailed, database_trouble
from app.extensions import db, limiter
from app.ratelimits import public_limit
from reports.consultations import participation, present, service
from reports.consultations.models import CommentKind
from reports.consultations.schemas import (
    CommentListArgs,
    ConsultationCommentIn,
    ConsultationResponseIn,
    PublicListArgs,
)

blp = Blueprint(
    "consultations",
    __name__,
    url_prefix="/api/v1/consultations",
    description="项目征询（问需·问计·问效）：项目、答题投票、留言建议（市民）",
)

ATTEMPTS = 3  # a submission that lost a race (unique key, deadlock) is tried again
IDEMPOTENCY_DOC = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[\\x21-\\x7e]*$"},
    "description": "A retry with the same key returns the first comment (200), never a second "
    "one; the same key with other text is 422 idempotency_key_reused.",
}


def consultation_limit() -> str:
    """Limit on a citizen's answers, votes, comments and proposals."""
    return current_app.config.get("RATELIMIT_CONSULTATIONS", "30/minute;300/day")


def citizen_key() -> str:
    """Rate-limit key: the signed-in citizen, else the client address."""
    user = current_citizen()
    return f"user:{user.id}" if user else f"ip:{request.remote_addr}"


WRITE_LIMIT = limiter.limit(consultation_limit, key_func=citizen_key, methods=["POST", "PUT"])


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > 64 or not key.isascii() or not key.isprintable() or " " in key:
        raise ValidationFailed(fields={"Idempotency-Key": ["最多64个可见ASCII字符"]})
    return key


def _retrying(attempt):
    """Run ``attempt()`` and commit; a lost race (a unique key, a deadlock or lock wait) is
    rolled back and run again, at most ATTEMPTS times."""
    error: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            result = attempt()
            commit()
            return result
        except IntegrityError as exc:
            db.session.rollback()
            error = exc
        except OperationalError as exc:
            db.session.rollback()
            if database_trouble(exc) != "database_busy":
                raise
            error = exc
    raise error


@blp.route("/projects")
class Projects(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.arguments(PublicListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 422, 429)
    def get(self, args):
        """Published projects (newest first), optionally of one kind; with their phases' state."""
        query = service.published_projects(args["kind"])
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = db.session.scalars(
            query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
        ).all()
        counts = present.participants_by_project(p.id for p in rows)
        return {
            "items": [present.list_item(p, counts.get(p.id, 0)) for p in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/projects/<code>")
class Project(MethodView):
    decorators = [limiter.limit(public_limit)]

    @blp.response(200)
    @document_errors(blp, 404, 429)
    def get(self, code):
        """A project by its plate code: place, photos (public copies), phases with their
        questions and state, the result note."""
        return present.project_view(service.public_project(code))


def _phase(code: str, kind: str):
    return service.phase_of(service.public_project(code), kind)


@blp.route("/projects/<code>/phases/<kind>/response")
class MyResponse(MethodView):
    decorators = [WRITE_LIMIT, limiter.limit(public_limit)]

    @citizen_required
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 429)
    def get(self, code, kind, citizen):
        """My answers in the phase (``submitted`` false before the first time)."""
        return present.response_view(participation.my_response(citizen, _phase(code, kind)))

    @citizen_required
    @blp.arguments(ConsultationResponseIn)
    @blp.response(200)
    @document_errors(blp, 401, 403, 404, 409, 422, 429)
    def put(self, body, code, kind, citizen):
        """Answer and vote (one response per citizen and phase): the first time it is stored,
        later it replaces the earlier answers, until the phase closes (409 phase_not_open).
        Parallel submissions of one citizen leave one response. ``created`` says which."""

        def attempt() -> dict[str, Any]:
            phase = _phase(code, kind)  # again after a rollback: fresh rows
            response, created = participation.submit_response(citizen, phase, body["answers"])
            return present.response_view(response) | {"created": created}

        return _retrying(attempt)


@blp.route("/projects/<code>/phases/<kind>/comments")
class Comments(MethodView):
    decorators = [WRITE_LIMIT, limiter.limit(public_limit)]

    @blp.arguments(CommentListArgs, location="query")
    @blp.response(200)
    @document_errors(blp, 404, 422, 429)
    def get(self, args, code, kind):
        """Approved comments and proposals, newest first (authors masked); a signed-in
        citizen also sees their own ones waiting for moderation."""
        phase = _phase(code, kind)
        citizen = current_citizen()
        query = participation.visible_comments(phase, citizen)
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = db.session.scalars(
            query.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])
        ).all()
        viewer = citizen.id if citizen else None
        return {
            "items": [present.comment_view(c, viewer) for c in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }

    @citizen_required
    @blp.arguments(ConsultationCommentIn)
    @blp.doc(parameters=[IDEMPOTENCY_DOC])
    @blp.response(201)
    @blp.alt_response(200, description="A retry: the comment this key made")
    @document_errors(blp, 401, 403, 404, 409, 422, 429)
    def post(self, body, code, kind, citizen):
        """Leave a comment, or a proposal where the phase asks for them (问计), while the phase is
        open. Others see it once a moderator approved it."""
        req = participation.CommentRequest(
            CommentKind(body["kind"]), body["body"], idempotency_key()
        )
        try:
            comment, created = participation.add_comment(citizen, _phase(code, kind), req)
            commit()
        except IntegrityError:  # the same key's concurrent retry won
            db.session.rollback()
            comment, created = participation.replayed_comment(citizen, req), False
            if comment is None:
                raise
        return present.comment_view(comment, citizen.id), 201 if created else 200
