"""The landing page (the citizen pages live in app.h5, the staff console in app.console)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Links to the citizen pages, the staff console and the API docs."""
    return render_template("index.html")
