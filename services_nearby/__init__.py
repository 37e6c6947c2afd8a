"""Nearby public services: toilets, parks, parking and more, with exact nearest search."""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries


def init_app(app: Flask) -> None:
    """Register the nearby APIs, pages and commands; hook the change sequence on writes."""
    # Local: importing the package (for its models, say) must not load its APIs, pages, index
    # and commands; the factory asks for them here (``service`` hooks the change numbers).
    from app.extensions import api
    from services_nearby import cli, feed_api, mp, pages, public, service, staff_api  # noqa: F401
    from wechat.mp_callback import add_handler

    api.register_blueprint(public.api_blp)
    api.register_blueprint(staff_api.blp)
    api.register_blueprint(staff_api.kinds_blp)
    api.register_blueprint(feed_api.blp)
    pages.init_app(app)
    cli.register(app)
    add_seed_step(app, 30, seed_demo)
    add_home_entries(app, home_entries)
    add_handler(app, mp.answer_location, order=60)  # a location sent to the public account


HOME_KINDS = 3  # kinds on the home grid (找公厕, 好游园, 好停车 in the seeded order)


def home_entries() -> list[HomeEntry]:
    """The first active kinds on the citizen home, and the row to all of them."""
    from services_nearby.service import kinds  # see init_app

    grid = [
        HomeEntry("grid", f"nearby-{k.code}", k.title or k.name, "nearby_pages.kind_page",
                  order=30 + i, icon=(k.title or k.name)[-1], tone="blue",
                  args=(("kind", k.code),))
        for i, k in enumerate(kinds()[:HOME_KINDS])
    ]  # fmt: skip
    more = HomeEntry("more", "nearby", "更多便民设施", "nearby_pages.kinds_page",
                     text="公交站、农贸市场、广场……")  # fmt: skip
    return [*grid, more]


def seed_demo(options: SeedOptions) -> None:
    """Demo seed step: the facility kinds and (once) the generated demo facilities."""
    from services_nearby.generate import seed_generated_facilities  # see init_app
    from services_nearby.service import seed_kinds

    seed_kinds()
    seed_generated_facilities(scale=options.facility_scale)  # skipped when any facility exists
