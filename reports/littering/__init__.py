"""车窗抛物: littering-from-vehicles reports, review, reward rules, the ledger and payouts.

Citizens report a plate with photos or a video; reviewers decide; a valid first report earns a
reward in the ledger (integer fen); finance prepares batches that another account releases; the
worker pays them through WeChat Pay 商家转账 (wechat.pay), or finance records offline payments.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the APIs, pages and commands, the WeChat Pay callback handler and the worker's
    payout task."""
    from app.extensions import api
    from reports.littering import api as citizen_api
    from reports.littering import cli, finance_api, pages, payouts, staff_api, tasks
    from reports.notify import add_worker_task
    from wechat.pay import on_transfer_finished

    for module in (citizen_api, staff_api, finance_api):
        api.register_blueprint(module.blp)
    pages.init_app(app)
    cli.register(app)
    on_transfer_finished(payouts.apply_notification)
    add_worker_task(app, tasks.payout_round)
