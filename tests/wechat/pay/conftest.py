"""WeChat Pay fixtures: the emulator over real HTTP, a client configured like the app, and a
notification receiver that records what the emulator delivers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from wechat.pay.client import TransferClient
from wechat.pay.emulator import WeChatPayEmulator, emulator_from_config

REPORT_INFOS = [
    {"info_type": "活动名称", "info_content": "车窗抛物举报奖励"},
    {"info_type": "奖励说明", "info_content": "举报经核实后发放奖励"},
]


def serve(wsgi_app: Any) -> tuple[Any, threading.Thread, str]:
    """A threaded werkzeug server on a free port, and its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


@dataclass
class PayServer:
    """The emulator listening on 127.0.0.1 and the URL that reaches it."""

    emulator: WeChatPayEmulator
    url: str
    db_path: str


@pytest.fixture(scope="session")
def pay_server(app, tmp_path_factory) -> Iterator[PayServer]:
    """The emulator as a real HTTP server for the whole run (keys and state in a tmp dir)."""
    db_path = str(tmp_path_factory.mktemp("wechatpay") / "state.db")
    emulator = emulator_from_config({**app.config, "WECHATPAY_EMULATOR_DB": db_path})
    server, thread, url = serve(emulator)
    yield PayServer(emulator, url, db_path)
    emulator.stop_delivery_thread()
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def pay_emulator(pay_server) -> Iterator[WeChatPayEmulator]:
    """The emulator with no bills, no faults and its clock at wall time."""
    pay_server.emulator.reset()
    yield pay_server.emulator
    pay_server.emulator.reset()


@pytest.fixture
def pay_config(app, pay_server, pay_emulator, receiver, monkeypatch):
    """The app's config pointed at the emulator over HTTP, using its generated keys."""
    settings = {
        "WECHATPAY_EMULATOR": True,
        "WECHATPAY_EMULATOR_DB": pay_server.db_path,
        "WECHATPAY_API_BASE_URL": pay_server.url,
        "WECHATPAY_NOTIFY_URL": receiver.url,
        "WECHATPAY_HTTP_TIMEOUT": 3.0,
        "WECHATPAY_PRIVATE_KEY": "",
        "WECHATPAY_PRIVATE_KEY_FILE": "",
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    app.extensions.pop("wechatpay_client", None)
    return app.config


@pytest.fixture
def pay_client(pay_config) -> TransferClient:
    """A production client talking to the emulator."""
    return TransferClient.from_config(pay_config)


@dataclass
class Receiver:
    """A notify_url that records deliveries and answers with ``status``."""

    url: str
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else 204


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[Receiver]:
    app = Flask("notify-receiver")
    holder: dict[str, Receiver] = {}

    @app.post("/notify")
    def notify():
        rec = holder["receiver"]
        rec.deliveries.append({"headers": dict(request.headers), "body": request.get_data()})
        return "", rec.answer()

    server, thread, url = serve(app)
    holder["receiver"] = Receiver(url + "/notify")
    yield holder  # type: ignore[misc]
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def receiver(_receiver_server) -> Receiver:
    """A fresh receiver for this test (same server)."""
    rec = Receiver(_receiver_server["receiver"].url)
    _receiver_server["receiver"] = rec
    return rec
