"""The Open311 GeoReport v2 interface under /open311 (docs/open311.md).

    GET  /open311/discovery.{json,xml}            the discovery document
    GET  /open311/v2/services.{json,xml}          services: the active categories
    GET  /open311/v2/services/{code}.{json,xml}   a service's attributes (follow-up questions)
    POST /open311/v2/requests.{json,xml}          post a request (api_key; form or multipart)
    GET  /open311/v2/requests.{json,xml}          requests (ids, service_code, dates, status, page)
    GET  /open311/v2/requests/{id}.{json,xml}     one request
    GET  /open311/v2/tokens/{token}.{json,xml}    the request a token stands for

Every error under /open311 is the standard's list of {code, description} (XML <errors><error>),
in the format the URL asks for (XML, the standard's required format, when it names none), with
the standard's codes: bad input 400 (our 422), a missing or wrong api_key 403, an unknown
jurisdiction, service or request 404. Our JSON error shape is not used here.

These routes are not in the OpenAPI spec (/api/openapi.json): that spec describes the /api JSON
API in its one error shape, while this is a published standard with its own documents, XML bodies
and error list, announced by its own discovery document. Their contract is checked against an XSD
written from the GeoReport v2 documentation and by a third-party client (tests/reports/open311).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from app.db import commit, utcnow
from app.errors import (
    HTTP_ERRORS,
    AppError,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    database_trouble,
    storage_unavailable,
)
from app.extensions import db
from app.fieldmessages import translate_fields
from app.media import service as media_service
from app.ratelimits import enforce, public_limit
from app.storage import StorageError
from reports.open311 import formats, present, service
from reports.open311.schemas import RequestIn
from reports.service import MAX_PHOTOS

log = logging.getLogger(__name__)

bp = Blueprint("open311", __name__, url_prefix="/open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T08:00:00+08:00"  # when this interface last changed
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# The standard answers bad input with 400 and a missing or wrong api_key with 403.
STANDARD_STATUS = {422: 400, 401: 403, 415: 400}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ATTRIBUTE = re.compile(r"attribute\[([^\[\]]{1,24})\](\[\])?")
KEY_HEADER = "Idempotency-Key"
# A parallel retry meets the first one's unique key (IntegrityError) or, on MariaDB, a deadlock
# on the day's number counter: it is tried again, then answered with the first request.
ATTEMPTS = 3


def endpoint(rule: str, *methods: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view for every method, so that another method is the standard's 405 (with
    Allow) rather than the catch-all's 404."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        def checked(**kwargs: Any) -> Any:
            if request.method not in methods and request.method != "HEAD":
                raise MethodNotAllowed(valid_methods=list(methods))
            return view(**kwargs)

        bp.add_url_rule(rule, view.__name__, checked, methods=ANY_METHOD)
        return view

    return deco


# ---------------------------------------------------------------- errors and formats


def request_format() -> str:
    """The format the URL asks for: json or xml (the standard's required one by default)."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt in formats.FORMATS:
        return fmt
    return "json" if request.path.endswith(".json") else "xml"


def _described(message: str, fields: dict[str, Any] | None) -> str:
    """The message with each field's reasons: 提交的内容有误（service_code：必填项不能为空）."""
    if not fields:
        return message
    parts = []
    for name, reasons in translate_fields(fields).items():
        text = "；".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons)
        parts.append(f"{name}：{text}")
    return f"{message}（{'；'.join(parts)}）"


