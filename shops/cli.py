"""flask shops ... commands."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

shops_cli = AppGroup("shops", help="Shops: import, QR plates and print sheets.")


def register(app: Flask) -> None:
    """Attach the commands."""
    app.cli.add_command(shops_cli)
