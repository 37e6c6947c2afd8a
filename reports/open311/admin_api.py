"""Open311 clients as admins manage them: issue a key (shown once), change the rate limit,
revoke, issue a new key. Every write is audited (reports.open311.service)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from app.apispec import document_errors
from app.auth.current import staff_required
from app.auth.models import Role
from app.db import commit
from reports.open311 import service
from reports.open311.schemas import ClientIn, ClientKeyOut, ClientListOut, ClientOut, ClientPatch

blp = Blueprint(
    "open311_admin",
    __name__,
    url_prefix="/api/v1/admin/open311",
    description="Open311 接入方与密钥（管理员）",
)

admin_only = staff_required(Role.ADMIN)


@blp.route("/clients")
class Clients(MethodView):
    decorators = [admin_only]

    @blp.response(200, ClientListOut)
    @document_errors(blp, 401, 403)
    def get(self, staff):
        """Every client, newest first, with its rate limit and how many requests it posted."""
        return {"items": service.client_views(service.list_clients())}

    @blp.arguments(ClientIn)
    @blp.response(201, ClientKeyOut)
    @document_errors(blp, 401, 403, 409, 422)
    def post(self, body, staff):
        """Issue a client its API key: the key is in this answer only (only its hash is
        kept); 409 if the name is taken."""
        client, key = service.create_client(body, staff)
        commit()
        return service.client_view(client, 0) | {"api_key": key}


@blp.route("/clients/<int:client_id>")
class Client(MethodView):
    decorators = [admin_only]

    @blp.arguments(ClientPatch)
    @blp.response(200, ClientOut)
    @document_errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body, client_id, staff):
        """Change the name, contact or rate limit."""
        client = service.update_client(service.client_by_id(client_id), body, staff)
        commit()
        return service.client_view(client)


@blp.route("/clients/<int:client_id>/revoke")
class Revoke(MethodView):
    decorators = [admin_only]

    @blp.response(200, ClientOut)
    @document_errors(blp, 401, 403, 404)
    def post(self, client_id, staff):
        """Revoke the client's key at once (idempotent)."""
        client = service.revoke_client(service.client_by_id(client_id), staff)
        commit()
        return service.client_view(client)


@blp.route("/clients/<int:client_id>/key")
class NewKey(MethodView):
    decorators = [admin_only]

    @blp.response(201, ClientKeyOut)
    @document_errors(blp, 401, 403, 404)
    def post(self, client_id, staff):
        """Issue a new key (shown once): the old one stops working, a revoked client works
        again."""
        client = service.client_by_id(client_id)
        key = service.reissue_key(client, staff)
        commit()
        return service.client_view(client) | {"api_key": key}
