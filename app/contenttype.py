"""What API writes may send: JSON, a form or multipart (anything else is 415), and JSON no
deeper than MAX_JSON_DEPTH levels (400), checked before any view parses it."""

from __future__ import annotations

import io
from itertools import accumulate

from flask import Flask, request

from app.errors import BadRequest, UnsupportedMediaType

ACCEPTED = {"application/json", "multipart/form-data", "application/x-www-form-urlencoded"}

# No body this API takes nests deeper than a GeoJSON MultiPolygon in a FeatureCollection (8).
# Python's JSON parser recurses once per level and fails past about 1,000 levels with a
# RecursionError that no view handles, so the limit is checked on the raw bytes, before any
# parser (Flask's, webargs') sees them.
MAX_JSON_DEPTH = 64
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_CHUNK = 1 << 16


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if the JSON text nests arrays and objects more than ``limit`` levels deep.

    Brackets inside strings do not count. Linear in the body's size, and a body with no more
    than ``limit`` opening brackets in all is not scanned at all."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    # Drop escaped backslashes and quotes, then every other piece between quotes is a string.
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    steps = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKET)
    depth = 0
    for start in range(0, len(steps), _CHUNK):  # in pieces: a deep body stops at its first one
        levels = list(accumulate(map(_STEP.__getitem__, steps[start : start + _CHUNK]),
                                 initial=depth))  # fmt: skip
        if max(levels) > limit:
            return True
        depth = levels[-1]
    return False


def init_app(app: Flask) -> None:
    """Install the checks on /api/ writes: the content type, and the depth of a JSON body."""

    @app.before_request
    def enforce_api_content_type() -> None:
        if not request.path.startswith("/api/") or request.method not in {"POST", "PUT", "PATCH"}:
            return
        if not request.content_length and not request.headers.get("Transfer-Encoding"):
            return
        if request.mimetype not in ACCEPTED:
            raise UnsupportedMediaType(
                f"不支持的内容类型：{request.mimetype or '未声明'}，请使用 application/json",
                fields={"Content-Type": ["application/json, multipart/form-data"]},
            )

    @app.before_request
    def refuse_deep_json() -> None:
        # The API's JSON only: the WeChat callbacks verify a signature over the raw body first.
        # The method first: reading the content type costs more than the rest of a cheap GET.
        if request.method in {"GET", "HEAD", "OPTIONS"} or not request.path.startswith("/api/"):
            return
        if not request.is_json:
            return
        raw = request.get_data(cache=True)  # what get_json and webargs will parse
        request.stream = io.BytesIO(raw)  # still readable by a view that reads the stream
        if json_too_deep(raw):
            raise BadRequest(
                f"JSON 嵌套层级过深（最多{MAX_JSON_DEPTH}层）",
                code="json_too_deep",
                fields={"_body": [f"嵌套不能超过{MAX_JSON_DEPTH}层"]},
            )
