"""The landing page and the citizen H5 home (the full pages come with their features)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, session, url_for

from app.auth.current import current_citizen
from app.extensions import csrf

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Links to the citizen pages, the staff console and the API docs."""
    return render_template("index.html")


@bp.get("/h5/")
def h5_home():
    """Citizen home inside the public account: sign-in state and entry points."""
    return render_template("h5/home.html", citizen=current_citizen())


@bp.post("/h5/logout")
def h5_logout():
    """Sign the citizen out of the H5 session."""
    csrf.protect()
    session.pop("citizen_id", None)
    return redirect(url_for("pages.h5_home"))
