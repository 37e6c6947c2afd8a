"""flask hotline ...: send demo orders as the 12345 platform would."""

from __future__ import annotations

import click
import requests
from flask import Flask, current_app
from flask.cli import AppGroup

from reports.hotline import push
from reports.hotline.emulator import demo_order, emulator_from_config

hotline_cli = AppGroup("hotline", help="12345 hotline: demo orders through the signed interface.")


@hotline_cli.command("send-demo")
@click.option("--count", default=1, show_default=True, help="How many orders to send.")
@click.option("--hours", default=48.0, show_default=True, help="Reply deadline in hours.")
@click.option("--url", default=None, help="Inbound URL (default: PUBLIC_BASE_URL's).")
def send_demo(count: int, hours: float, url: str | None) -> None:
    """Send signed demo orders to the inbound interface over HTTP (the server must run)."""
    cfg = current_app.config
    if not cfg.get("HOTLINE_SECRET"):
        raise click.ClickException("HOTLINE_SECRET is not set")
    emulator = emulator_from_config(cfg)
    for i in range(count):
        order = demo_order(i, deadline_hours=hours)
        try:
            resp = emulator.send_order(order, url)
        except requests.RequestException as exc:
            raise click.ClickException(
                f"cannot reach {url or emulator.inbound_url}: {exc}"
            ) from None
        click.echo(f"{order['order_id']} {order['category_name']}: HTTP {resp.status_code} "
                   f"{resp.text.strip()[:200]}")  # fmt: skip


@hotline_cli.command("push")
def push_once() -> None:
    """Deliver one round of due status pushes now (``flask worker`` does it every round)."""
    click.echo(f"{push.push_round()} push(es) handled")


def register(app: Flask) -> None:
    app.cli.add_command(hotline_cli)
