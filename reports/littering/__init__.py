"""车窗抛物: littering-from-vehicles reports, review, reward rules, the ledger and payouts.

Citizens report a plate with photos or a video; reviewers decide; a valid first report earns a
reward in the ledger (integer fen); finance prepares batches that another account releases; the
worker pays them through WeChat Pay 商家转账 (wechat.pay), or finance records offline payments.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from app.cli import SeedOptions, add_seed_step
from app.h5 import HomeEntry, add_home_entries
from app.metrics import add_gauge


def init_app(app: Flask) -> None:
    """Register the APIs, pages and commands, the WeChat Pay callback handler and the worker's
    payout task."""
    # Imported when an app is built, not when the package is: importing a package stays
    # free of blueprints and cycles.
    from app.extensions import api
    from app.privacy import add_personal_data, add_retention
    from reports.littering import api as citizen_api
    from reports.littering import cli, finance_api, pages, payouts, privacy, staff_api, tasks
    from reports.littering.models import Payout, PayoutState
    from reports.notify import add_worker_task
    from wechat.pay import on_transfer_finished

    for module in (citizen_api, staff_api, finance_api):
        api.register_blueprint(module.blp)
    pages.init_app(app)
    cli.register(app)
    on_transfer_finished(payouts.apply_notification)
    add_worker_task(app, tasks.payout_round)
    add_personal_data(app, "littering", export=privacy.export, erase=privacy.erase,
                      label="车窗抛物举报与奖励")  # fmt: skip
    add_retention(app, "littering", purge=privacy.purge)
    add_seed_step(app, 60, seed_demo)
    add_home_entries(app, home_entries)
    add_gauge(app, "zhcg_payouts", "Reward payouts by state", label="state",
              known=list(PayoutState),
              source=select(Payout.state, func.count()).group_by(Payout.state))  # fmt: skip


def home_entries() -> list[HomeEntry]:
    """车窗抛物 on the citizen home."""
    return [HomeEntry("grid", "littering", "车窗抛物", "littering_pages.new_report", order=20,
                      icon="抛", tone="orange")]  # fmt: skip


def seed_demo(options: SeedOptions) -> None:
    """Demo seed step, after the staff (reviews and batches name them): demo reports, reviews,
    leads and rewards (once; ``options.littering`` of them, 0 for none)."""
    from reports.littering.seed import seed_demo_littering  # see init_app

    if options.littering is None:
        seed_demo_littering()
    elif options.littering:
        seed_demo_littering(options.littering)
