"""Project consultations (网上亮码: 问需于民、问计于民、问效于民). Staff put a QR plate on a project
(a pocket park, a back alley ...) and each of its phases; residents scan it, sign in through
WeChat and say what they need, vote and propose, and rate the result; staff moderate, read the
results as charts, export them, and publish a result note that every participant is told of.
See docs/consultations.md.
"""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries
from app.privacy import add_personal_data


def home_entries() -> list[HomeEntry]:
    """项目征询 on the citizen home."""
    return [
        HomeEntry(
            "grid",
            "consultations",
            "项目征询",
            "consultation_pages.projects_page",
            order=30,
            icon="询",
            tone="blue",
        )
    ]


def seed_demo(_options: SeedOptions) -> None:
    """Demo seed step: a pocket park in 铁西区 with its three phases, and a back alley."""
    from reports.consultations.seed import seed_demo as seed_consultations  # see init_app

    seed_consultations()


def init_app(app: Flask) -> None:
    """Register the APIs, pages, the result notices' worker task, the personal data and the
    demo projects."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports import notify
    from reports.consultations import api as citizen_api
    from reports.consultations import notices, pages, participation, staff_api

    api.register_blueprint(citizen_api.blp)
    api.register_blueprint(staff_api.blp)
    pages.init_app(app)
    notify.other_kind(notices.RESULT_KIND)
    notify.add_worker_task(app, notices.result_round)
    add_personal_data(
        app,
        "consultations",
        export=participation.export_personal,
        erase=participation.erase_personal,
    )
    add_home_entries(app, home_entries)
    add_seed_step(app, 65, seed_demo)
