"""The staff console's pages: server-rendered shells whose scripts call the staff JSON APIs.

Every page checks the signed-in account and its roles here, before anything renders; the APIs the
scripts call check roles and department scopes again on every request (the page is a convenience,
the API is the gate). Cookie-authenticated API writes carry the CSRF token in ``X-CSRFToken``.

The navigation is built from ``NAV``: each entry names the roles that see it, so a handler never
sees the dispatcher's queues or the admin editors in the menu.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for

from app.auth.current import current_staff
from app.auth.models import Role, StaffUser

bp = Blueprint("console_pages", __name__, url_prefix="/console")


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    roles: frozenset[Role]
    order: int
    args: tuple[tuple[str, str], ...] = ()

    def url(self) -> str:
        return url_for(self.endpoint, **dict(self.args))


ALL_ROLES = frozenset(Role)
NAV: list[NavItem] = []


def nav_item(
    label: str,
    roles: Iterable[Role] = ALL_ROLES,
    *,
    order: int,
    endpoint: str | None = None,
    **args: str,
) -> Callable[[Callable], Callable]:
    """Record a console page in the menu for the given roles; ``order`` places it (ascending).
    Apply it outside (above) ``bp.get``; ``args`` become the link's query string."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        name = endpoint or f"{bp.name}.{view.__name__}"
        NAV.append(NavItem(name, label, frozenset(roles), order, tuple(sorted(args.items()))))
        NAV.sort(key=lambda item: item.order)
        return view

    return deco


def staff_page(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a signed-in staff account (else the login page) holding one of ``roles`` (else
    403 page); the view receives it as ``staff``. Admins hold every role, as in the APIs
    (``StaffUser.has_role``); the menu still lists only the entries naming the account's roles."""

    def deco(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
            if roles and not staff.has_role(*roles):
                abort(403)
            return view(*args, staff=staff, **kwargs)

        return wrapper

    return deco


def menu_for(staff: StaffUser) -> list[NavItem]:
    """The menu entries this account may open."""
    held = set(staff.roles)
    return [item for item in NAV if item.roles & held]


TodoSource = Callable[[StaffUser], list[dict[str, Any]]]


def add_todos(app: Flask, source: TodoSource) -> None:
    """Let a feature put its to-do counts on the console home: ``source(staff)`` returns
    ``{"label", "count", "url", "urgent"}`` items for the work this account may take."""
    app.extensions.setdefault("console_todos", []).append(source)


def todos_for(staff: StaffUser) -> list[dict[str, Any]]:
    """Every feature's to-do counts for this account, in registration order."""
    return [item for source in current_app.extensions.get("console_todos", [])
            for item in source(staff)]  # fmt: skip


def render(template: str, staff: StaffUser, **context: Any) -> str:
    """Render a console page with the menu, the account and the configured map tiles."""
    return render_template(
        template,
        staff=staff,
        menu=menu_for(staff),
        role_names=[r.value for r in staff.roles],
        role_labels=[r.label for r in sorted(staff.roles)],
        tile_url=current_app.config.get("MAP_TILE_URL") or "",
        tile_attribution=current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
        **context,
    )


# The shell's own page modules register their views (and menu entries) on ``bp`` when imported;
# features register theirs on their own blueprints in their init_app.
from app.console import news  # noqa: E402, F401
