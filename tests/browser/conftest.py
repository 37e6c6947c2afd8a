"""Pages in a real browser: Debian's Chromium driven by Playwright, against the real server.

The server is gunicorn as the README runs it in production (``gunicorn -c gunicorn.conf.py
wsgi:app``, 2 gthread workers) on its own database: MariaDB when the suite runs on it
(TEST_DATABASE_URL, a fresh database dropped afterwards), else a SQLite file. It is migrated and
seeded with the demo city (a smaller generated shop and facility set, so the suite stays quick);
the WeChat emulator signs citizens in. ``REPORT_CLASSIFIER_THRESHOLD`` is above 1, so a citizen's
report always waits for a dispatcher, as the flow under test needs.

The browser is never downloaded: Playwright launches ``/usr/bin/chromium`` (Debian's package,
``apt-get install chromium fonts-noto-cjk``; ``make test`` installs it when missing and it can).
With ``UPDATE_SCREENSHOTS=1`` the tests write the README's screenshots into docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEMO_PASSWORD = "zhcg-demo-2026"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
SCREENSHOTS = ROOT / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    base: str
    env: dict[str, str]
    log: Path

    def url(self, path: str) -> str:
        return self.base + path


def _database(tmp: Path) -> tuple[str, str | None]:
    """(database URL, MariaDB server URL to drop it from, or None)."""
    raw = os.environ.get("TEST_DATABASE_URL", "").strip()
    if raw.startswith("mysql"):
        url = make_url(raw)
        name = f"zhcg_browser_{uuid.uuid4().hex[:10]}"
        server = url.set(database=None, query=dict(url.query) | {"charset": "utf8mb4"})
        engine = create_engine(server)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 "
                              "COLLATE utf8mb4_unicode_ci"))  # fmt: skip
        engine.dispose()
        return (server.set(database=name).render_as_string(hide_password=False),
                server.render_as_string(hide_password=False))  # fmt: skip
    return f"sqlite:///{tmp / 'browser.db'}", None


def _drop(server_url: str, database_url: str) -> None:
    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(database_url).database}"))
    engine.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The whole product served by gunicorn on a free port, with the demo city."""
    tmp = tmp_path_factory.mktemp("browser-server")
    port = free_port()
    database_url, server_url = _database(tmp)
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "GUNICORN_CMD_ARGS", "TEST_DATABASE_URL")}  # fmt: skip
    env |= {
        "APP_ENV": "development", "FLASK_APP": "wsgi:app", "DATABASE_URL": database_url,
        "INSTANCE_DIR": str(tmp), "UPLOAD_DIR": str(tmp / "uploads"), "PORT": str(port),
        "GUNICORN_BIND": f"127.0.0.1:{port}", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CHANGES_FILE": str(tmp / "changes.bin"), "WEB_CONCURRENCY": "2",
        "REPORT_CLASSIFIER_THRESHOLD": "1.01", "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": str(tmp / "access.log"),
        "RATELIMIT_PUBLIC": "100000/minute", "RATELIMIT_LOGIN": "100000/minute",
        "RATELIMIT_REPORTS": "100000/minute", "RATELIMIT_SHOP_LOOKUP": "100000/minute",
        "RATELIMIT_NEARBY": "100000/minute",
    }  # fmt: skip
    flask = str(BIN / "flask")
    for command in (["db", "upgrade"], ["seed", "demo", "--shops", "300", "--facility-scale",
                                        "0.05"], ["reports", "train-classifier"]):  # fmt: skip
        subprocess.run([flask, *command], cwd=ROOT, env=env, check=True, capture_output=True)
    try:
        with serve(env, tmp / "gunicorn.log") as server:
            yield server
    finally:
        if server_url:
            _drop(server_url, database_url)


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[LiveServer]:
    """gunicorn as production runs it, with ``env`` (its PORT and GUNICORN_BIND), until
    /healthz answers; stopped on leaving."""
    with open(log, "w") as out:
        cmd = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield LiveServer(base, env, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless. Missing Chromium fails loudly: the browser tests are part of
    the suite (``apt-get install chromium fonts-noto-cjk``)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def phone_context(browser, live_server: LiveServer, *, lat: float, lng: float):
    """A phone-sized context (360 px wide, touch) whose device reports the given WGS-84 point."""
    return browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        geolocation={"latitude": lat, "longitude": lng}, permissions=["geolocation"],
        base_url=live_server.base, timezone_id="Asia/Shanghai",
    )  # fmt: skip


def desktop_context(browser, live_server: LiveServer):
    return browser.new_context(viewport=DESKTOP, locale="zh-CN", base_url=live_server.base,
                               timezone_id="Asia/Shanghai")  # fmt: skip


def staff_login(page, username: str) -> None:
    """Sign in through the console's login form."""
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    # Not "**/console/**": the login page itself matches that, and the wait would end at once.
    page.wait_for_url(lambda url: "/console/" in url and "/console/login" not in url)
    assert "/console/login" not in page.url, page.content()[:2000]


def screenshot(page, name: str) -> None:
    """Keep a screenshot for the README when UPDATE_SCREENSHOTS=1 (else nothing is written)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # A whole-page shot would freeze the fixed tab bar where the first screen ends: put it at
        # the end of the page for the picture.
        page.screenshot(
            path=str(SCREENSHOTS / f"{name}.png"),
            full_page=True,
            style="body { position: relative; } .h5-tabbar { position: absolute; }",
        )


@pytest.fixture
def page_errors():
    """Collects uncaught page errors and console errors of the pages a test opens; the test
    asserts it stayed empty."""
    return []


def watch(page, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and errors.append(f"console: {msg.text} ({msg.location.get('url')})")
        ),
    )
