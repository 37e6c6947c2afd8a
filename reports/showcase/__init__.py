"""文明行为展示 (civil-behaviour showcase): citizens post photos of civil behaviour they see;
reviewers approve or refuse them (the reason goes to the author); approved posts are shown in a
public gallery with likes and abuse reports; staff feature some on the citizen home and the
城管动态 page. See docs/showcase.md."""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries
from app.privacy import add_personal_data, add_retention


def home_entries() -> list[HomeEntry]:
    """文明展示 in the citizen home's services."""
    return [
        HomeEntry(
            "grid",
            "showcase",
            "文明展示",
            "showcase_pages.gallery",
            order=70,
            icon="美",
            tone="blue",
        )
    ]


def seed_demo(_options: SeedOptions) -> None:
    """Demo seed step, after the staff: a few demo posts (once)."""
    from reports.showcase.seed import seed_demo_showcase  # see init_app

    seed_demo_showcase()


def init_app(app: Flask) -> None:
    """Register the APIs, pages, personal data, retention and the demo seed step."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports.showcase import api as showcase_api
    from reports.showcase import pages, personal

    api.register_blueprint(showcase_api.blp)
    api.register_blueprint(showcase_api.staff_blp)
    pages.init_app(app)
    add_home_entries(app, home_entries)
    add_seed_step(app, 65, seed_demo)
    add_personal_data(app, "showcase", export=personal.export, erase=personal.erase,
                      label="文明行为展示")  # fmt: skip
    add_retention(app, "showcase", purge=personal.purge)
