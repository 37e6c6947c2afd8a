"""网络舆情: public-opinion watch. Sources (feeds and complaint boards' pages) as data, fetched by
the worker with conditional GET; posts deduplicated and filtered for city-management relevance
(the reports classifier and keyword lists); observers turn a post into a case (channel 网络舆情),
mark it irrelevant, record the reply and the follow-up (回访); yearly and monthly counts.
"""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step


def init_app(app: Flask) -> None:
    """Register the APIs, pages, commands, the worker's fetch task and the demo sources."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports.notify import add_worker_task
    from reports.opinion import admin_api, cli, emulator, pages, staff_api, tasks

    for module in (staff_api, admin_api):
        api.register_blueprint(module.blp)
    pages.init_app(app)
    cli.register(app)
    if app.config.get("OPINION_EMULATOR") and app.config.get("ENV_NAME") != "production":
        emulator.init_app(app)  # the emulated boards: embedded mode, demo and tests only
    add_worker_task(app, tasks.fetch_round)
    add_seed_step(app, 70, seed_demo)


def seed_demo(_options: SeedOptions) -> None:
    """Demo seed step: the keyword lists and the demo sources (the emulated boards)."""
    from reports.opinion.seed import seed_demo as seed_opinion  # see init_app

    seed_opinion()
