"""The citizen H5 pages inside the public account (WeUI look, phones from 320 px wide).

Pages are server-rendered from the same services the citizen API uses, so they read correctly
before any script runs; the scripts in ``app/static/h5/`` call the JSON APIs for the interactive
parts (uploads, suggestions, submitting, rating). Signed-in pages send a signed-out visitor
through the public-account OAuth sign-in and back to the page they asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, session, url_for

from app.auth.current import current_citizen
from app.extensions import csrf

bp = Blueprint("h5", __name__, url_prefix="/h5")

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
HOME_KINDS = 3  # nearby kinds shown on the home grid (找公厕, 好游园, 好停车 in the seeded order)


def citizen_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a signed-in citizen (else the OAuth sign-in, returning here); passes ``citizen``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        citizen = current_citizen()
        if citizen is None:
            return redirect(url_for("wechat.oauth_start", next=request.full_path.rstrip("?")))
        return view(*args, citizen=citizen, **kwargs)

    return wrapper


@bp.app_template_filter("h5_time")
def local_time(value: datetime | None) -> str:
    """A stored UTC time as the city reads it: 2026-11-21 14:05."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


@bp.get("/")
def home():
    """Citizen home: sign-in state and the entry grid."""
    from services_nearby.service import kinds

    return render_template("h5/home.html", citizen=current_citizen(), kinds=kinds()[:HOME_KINDS])


@bp.post("/logout")
def logout():
    """Sign the citizen out of the H5 session."""
    csrf.protect()
    session.pop("citizen_id", None)
    return redirect(url_for("h5.home"))


# The report pages register their views on ``bp`` when imported.
from app.h5 import reports  # noqa: E402, F401
