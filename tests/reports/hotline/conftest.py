"""12345 tests: signed orders as the platform sends them, and the platform's emulator served
over real HTTP for the pushes back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.serving import make_server

from reports.hotline import signing
from reports.hotline.emulator import HotlineEmulator
from tests.reports.conftest import INSIDE_WEST

URL = "/api/v1/hotline/orders"


def order(order_id: str = "SY12345-20261202-000001", **fields: Any) -> dict[str, Any]:
    """An order of the platform: 占道经营 at a point of 测试一区 (GCJ-02), due in two days."""
    deadline = datetime.now(UTC) + timedelta(days=2)
    base = {"order_id": order_id, "category_code": "CG0101", "category_name": "占道经营",
            "title": "占道经营", "content": "市民反映路口有商贩占用人行道摆摊经营，影响通行",
            "address": "测试一区某路口", "lat": INSIDE_WEST[0], "lng": INSIDE_WEST[1],
            "coord_sys": "gcj02", "caller_phone": "13800000000",
            "reply_deadline": deadline.isoformat(timespec="seconds")}  # fmt: skip
    return base | fields


def signed(app, body: dict | bytes, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    """(raw body, headers) signed with the app's secret."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = signing.sign(app.config["HOTLINE_SECRET"], raw,
                           platform=app.config["HOTLINE_PLATFORM_ID"], **kwargs)  # fmt: skip
    return raw, headers | {"Content-Type": "application/json"}


def post_order(client, app, body: dict | bytes, **kwargs: Any):
    raw, headers = signed(app, body, **kwargs)
    return client.post(URL, data=raw, headers=headers)


@pytest.fixture
def send(client, app):
    """Send a signed order through the test client: the response."""
    return lambda body, **kwargs: post_order(client, app, body, **kwargs)


class PlatformServer:
    def __init__(self, emulator: HotlineEmulator, url: str) -> None:
        self.emulator, self.url = emulator, url


@pytest.fixture
def platform(app, tmp_path, monkeypatch) -> Iterator[PlatformServer]:
    """The 12345 emulator on a free port; the app pushes to it (retries at once, a push waits
    at most 0.3 s for its answer)."""
    emulator = HotlineEmulator(app.config["HOTLINE_SECRET"], app.config["HOTLINE_PLATFORM_ID"],
                               str(tmp_path / "platform.db"), "http://127.0.0.1:9/")  # fmt: skip
    server = make_server("127.0.0.1", 0, emulator, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    for key, value in (("HOTLINE_BASE_URL", url), ("HOTLINE_RETRY_SECONDS", 0.0),
                       ("HOTLINE_HTTP_TIMEOUT", 0.3)):  # fmt: skip
        monkeypatch.setitem(app.config, key, value)
    try:
        yield PlatformServer(emulator, url)
    finally:
        server.shutdown()
        thread.join(timeout=5)
