"""One shop, one QR code (一店一码): registry, plates, public page, shop-bound reports, heat map."""

from __future__ import annotations

from flask import Flask

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries


def init_app(app: Flask) -> None:
    """Register the shop APIs, pages and commands."""
    # late: the views import app.console and the reports feature; importing the package (for
    # shops.models or shops.service, as reports does) must not import them
    from app.extensions import api
    from shops import cli, mp, pages, public_api, qr_api, staff_api
    from wechat.mp_callback import add_handler

    api.register_blueprint(staff_api.blp)
    api.register_blueprint(qr_api.blp)
    api.register_blueprint(public_api.api_blp)
    pages.init_app(app)
    cli.register(app)
    add_seed_step(app, 20, seed_demo)
    add_home_entries(app, home_entries)
    add_handler(app, mp.answer_scan, order=30)  # a plate scanned from the public account's menu


def home_entries() -> list[HomeEntry]:
    """扫码查店 on the citizen home: how to open a shop's page (WeChat's scanner, not a link)."""
    return [
        HomeEntry("grid", "shop", "扫码查店", href="#shop-hint", order=90, icon="码",
                  tone="gray"),
        HomeEntry("section", "shop-hint", "扫码查店（一店一码）", order=90,
                  text="用微信“扫一扫”扫描店铺门口张贴的“一店一码”二维码，即可查看店铺的营业信息和"
                       "门前三包责任，并可反映该店铺的设施损坏、卫生脏乱、违规经营等问题。"),
    ]  # fmt: skip


def seed_demo(options: SeedOptions) -> None:
    """Demo seed step: the industries and (once) the generated demo shops."""
    from shops.generate import seed_generated_shops  # see init_app
    from shops.service import seed_industries

    seed_industries()
    if options.shops is None:
        seed_generated_shops()  # skipped when any shop exists
    else:
        seed_generated_shops(options.shops)
