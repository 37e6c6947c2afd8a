"""Open311 GeoReport v2: third-party apps list the services (our categories with their follow-up
questions), post service requests that become cases of the normal workflow (channel Open311),
and read requests back as the public may see them. Admins issue each client its API key and rate
limit. docs/open311.md says what is supported and where this deviates from the standard.
"""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step


def init_app(app: Flask) -> None:
    """Register the interface, the admin API, the console page and the demo client."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports.open311 import admin_api, pages
    from reports.open311 import api as open311_api

    app.register_blueprint(open311_api.bp)
    api.register_blueprint(admin_api.blp)
    pages.init_app(app)
    add_seed_step(app, 75, seed_demo)


def seed_demo(_options: SeedOptions) -> None:
    """Demo seed step: one Open311 client (its key is not shown)."""
    from reports.open311.seed import seed_demo as seed_open311  # see init_app

    seed_open311()
