"""Staff console sign-in pages (HTML form with CSRF) and the console home."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for

from app.auth import service
from app.auth.current import current_staff
from app.console import render, todos_for
from app.db import commit
from app.extensions import csrf, limiter
from app.ratelimits import login_limit
from app.urls import safe_next

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.get("/")
def home():
    """The console home: who is signed in, with which roles, and the to-do counts by role."""
    staff = current_staff()
    if staff is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return render("console/home.html", staff, todos=todos_for(staff))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login():
    """Username/password form. Failures are counted; the account locks after too many."""
    next_url = safe_next(request.args.get("next"), url_for("console.home"))
    if request.method == "GET":
        return render_template("console/login.html", next=next_url)
    csrf.protect()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    try:
        staff = service.authenticate_staff(username, password)
    except service.LoginFailed as exc:
        commit()  # keep the failure count and lock
        return (
            render_template(
                "console/login.html", error=exc.message, username=username, next=next_url
            ),
            401,
        )
    commit()
    session.clear()  # no session fixation: a fresh session for the signed-in account
    session.permanent = True
    session["staff_id"] = staff.id
    session["staff_sv"] = staff.session_version
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """Sign out of the console: every session of the account ends on the server, so a copy of
    the session cookie taken before is refused too."""
    csrf.protect()
    staff = current_staff()
    if staff is not None:
        service.end_staff_sessions(staff)
        commit()
    session.pop("staff_id", None)
    session.pop("staff_sv", None)
    return redirect(url_for("console.login"))
