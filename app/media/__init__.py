"""Photos citizens and staff upload: validation, EXIF stripping, storage, signed access."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the media API and the signed download route."""