@bp.errorhandler(Exception)
def open311_error(exc: Exception):
    """Every error under /open311, in the standard's format (module docstring)."""
    if isinstance(exc, StorageError):
        db.session.rollback()
        exc = storage_unavailable()
    headers: dict[str, str] = {}
    if isinstance(exc, AppError):
        status, message, fields = exc.status, exc.message, exc.fields
        headers.update(exc.headers)
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        message, fields = HTTP_ERRORS.get(status, ("", exc.description or "请求失败"))[1], None
        headers.update({k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After")})
    elif (trouble := database_trouble(exc)) is not None:
        db.session.rollback()
        log.warning("%s on %s %s: %s", trouble, request.method, request.path, exc)
        status, message, fields = 503, HTTP_ERRORS[503][1], None
        headers["Retry-After"] = "30" if trouble == "database_unavailable" else "5"
    else:
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        status, message, fields = 500, HTTP_ERRORS[500][1], None
    status = STANDARD_STATUS.get(status, status)
    return formats.errors(status, _described(message, fields), request_format(), headers)


def _format(fmt: str) -> str:
    if fmt not in formats.FORMATS:
        raise NotFound("不支持该格式，请使用 .json 或 .xml", code="format_not_supported")
    return fmt


def _jurisdiction() -> None:
    """The standard's 404 for a jurisdiction_id that is not ours (none given: ours)."""
    given = (request.values.get("jurisdiction_id") or "").strip()
    ours = current_app.config["OPEN311_JURISDICTION_ID"]
    if given and given != ours:
        raise NotFound(f"jurisdiction_id 不存在：{given}", code="jurisdiction_not_found")


def _read(fmt: str) -> str:
    """Checks of every read: the format, the jurisdiction, the per-address limit."""
    fmt = _format(fmt)
    enforce(public_limit(), "open311_read", request.remote_addr)
    _jurisdiction()
    return fmt


# ---------------------------------------------------------------- discovery and services


@endpoint("/discovery.<fmt>", "GET")
def discovery(fmt: str):
    """The discovery document: where the v2 endpoint is, its formats, how to get a key."""
    fmt = _format(fmt)
    enforce(public_limit(), "open311_read", request.remote_addr)
    cfg = current_app.config
    info = {
        "changeset": CHANGESET,
        "contact": cfg["OPEN311_CONTACT"],
        "key_service": cfg["OPEN311_KEY_SERVICE"],
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": f"{cfg['PUBLIC_BASE_URL']}/open311/v2",
            "changeset": CHANGESET,
            "type": "production" if cfg.get("ENV_NAME") == "production" else "test",
            "formats": ["text/xml", "application/json"],
        }],
    }  # fmt: skip
    return formats.document("discovery", info, fmt)


@endpoint("/v2/services.<fmt>", "GET")
def services(fmt: str):
    """The services: one per active category."""
    fmt = _read(fmt)
    return formats.document("services", present.service_list(), fmt)


@endpoint("/v2/services/<code>.<fmt>", "GET")
def service_definition(code: str, fmt: str):
    """A service's attributes: its category's follow-up questions."""
    fmt = _read(fmt)
    return formats.document("service_definition", present.service_definition(code), fmt)


# ---------------------------------------------------------------- requests


@endpoint("/v2/requests.<fmt>", "GET", "POST")
def service_requests(fmt: str):
    """GET: the requests the filters name; POST: post a request (see ``post_request``)."""
    if request.method == "POST":
        return post_request(_format(fmt))
    fmt = _read(fmt)
    found = present.find_requests(present.parse_filter(request.args), utcnow())
    return formats.document("service_requests", present.request_views(found), fmt)


@endpoint("/v2/requests/<request_id>.<fmt>", "GET")
def request_detail(request_id: str, fmt: str):
    """One request (a list of one, as the standard answers)."""
    fmt = _read(fmt)
    views = present.request_views([present.find_request(request_id)])
    return formats.document("service_requests", views, fmt)


@endpoint("/v2/tokens/<token>.<fmt>", "GET")
def token(token: str, fmt: str):
    """The request a token stands for (every request is created at once: it always has one)."""
    fmt = _read(fmt)
    return formats.document("service_requests", [present.by_token(token)], fmt)


@endpoint("/", *ANY_METHOD)
def index():
    """Nothing here: the discovery document names the endpoint."""
    raise NotFound("请从 /open311/discovery.xml 开始", code="not_found")


