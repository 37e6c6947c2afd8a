"""Who is calling: bearer tokens (mini-program, scripts) or session cookies (H5 pages, console).

Cookie-authenticated writes must carry the CSRF token (header X-CSRFToken or form field
csrf_token); bearer-token calls need none, since browsers never attach them on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request, session

from app.auth.models import ApiToken, Role, StaffUser, TokenKind, User
from app.auth.service import resolve_token
from app.errors import Forbidden, Unauthorized
from app.extensions import csrf, db

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_token() -> ApiToken | None:
    """The live token from the Authorization header, cached on the request."""
    key = "zhcg.bearer"
    if key not in request.environ:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        token = resolve_token(raw.strip()) if scheme.lower() == "bearer" and raw else None
        request.environ[key] = token
        if header and token is None:
            raise Unauthorized("登录已失效，请重新登录", code="invalid_token")
    return request.environ[key]


def _check_csrf_for_cookie_auth() -> None:
    if request.method not in SAFE_METHODS:
        csrf.protect()


def current_citizen() -> User | None:
    """The signed-in citizen, by bearer token or H5 session cookie."""
    token = bearer_token()
    if token is not None:
        return token.user if token.kind == TokenKind.CITIZEN else None
    user_id = session.get("citizen_id")
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        session.pop("citizen_id", None)
        return None
    _check_csrf_for_cookie_auth()
    return user


def current_staff() -> StaffUser | None:
    """The signed-in staff account, by bearer token or console session cookie."""
    token = bearer_token()
    if token is not None:
        return token.staff if token.kind == TokenKind.STAFF else None
    staff_id = session.get("staff_id")
    if staff_id is None:
        return None
    staff = db.session.get(StaffUser, staff_id)
    if staff is None or not staff.is_active or session.get("staff_sv") != staff.session_version:
        session.pop("staff_id", None)
        return None
    _check_csrf_for_cookie_auth()
    return staff


def citizen_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a signed-in citizen; the view receives it as ``citizen``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_citizen()
        if user is None:
            if bearer_token() is not None:  # signed in, but as staff: the mirror of staff_only
                raise Forbidden("仅限市民使用", code="citizen_only")
            raise Unauthorized()
        return view(*args, citizen=user, **kwargs)

    return wrapper


def staff_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a signed-in staff account holding one of ``roles`` (any role if none given)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                if current_citizen() is not None:  # signed in, but as a citizen
                    raise Forbidden("仅限工作人员使用", code="staff_only")
                raise Unauthorized()
            if roles and not staff.has_role(*roles):
                raise Forbidden()
            return view(*args, staff=staff, **kwargs)

        return wrapper

    return decorate
