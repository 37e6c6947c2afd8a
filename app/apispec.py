"""flask-smorest Api with our error shape and documented error responses."""

from __future__ import annotations

import http

import marshmallow as ma
from flask_smorest import Api as SmorestApi

from app.errors import handle_http_exception


class ErrorDetailSchema(ma.Schema):
    """The inside of an error payload."""

    code = ma.fields.String(
        required=True, metadata={"description": "Stable snake_case code", "example": "not_found"}
    )
    message = ma.fields.String(
        required=True, metadata={"description": "Message for people (Simplified Chinese)"}
    )
    fields = ma.fields.Dict(
        metadata={"description": "Field errors: field name -> list of messages (422 only)"}
    )


class ErrorSchema(ma.Schema):
    """Every API error, 4xx and 5xx alike."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class Api(SmorestApi):
    """Api whose HTTP error handler is ours and whose spec documents the one error shape."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def handle_http_exception(self, error):  # type: ignore[override]
        """Delegate to app.errors so pages and APIs share one mapping."""
        return handle_http_exception(error)


def document_only(*decorators):
    """Decorator: keep what flask-smorest decorators (``blp.response``, ``blp.alt_response``) put
    in the docs, without their per-request wrappers. The docs are built on a carrier and attached
    to the view itself, so requests pay nothing; the view returns its own Response."""

    def wrap(func):
        carrier = func
        for decorator in reversed(decorators):
            carrier = decorator(carrier)
        func._apidoc = carrier._apidoc
        return func

    return wrap


def document_errors(blp, *statuses: int):
    """Decorator: document the error responses a view can give (all in the one error shape).
    flask-smorest's alt_response wraps the view once per status only to carry documentation."""
    return document_only(*(blp.alt_response(s, response=http.HTTPStatus(s).name) for s in statuses))
