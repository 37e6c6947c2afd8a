"""The public H5 map of cases (身边案件): open and recently closed cases around the citizen, with
"我也遇到了". Anyone may look; following asks for the public-account sign-in. The page reads the
public case API (``reports.public_api``) from its script, so it shows what the API would answer.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, url_for

from app.auth.current import current_citizen
from app.extensions import limiter
from app.geo import regions
from app.ratelimits import public_limit
from reports import follows
from reports.pages import h5_map_config

bp = Blueprint("reports_public_pages", __name__, template_folder="templates")

# Where maps open while the city has no regions yet (a fresh install before the seed).
FALLBACK_CENTRE = (41.80, 123.43)


@bp.get("/h5/cases/map")
@limiter.limit(public_limit)
def cases_map():
    """身边案件: a map and a list of the cases near the citizen (or the city centre)."""
    citizen = current_citizen()
    config = {
        "map": h5_map_config(),
        "centre": list(regions.city_centre() or FALLBACK_CENTRE),
        "nearbyUrl": url_for("reports_public.NearbyCases"),
        "signedIn": citizen is not None,
        "closedDays": int(current_app.config["PUBLIC_CLOSED_DAYS"]),
        "maxRadius": follows.MAX_RADIUS_M,
    }
    return render_template("reports/h5/cases_map.html", config=config,
                           closed_days=config["closedDays"])  # fmt: skip


def init_app(app: Flask) -> None:
    """Register the page."""
    app.register_blueprint(bp)
