"""One JSON error shape for every API error, and the typed exceptions services raise.

Shape: ``{"error": {"code": "<stable_snake_case>", "message": "<human text>", "fields": {...}}}``.
Services raise AppError subclasses; HTTP mapping happens here and nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
)
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from app.fieldmessages import translate_fields
from app.storage import StorageError

log = logging.getLogger(__name__)

# Status -> (code, message shown to people). Messages are read by citizens and staff: Chinese.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "请求的资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "操作与当前状态冲突"),
    410: ("gone", "该资源已失效"),
    413: ("payload_too_large", "上传内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_failed", "提交的内容有误，请检查后重试"),
    429: ("rate_limited", "操作过于频繁，请稍后再试"),
    500: ("internal_error", "服务器开小差了，请稍后再试"),
    502: ("upstream_error", "上游服务异常，请稍后再试"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试"),
}


class AppError(Exception):
    """An expected failure with an HTTP status, a stable code and a message for people."""

    status = 400
    code = "bad_request"
    message = "请求格式不正确"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.fields = fields
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    """The request cannot be understood."""


class Unauthorized(AppError):
    """No valid credentials."""

    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(AppError):
    """Credentials are valid but do not allow this action."""

    status, code, message = 403, "forbidden", "没有权限执行此操作"


class NotFound(AppError):
    """The object does not exist (or is not visible to this caller)."""

    status, code, message = 404, "not_found", "请求的资源不存在"


class Conflict(AppError):
    """The action conflicts with the object's current state."""

    status, code, message = 409, "conflict", "操作与当前状态冲突"


class InvalidTransition(Conflict):
    """A workflow move that the current state does not allow."""

    code = "invalid_transition"
    message = "当前状态下不能执行该操作"


class ValidationFailed(AppError):
    """Input that parsed but is not acceptable; ``fields`` says which and why."""

    status, code, message = 422, "validation_failed", "提交的内容有误，请检查后重试"


class UnsupportedMediaType(AppError):
    """The body's content type (or a file's real content) is not accepted."""

    status, code, message = 415, "unsupported_media_type", "不支持的内容类型"


class PayloadTooLarge(AppError):
    """The body or an uploaded file is larger than allowed."""

    status, code, message = 413, "payload_too_large", "上传内容过大"


class TooManyRequests(AppError):
    """A rate or quota limit was hit."""

    status, code, message = 429, "rate_limited", "操作过于频繁，请稍后再试"


class ServiceUnavailable(AppError):
    """A dependency (database, WeChat) is unavailable; the client may retry later."""

    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后再试"


