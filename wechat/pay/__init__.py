"""WeChat Pay v3 merchant transfers (商家转账): the only code that talks to WeChat Pay.

Features call :class:`TransferClient` (usually through :func:`transfer_client`) from background
workers, and register a handler for finished bills with :func:`on_transfer_finished`. With
WECHATPAY_EMULATOR on, the emulator is mounted at ``/_wechatpay`` and built on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from wechat.pay import views
from wechat.pay.client import Bill, TransferClient
from wechat.pay.emulator import WeChatPayEmulator, emulator_from_config
from wechat.pay.errors import BillNotFound, CallbackRejected, PayError, PayRejected, PayUnknown
from wechat.pay.views import on_transfer_finished, transfer_client

__all__ = [
    "Bill",
    "BillNotFound",
    "CallbackRejected",
    "PayError",
    "PayRejected",
    "PayUnknown",
    "TransferClient",
    "WeChatPayEmulator",
    "emulator",
    "init_app",
    "on_transfer_finished",
    "transfer_client",
]

EMULATOR_MOUNT = "/_wechatpay"


class LazyEmulator:
    """The embedded emulator as a WSGI app, built (keys, state file) on its first use.

    Building it at start-up would write key and state files for every app, tests included.
    """

    def __init__(self, app: Flask) -> None:
        self.flask_app = app
        self._lock = threading.Lock()

    def get(self) -> WeChatPayEmulator:
        """The emulator, built now if needed; starts its delivery thread when configured."""
        emu = self.flask_app.extensions.get("wechatpay_emulator")
        if emu is None:
            with self._lock:
                emu = self.flask_app.extensions.get("wechatpay_emulator")
                if emu is None:
                    emu = emulator_from_config(self.flask_app.config)
                    self.flask_app.extensions["wechatpay_emulator"] = emu
        interval = float(self.flask_app.config.get("WECHATPAY_EMULATOR_DELIVERY_SECONDS") or 0)
        if interval > 0:
            emu.start_delivery_thread(interval)
        return emu

    def __call__(self, environ: dict, start_response: Any) -> Any:
        return self.get()(environ, start_response)


def emulator(app: Flask) -> WeChatPayEmulator | None:
    """The app's embedded WeChatPayEmulator (built on first use), or None when it is off."""
    lazy = app.extensions.get("wechatpay_lazy_emulator")
    return lazy.get() if lazy is not None else None


def init_app(app: Flask) -> None:
    """Register the notification endpoint; with WECHATPAY_EMULATOR, mount the emulator."""
    views.init_app(app)
    if not app.config.get("WECHATPAY_EMULATOR"):
        return
    lazy = LazyEmulator(app)
    app.extensions["wechatpay_lazy_emulator"] = lazy
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {EMULATOR_MOUNT: lazy})  # type: ignore[method-assign]
    if float(app.config.get("WECHATPAY_EMULATOR_DELIVERY_SECONDS") or 0) > 0:
        started = threading.Event()

        @app.before_request
        def start_emulator_delivery() -> None:
            # Started by the first request of each process (a thread started before gunicorn
            # forks would not survive in the workers).
            if not started.is_set():
                started.set()
                lazy.get()