@endpoint("/<path:rest>", *ANY_METHOD)
def unknown(rest: str):
    """Any other path under /open311: the standard's 404."""
    raise NotFound("请求的资源不存在，接口说明见 /open311/discovery.xml", code="not_found")


# ---------------------------------------------------------------- posting


def _idempotency_key() -> str | None:
    """The client's retry key: the Idempotency-Key header or the idempotency_key parameter."""
    key = (request.headers.get(KEY_HEADER) or request.form.get("idempotency_key") or "").strip()
    if not key:
        return None
    if len(key) > 64 or not key.isascii() or not key.isprintable():
        raise ValidationFailed(fields={"idempotency_key": ["最多64个可见ASCII字符"]})
    return key


def _answers() -> dict[str, str]:
    """``attribute[key]=value`` (and ``attribute[key][]``) as answers: one value a question."""
    answers: dict[str, str] = {}
    for name in request.form:
        match = ATTRIBUTE.fullmatch(name)
        if match is None:
            continue
        values = [v for v in request.form.getlist(name) if v.strip()]
        if len(values) > 1 or match.group(1) in answers:
            raise ValidationFailed(fields={name: ["该问题只能有一个答案"]})
        if values:
            answers[match.group(1)] = values[0].strip()
    return answers


def _posted() -> service.Posted:
    """The posted form, checked; 400 naming the parameter."""
    if request.mimetype not in FORM_TYPES:
        raise ValidationFailed(
            "请以表单提交（application/x-www-form-urlencoded 或 multipart/form-data）",
            code="form_required")  # fmt: skip
    raw = {k: v for k, v in request.form.items() if v.strip()}
    try:
        data = RequestIn().load(raw)
    except ma.ValidationError as err:
        raise ValidationFailed(fields=err.normalized_messages()) from None
    return service.Posted(**data, answers=_answers(), idempotency_key=_idempotency_key())


def _uploads() -> list[bytes]:
    """The photos sent as multipart ``media`` (FixMyStreet's extension), at most MAX_PHOTOS."""
    files = [f for f in request.files.getlist("media") if (f.filename or "").strip()]
    if len(files) > MAX_PHOTOS:
        raise ValidationFailed(fields={"media": [f"最多{MAX_PHOTOS}张照片"]})
    limit = current_app.config["MEDIA_MAX_BYTES"]
    out = []
    for item in files:
        data = media_service.require_content(item.read(limit + 1), "media")
        if len(data) > limit:
            raise PayloadTooLarge("照片过大", code="image_too_large")
        out.append(data)
    return out


def post_request(fmt: str):
    """Post a service request: a new case (201), or for a retry with the same idempotency key
    the request it made (200)."""
    api_key = request.form.get("api_key") or request.args.get("api_key")
    client = service.authenticate(api_key)
    enforce(client.rate_limit, "open311_client", client.id)
    _jurisdiction()
    posted, uploads = _posted(), _uploads()
    sub = service.submission(posted)
    if sub.idempotency_key:
        sub.fingerprint = service.fingerprint(sub, posted.media_url, uploads)
        found = service.replay(client, sub)
        if found is not None:
            return formats.document("service_requests", [present.posted_view(found)], fmt, 200)
    service.check_in_city(sub)  # before any photo is stored
    req, created = _file(client, sub, posted.media_url, uploads)
    view = present.posted_view(req)
    return formats.document("service_requests", [view], fmt, 201 if created else 200)


def _file(client, sub, media_url, uploads):
    """File and commit; a parallel retry of the same key is answered with the first request."""
    error: Exception | None = None
    for _attempt in range(ATTEMPTS):
        try:
            req, created = service.file_request(client, sub, media_url, uploads)
            commit()
            return req, created
        except IntegrityError as exc:
            db.session.rollback()
            error = exc
        except OperationalError as exc:  # a deadlock or lock wait with the parallel retry
            db.session.rollback()
            if database_trouble(exc) != "database_busy":
                raise
            error = exc
        if sub.idempotency_key:
            found = service.replay(client, sub)
            if found is not None:
                return found, False
    raise error
