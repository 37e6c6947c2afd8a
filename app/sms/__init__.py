"""SMS through a gateway (Aliyun 短信服务, dysmsapi): the client and its emulator.

Shell infrastructure: features send through ``app.sms.client`` (from their outbox worker) and
keep their own records; with SMS_EMULATOR the emulator is mounted at ``/_sms``.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware


def init_app(app: Flask) -> None:
    """Mount the emulator at /_sms when SMS_EMULATOR is on."""
    if not app.config.get("SMS_EMULATOR"):
        return
    from app.sms.emulator import emulator_from_config  # only when the emulator is on

    emulator = emulator_from_config(app.config)
    app.extensions["sms_emulator"] = emulator
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/_sms": emulator})  # type: ignore[method-assign]
