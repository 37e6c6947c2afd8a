"""Response headers every answer carries, and the longest request target the app accepts.

Pages, APIs and files alike get:

- ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'`` (added to a
  policy the view set itself): no other site can frame the console and trick a signed-in staff
  member into clicking (clickjacking). No page of ours frames another;
- ``X-Content-Type-Options: nosniff``: a response is only ever what its Content-Type says;
- ``Referrer-Policy: strict-origin-when-cross-origin``: other sites (map tiles) learn our origin,
  never a page's path or query;
- ``Strict-Transport-Security`` when ``HSTS_MAX_AGE`` is set (production over HTTPS): browsers
  never try plain HTTP again. It follows the configuration, not ``request.is_secure``, which is
  False behind a proxy that ends TLS.

A request target longer than ``MAX_URI_LENGTH`` is answered 414 in the one error shape, well
below gunicorn's ``limit_request_line`` (whose own 414 is an HTML page).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from app.errors import AppError

FRAME_ANCESTORS = "frame-ancestors 'none'"


class UriTooLong(AppError):
    """The request target (path and query) is longer than the app accepts."""

    status, code, message = 414, "uri_too_long", "请求地址过长"


def request_target_length() -> int:
    """Length of the request target as the client sent it (path and query, still encoded)."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is not None:
        return len(raw)
    query = environ.get("QUERY_STRING", "")
    return len(request.script_root + request.path) + (len(query) + 1 if query else 0)


def refuse_long_uri() -> None:
    """before_request: 414 ``uri_too_long`` past MAX_URI_LENGTH."""
    limit = current_app.config["MAX_URI_LENGTH"]
    length = request_target_length()
    if length > limit:
        raise UriTooLong(
            f"请求地址过长（{length} 字符，最多 {limit} 字符）",
            fields={"url": [f"请求地址不能超过 {limit} 个字符"]},
        )


def add_security_headers(response: Response) -> Response:
    """after_request: the headers above; a view's own value of a header is kept."""
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    policy = headers.get("Content-Security-Policy")
    if not policy:
        headers["Content-Security-Policy"] = FRAME_ANCESTORS
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; {FRAME_ANCESTORS}"
    max_age = current_app.config["HSTS_MAX_AGE"]
    if max_age > 0:
        headers.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    return response


def init_app(app: Flask) -> None:
    """Install the URI length check and the headers (registered early: they run after every
    other after_request hook, on the final response)."""
    app.before_request(refuse_long_uri)
    app.after_request(add_security_headers)