def _string_keys(fields: dict[Any, Any]) -> dict[str, Any]:
    """Field names as JSON object keys: strings, however a parser named them (a multipart part
    without a name comes as None, a list item's errors under its int index), so that sorting
    the keys of the response cannot fail."""
    return {
        "_body" if key is None else str(key): _string_keys(value)
        if isinstance(value, dict)
        else value
        for key, value in fields.items()
    }


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The error payload; ``fields`` appears only when there are field errors, ``request_id``
    (the id on this request's log lines and in ``X-Request-ID``) whenever a request is served."""
    err: dict[str, Any] = {"code": code, "message": message}
    if fields:
        err["fields"] = translate_fields(_string_keys(fields))
    request_id = request_id_or_none()
    if request_id:
        err["request_id"] = request_id
    return {"error": err}


def request_id_or_none() -> str | None:
    """The id of the request being served (set by app.logs), if any."""
    return g.get("request_id") if has_request_context() else None


def wants_html() -> bool:
    """Pages get an HTML error page; API, WeChat and machine clients get JSON."""
    path = request.path
    if path.startswith(("/api/", "/wechat/", "/_wechat/")) or path in {"/healthz", "/readyz"}:
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the error response (JSON, or the error page for browsers on page routes)."""
    if wants_html():
        resp = Response(
            render_template(
                "error.html",
                status=status,
                code=code,
                message=message,
                request_id=request_id_or_none(),
            ),
            status=status,
            mimetype="text/html",
        )
    else:
        resp = jsonify(error_body(code, message, fields))
        resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _flatten_webargs(messages: Any) -> dict[str, Any]:
    """webargs nests field errors by location ({"json": {...}}); clients want the fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    fields: dict[str, Any] = {}
    for location, errs in messages.items():
        if isinstance(errs, dict):
            fields.update(errs)
        else:
            fields[location] = errs
    return fields


def handle_http_exception(exc: HTTPException) -> Response:
    """Map werkzeug/webargs/limiter exceptions to the one shape."""
    status = exc.code or 500
    code, message = HTTP_ERRORS.get(status, ("http_error", exc.description or "请求失败"))
    fields = None
    headers: dict[str, str] = {}
    data = getattr(exc, "data", None) or {}
    if data.get("messages"):
        fields = _flatten_webargs(data["messages"])
    if data.get("message"):
        message = data["message"]
    if data.get("headers"):
        headers.update(data["headers"])
    if status == 400 and exc.__class__.__name__ == "CSRFError":
        code, message = "csrf_failed", "页面已过期或来源不可信，请刷新后重试"
    if status == 405:
        valid = getattr(exc, "valid_methods", None) or []
        headers["Allow"] = ", ".join(sorted(valid))
    if status == 429:
        for key, value in exc.get_headers():
            if key.lower() == "retry-after":
                headers["Retry-After"] = value
    if status >= 500:
        log.error("http error %s on %s %s", status, request.method, request.path)
    return error_response(status, code, message, fields, headers)


def handle_app_error(exc: AppError) -> Response:
    """Typed service errors."""
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


def handle_unexpected(exc: Exception) -> Response:
    """Anything unexpected: roll back, log with the request id, answer 500 without internals."""
    from app.extensions import db  # app.extensions -> app.apispec imports this module

    db.session.rollback()
    log.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
    code, message = HTTP_ERRORS[500]
    return error_response(500, code, message)


# A database that cannot serve now is a 503 the client may retry, not a 500: it could not be
# reached or dropped the connection (SQLAlchemy marks both), no pooled connection came free in
# time, or it is busy: a lock wait timed out or this transaction was a deadlock's victim
# (MariaDB 1205, 1213; SQLite past its busy timeout).
DB_RETRY_AFTER = {"database_unavailable": "30", "database_busy": "5"}
DB_MESSAGES = {
    "database_unavailable": "数据库暂时无法访问，请稍后重试",
    "database_busy": "系统繁忙，请稍后重试",
}
MYSQL_DEADLOCK = 1213
DEADLOCK_FLAG = "zhcg.deadlock"  # in the WSGI environ: app.dbretry may run the request again
MYSQL_BUSY = {1205, MYSQL_DEADLOCK}


def database_trouble(exc: Exception) -> str | None:
    """``database_unavailable``, ``database_busy`` or None (a real error: a 500)."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return "database_unavailable"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "database_unavailable"
    # A deadlock victim, or (on Galera) a commit that failed certification: 1213, also at
    # COMMIT, where SQLAlchemy has no statement to name.
    if isinstance(exc, sa_exc.OperationalError):
        args = getattr(exc.orig, "args", ())
        if (args and args[0] in MYSQL_BUSY) or "database is locked" in str(exc.orig):
            return "database_busy"
    # No statement: it failed while connecting (or committing), not because of what it ran.
    if exc.statement is None:
        return "database_unavailable"
    return None


def is_deadlock(exc: Exception) -> bool:
    """MariaDB's 1213: the transaction was rolled back whole and may simply run again."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    return isinstance(exc, sa_exc.OperationalError) and bool(args) and args[0] == MYSQL_DEADLOCK


def handle_database_error(exc: Exception) -> Response:
    """The database is down, unreachable or busy: 503 with Retry-After; anything else is 500."""
    code = database_trouble(exc)
    if code is None:
        return handle_unexpected(exc)
    from app.extensions import db  # as in handle_unexpected

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may be gone; the session is discarded
        log.debug("rollback after a database error failed", exc_info=True)
    if is_deadlock(exc):  # app.dbretry runs the request again while it has attempts left
        request.environ[DEADLOCK_FLAG] = True
    log.warning("%s on %s %s (request %s): %s", code, request.method, request.path,
                getattr(g, "request_id", "-"), getattr(exc, "orig", exc))  # fmt: skip
    return error_response(
        503, code, DB_MESSAGES[code], headers={"Retry-After": DB_RETRY_AFTER[code]}
    )


STORAGE_MESSAGE = "文件存储暂时无法访问，请稍后重试"


def storage_unavailable(message: str = STORAGE_MESSAGE) -> ServiceUnavailable:
    """The 503 for a file store that failed (S3 down, a full disk): the client may retry."""
    return ServiceUnavailable(
        message,
        code="storage_unavailable",
        headers={"Retry-After": str(current_app.config["STORAGE_RETRY_AFTER"])},
    )


def handle_storage_error(exc: Exception) -> Response:
    """A storage failure no caller handled (a plate image, a label, evidence): 503 with
    Retry-After, as for the database. A missing object that a row names is a real error: 500."""
    from app.extensions import db  # as in handle_unexpected
    from app.storage import ObjectNotFound

    if isinstance(exc, ObjectNotFound):
        return handle_unexpected(exc)
    db.session.rollback()
    log.warning("storage_unavailable on %s %s (request %s): %s", request.method, request.path,
                getattr(g, "request_id", "-"), exc)  # fmt: skip
    return handle_app_error(storage_unavailable())


def register_error_handlers(app: Flask) -> None:
    """Bind the handlers; flask-smorest's own HTTPException handler delegates here (apispec.py)."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for db_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, sa_exc.DisconnectionError):
        app.register_error_handler(db_error, handle_database_error)
    app.register_error_handler(StorageError, handle_storage_error)
    app.register_error_handler(Exception, handle_unexpected)
