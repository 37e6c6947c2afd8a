"""flask-smorest Api with our error shape and documented error responses, and the fields whose
every rule is declared in the spec (bounded ids, dates and map boxes), so that what the spec
promises and what the server accepts stay the same thing (tests/test_openapi_conformance.py)."""

from __future__ import annotations

import http
from datetime import date, datetime
from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from flask import Flask
from flask_smorest import Api as SmorestApi
from webargs.fields import DelimitedList
from werkzeug.routing import IntegerConverter

from app.errors import handle_http_exception

# Ids and counts live in INT columns (MariaDB); SQLite cannot even bind an integer past 2**63 - 1.
MAX_INT = 2**31 - 1
ID = ma.validate.Range(1, MAX_INT, error=f"应为 1 到 {MAX_INT} 之间的整数")
# Dates the service turns into local midnights and UTC instants: far from datetime's edges.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
DATE_PATTERN = r"^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"
# Whitespace as Python's str.strip() and re's \s see it; a pattern's \s is JavaScript's, which
# leaves out \x1c-\x1f and \x85. Write a negated \s as [^...SPACE] so both agree.
SPACE = r"\s\x1c-\x1f\x85"
NOT_BLANK = rf"[^{SPACE}]"  # the pattern of a text that .strip() does not empty


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
    request_id = ma.fields.String(
        metadata={"description": "The request's id, as in X-Request-ID and the server logs"}
    )


class ErrorSchema(ma.Schema):
    """Every API error, 4xx and 5xx alike."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class IdConverter(IntegerConverter):
    """``<int:...>`` in every URL: up to MAX_INT, as the spec says; a larger number matches no
    route (404) instead of overflowing the database driver (500)."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def _id_param(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": converter.min or 0, "maximum": converter.max}


class SchemaConverter(OpenAPIConverter):
    """Adds a schema's ``Meta.json_schema`` (rules on the whole object, such as "at least one
    field": ``AT_LEAST_ONE``) to its JSON Schema, and says what a nullable nested object is."""

    def schema2jsonschema(self, schema):
        jsonschema = super().schema2jsonschema(schema)
        jsonschema.update(getattr(getattr(schema, "Meta", None), "json_schema", {}))
        return jsonschema

    def field2nullable(self, field, ret) -> dict:
        """apispec writes a nullable ``Nested`` as "any object, or the nested schema", which
        declares every object valid: the first branch must be null and nothing else."""
        attributes = super().field2nullable(field, ret)
        for branch in attributes.get("anyOf", []):
            if branch == {"type": "object", "nullable": True}:
                branch["enum"] = [None]
        return attributes


class SchemaPlugin(MarshmallowPlugin):
    Converter = SchemaConverter


def at_least_one_of(*names: str) -> dict[str, Any]:
    """``Meta.json_schema`` of a body that must carry at least one of these fields."""
    return {"anyOf": [{"required": [name]} for name in names]}


def together(*names: str) -> dict[str, Any]:
    """``Meta.json_schema`` of a body that carries all of these fields or none of them."""
    return {"not": {"anyOf": [{"required": [a], "not": {"required": [b]}}
                              for a in names for b in names if a != b]}}  # fmt: skip


AT_LEAST_ONE = {"minProperties": 1}  # Meta.json_schema of a body that must not be empty


class Api(SmorestApi):
    """Api whose HTTP error handler is ours and whose spec documents the one error shape."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "DEFAULT_ERROR"

    def init_app(self, app: Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        """Bind to the app; before any blueprint, so that every ``<int:...>`` is an IdConverter."""
        app.url_map.converters["int"] = IdConverter
        super().init_app(app, spec_kwargs=spec_kwargs)

    def _init_spec(self, **kwargs: Any) -> None:
        kwargs.setdefault("marshmallow_plugin", SchemaPlugin())
        super()._init_spec(**kwargs)
        self.flask_plugin.register_converter(IdConverter, _id_param)

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


# -- fields whose rules are all in the spec ------------------------------------------------------


def bounded_date(**kwargs: Any) -> ma.fields.Date:
    """A YYYY-MM-DD date from 1900 to 2999: declared as ``format: date`` with a pattern for the
    century, enforced as a range (a date near year 1 or 9999 overflows as a UTC instant)."""
    metadata = {"pattern": DATE_PATTERN} | kwargs.pop("metadata", {})
    message = f"日期应在 {MIN_DATE} 到 {MAX_DATE} 之间"
    return ma.fields.Date(validate=ma.validate.Range(MIN_DATE, MAX_DATE, error=message),
                          metadata=metadata, **kwargs)  # fmt: skip


def bounded_datetime(**kwargs: Any) -> ma.fields.AwareDateTime:
    """An ISO 8601 time whose written date lies from 1900 to 2999 (``AwareDateTime``: pass
    ``default_timezone`` for a time without an offset): declared as ``format: date-time`` with a
    pattern for the century; a time near year 1 or 9999 has no UTC instant (a 500 before)."""
    metadata = {"pattern": DATE_PATTERN.removesuffix("$")} | kwargs.pop("metadata", {})
    message = f"时间应在 {MIN_DATE} 到 {MAX_DATE} 之间"

    def in_range(value: datetime) -> None:
        if not MIN_DATE <= value.date() <= MAX_DATE:
            raise ma.ValidationError(message)

    return ma.fields.AwareDateTime(validate=in_range, metadata=metadata, **kwargs)


class Bbox(DelimitedList):
    """A map box as Leaflet's toBBoxString() writes it, ``minLng,minLat,maxLng,maxLat``; loaded
    as that tuple. Declared: four comma-separated numbers from -180 to 180 (latitudes past a pole
    stop at it). Not declarable in JSON Schema, so only described: each minimum below its
    maximum."""

    SHAPE = "bbox 应为 minLng,minLat,maxLng,maxLat"

    def __init__(self, **kwargs: Any) -> None:
        number = ma.fields.Float(
            validate=ma.validate.Range(-180, 180, error="bbox 超出经纬度范围"),
            error_messages={"invalid": self.SHAPE, "special": self.SHAPE},
        )
        metadata = {"description": "minLng,minLat,maxLng,maxLat; each minimum below its maximum"}
        super().__init__(number, validate=ma.validate.Length(equal=4, error=self.SHAPE),
                         metadata=metadata | kwargs.pop("metadata", {}), **kwargs)  # fmt: skip

    def _deserialize(self, value, attr, data, **kwargs):
        values = super()._deserialize(value, attr, data, **kwargs)
        if len(values) != 4:
            raise ma.ValidationError(self.SHAPE)
        min_lng, min_lat, max_lng, max_lat = values
        min_lat, max_lat = (max(-90.0, min(90.0, v)) for v in (min_lat, max_lat))
        if not (min_lng < max_lng and min_lat < max_lat):
            raise ma.ValidationError(self.SHAPE)
        return (min_lng, min_lat, max_lng, max_lat)
