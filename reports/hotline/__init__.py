"""12345 hotline: signed work orders in from the city's 12345 platform, mapped to our categories
and regions; every step of the case pushed back through the outbox; the reply deadline tracked;
and an emulator of the platform (``/_12345``) for the embedded mode and the tests.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

EMULATOR_MOUNT = "/_12345"


class LazyEmulator:
    """The embedded emulator as a WSGI app, built (its state file) on its first request, so an
    app that is only built (tests, commands) writes nothing."""

    def __init__(self, app: Flask) -> None:
        self.flask_app = app
        self._lock = threading.Lock()

    def get(self):
        # Imported here: the emulator is only built when the embedded mode serves it.
        from reports.hotline.emulator import emulator_from_config

        emu = self.flask_app.extensions.get("hotline_emulator")
        if emu is None:
            with self._lock:
                emu = self.flask_app.extensions.get("hotline_emulator")
                if emu is None:
                    emu = emulator_from_config(self.flask_app.config)
                    self.flask_app.extensions["hotline_emulator"] = emu
        return emu

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.get()(environ, start_response)


def init_app(app: Flask) -> None:
    """Register the APIs, the staff page and case block, the command, the listener of case
    steps, the push task and (with HOTLINE_EMULATOR) the platform's emulator."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from reports import notify, transitions
    from reports.hotline import api as hotline_api
    from reports.hotline import cli, pages, push, service
    from reports.hotline.models import PUSH_KIND

    api.register_blueprint(hotline_api.blp)
    api.register_blueprint(hotline_api.staff_blp)
    pages.init_app(app)
    cli.register(app)
    transitions.on_state_change(service.on_state_change)
    notify.other_kind(PUSH_KIND)
    notify.add_worker_task(app, push.push_round)
    if app.config.get("HOTLINE_EMULATOR"):
        lazy = LazyEmulator(app)
        app.extensions["hotline_lazy_emulator"] = lazy
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {EMULATOR_MOUNT: lazy})  # type: ignore[method-assign]
