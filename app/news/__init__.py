"""城管动态 (city-management news): staff write and publish notices, citizens read them."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the news APIs and the H5 pages."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from app.news import api as news_api
    from app.news import pages

    api.register_blueprint(news_api.staff_blp)
    api.register_blueprint(news_api.public_blp)
    app.register_blueprint(pages.bp)
