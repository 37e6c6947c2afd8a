"""Photos citizens and staff upload: validation, EXIF stripping, storage, signed access."""

from __future__ import annotations

from flask import Flask
from PIL import Image


def init_app(app: Flask) -> None:
    """Register the media API and the signed download route; bound Pillow's pixel guard."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from app.media import api as media_api
    from app.media import views

    # Process-wide: Pillow warns above this many pixels and refuses twice as many on open.
    Image.MAX_IMAGE_PIXELS = app.config["MEDIA_MAX_PIXELS"]
    app.register_blueprint(views.bp)
    api.register_blueprint(media_api.blp)
