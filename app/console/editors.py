"""What every console editor page shares: option lists, the map widget's settings, the render.

An editor page is a shell: the filter options and the API URLs are rendered by the feature's
page, and its script reads and writes through the feature's JSON APIs, which check roles and
department scopes again.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from app.auth.models import Role, StaffUser
from app.console import render
from app.geo import regions

COORD_SYSTEMS = (
    ("gcj02", "GCJ-02（高德/腾讯）"), ("wgs84", "WGS-84（GPS）"), ("bd09", "BD-09（百度）"),
)  # fmt: skip


def holds(staff: StaffUser, roles: tuple[Role, ...]) -> bool:
    """True if the account holds one of ``roles`` (admins hold every role)."""
    return staff.has_role(*roles)


def district_options() -> list[tuple[str, str]]:
    """District (code, name) pairs for the filter selects, by code."""
    return sorted(regions.district_names().items())


def active_options(items: list[Any]) -> list[tuple[str, str]]:
    """(code, name) of the active industries or kinds, for a form's select."""
    return [(i.code, i.name) for i in items if i.is_active]


def map_config() -> dict[str, str]:
    """What the map widget needs: tiles if configured, else the district boundaries."""
    return {"boundaries": url_for("geo.Boundaries")}


def editor_page(template: str, staff: StaffUser, config: dict[str, Any], **context: Any) -> str:
    """Render an editor page; ``config`` becomes the script's JSON configuration."""
    return render(template, staff, config=config, coord_systems=COORD_SYSTEMS, **context)
