"""The citizen H5 frame inside the public account (WeUI look, phones from 320 px wide).

The shell owns the layout (``h5/_layout.html``, the tab bar), the home page, sign-out,
``citizen_page`` and the shared script ``app/static/h5/h5.js``; features own their pages (e.g.
``reports.pages``) and put their entries on the home page and the tab bar through
``add_home_entries``. Pages are server-rendered from the same services as the citizen API, so they
read correctly before any script runs; signed-in pages send a signed-out visitor through the
public-account OAuth sign-in and back to the page they asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from app.auth.current import current_citizen
from app.extensions import csrf

bp = Blueprint("h5", __name__, url_prefix="/h5")

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


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


@dataclass(frozen=True)
class HomeEntry:
    """One thing a feature puts on the citizen pages' frame.

    ``slot``: "hero" (the big button), "grid" (an icon in 市民服务), "more" (a row under the
    grid), "section" (a titled block at the end: ``label`` is its title, ``text`` its body) or
    "tab" (the bottom tab bar: ``icon`` is an SVG path). ``icon`` is the grid's character,
    ``tone`` its colour (orange, blue, gray), ``text`` the row's or hero's second line.
    """

    slot: str
    key: str
    label: str
    endpoint: str | None = None
    order: int = 50
    icon: str = ""
    tone: str = ""
    text: str = ""
    args: tuple[tuple[str, str], ...] = ()
    href: str | None = None  # a fixed address (an anchor on the page) instead of an endpoint

    def url(self) -> str:
        """Where the entry leads."""
        return self.href if self.href is not None else url_for(self.endpoint, **dict(self.args))


HomeSource = Callable[[], list[HomeEntry]]


def add_home_entries(app: Flask, source: HomeSource) -> None:
    """Let a feature put entries on the citizen frame: ``source()`` returns them (it may read the
    database: the nearby kinds shown on the home grid are the admin's current list)."""
    app.extensions.setdefault("h5_home_entries", []).append(source)


def entries(slot: str) -> list[HomeEntry]:
    """Every feature's entries for one slot, by order."""
    found = [e for source in current_app.extensions.get("h5_home_entries", []) for e in source()]
    return sorted((e for e in found if e.slot == slot), key=lambda e: e.order)


BlockSource = Callable[[], str]


def add_page_block(app: Flask, page: str, source: BlockSource, order: int = 50) -> None:
    """Let a feature put a block of its own on a shell page: ``page`` is "home" (under the
    services) or "news" (above the first page of the 城管动态 list). ``source()`` returns the
    block's HTML, rendered from the feature's own template (it may read the database), or ""."""
    app.extensions.setdefault("h5_page_blocks", []).append((page, order, source))


def blocks(page: str) -> list[Markup]:
    """The features' blocks for one shell page, by order (empty ones left out)."""
    found = [(order, source) for name, order, source in
             current_app.extensions.get("h5_page_blocks", []) if name == page]  # fmt: skip
    rendered = (source() for _, source in sorted(found, key=lambda item: item[0]))
    return [Markup(html) for html in rendered if html]  # noqa: S704 - rendered by Jinja


@bp.app_context_processor
def frame_entries() -> dict[str, Any]:
    """``h5_entries(slot)`` in every template (the tab bar is on most citizen pages), and
    ``h5_blocks(page)`` for the shell pages that show the features' blocks."""
    return {"h5_entries": entries, "h5_blocks": blocks}


def shell_entries() -> list[HomeEntry]:
    """The shell's own entries: the home tab and 城管动态."""
    return [
        HomeEntry("tab", "home", "首页", "h5.home", order=0,
                  icon="M3 10.5 12 3l9 7.5V21h-6v-6H9v6H3z"),
        HomeEntry("grid", "news", "城管动态", "news_pages.news_list", order=80, icon="讯",
                  tone="orange"),
    ]  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the citizen frame and its own entries."""
    app.register_blueprint(bp)
    add_home_entries(app, shell_entries)


@bp.get("/")
def home():
    """Citizen home: sign-in state and the entries the features put on it."""
    return render_template("h5/home.html", citizen=current_citizen())


@bp.post("/logout")
def logout():
    """Sign the citizen out of the H5 session."""
    csrf.protect()
    session.pop("citizen_id", None)
    return redirect(url_for("h5.home"))
