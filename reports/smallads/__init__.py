"""牛皮癣 (illegal small ads): numbers read from ad photos, SMS notices with a deadline, reminders,
escalation to an enforcement case, 销案. See README (牛皮癣) for what is deliberately not built."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the staff API, the console pages and the worker's SMS round."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports import notify
    from reports.smallads import delivery, pages, staff_api

    api.register_blueprint(staff_api.blp)
    pages.init_app(app)
    notify.other_kind("sms")
    notify.add_worker_task(app, delivery.smallads_round)
