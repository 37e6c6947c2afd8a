"""flask rewards ...: check the ledger, reconcile with WeChat Pay, run payouts, the monthly
report."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from app.db import commit
from reports.littering import ledger, reconcile, worker

rewards_cli = AppGroup("rewards", help="车窗抛物 rewards: ledger, payouts, reconciliation.")


@rewards_cli.command("check-ledger")
def check_ledger_command() -> None:
    """Prove the ledger's invariants; exit 1 and list what is broken if any fails."""
    result = ledger.check()
    click.echo(f"entries {result.entries}, payouts {result.payouts}")
    click.echo(
        f"accrued {result.accrued_fen} fen = paid {result.paid_fen} + pending "
        f"{result.pending_fen}; cancelled {result.cancelled_fen}"
    )
    if result.ok:
        click.echo("ledger OK")
        return
    for problem in result.problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    raise SystemExit(1)


@rewards_cli.command("reconcile")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Local (Asia/Shanghai) day, YYYY-MM-DD.",
)
def reconcile_command(day) -> None:
    """Compare the ledger with WeChat Pay's bills of a day and list every difference."""
    run = reconcile.reconcile(day.date(), worker.transfer_client(), actor="cli")
    commit()
    click.echo(f"{run.day}: {run.checked} bills checked, {len(run.differences)} differences")
    for item in run.differences:
        click.echo(json.dumps(item, ensure_ascii=False))


@rewards_cli.command("pay")
@click.option("--limit", default=200, show_default=True)
def pay_command(limit: int) -> None:
    """Work through the payouts due now once (the worker does this every round)."""
    counts = worker.run_once(limit)
    click.echo(json.dumps(dict(counts)))


@rewards_cli.command("monthly")
@click.option("--year", type=int, default=None)
def monthly_command(year: int | None) -> None:
    """The monthly report: received, valid, rewarded, paid."""
    for row in reconcile.monthly(year):
        click.echo(json.dumps(row, ensure_ascii=False))


def register(app: Flask) -> None:
    """Attach the commands."""
    app.cli.add_command(rewards_cli)
