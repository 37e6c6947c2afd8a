"""The signed download route for the local storage backend: GET /media/file/<token>."""

from __future__ import annotations

import time

from flask import Blueprint, Response, send_file

from app.errors import Forbidden, NotFound
from app.storage import get_storage
from app.storage.local import LocalStorage, TokenExpired, TokenInvalid

bp = Blueprint("media_files", __name__, url_prefix="/media")


@bp.get("/file/<token>")
def serve_file(token: str) -> Response:
    """Send a stored file if the token is ours and unexpired; 403 expired, 404 otherwise."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    try:
        key, expires = storage.resolve_token(token)
    except TokenExpired:
        raise Forbidden("图片链接已过期，请刷新页面", code="media_link_expired") from None
    except TokenInvalid:
        raise NotFound("图片不存在", code="media_not_found") from None
    path = storage.path_for(key)
    if not path.is_file():
        raise NotFound("图片不存在", code="media_not_found")
    resp = send_file(path, mimetype=storage.content_type(key), conditional=True, etag=True)
    remaining = max(0, expires - int(time.time()))
    resp.headers["Cache-Control"] = f"private, max-age={remaining}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly, a stored file is inert: no scripts, no plugins, no same-origin access.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp
