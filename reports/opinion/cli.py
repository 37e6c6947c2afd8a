"""flask opinion ...: fetch the sources now, show the yearly counts."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.db import commit
from reports.opinion import fetcher, queries, service

opinion_cli = AppGroup("opinion", help="网络舆情: fetch sources, counts.")


@opinion_cli.command("fetch")
@click.option("--source", "source_id", type=int, default=None, help="Only this source id.")
def fetch_command(source_id: int | None) -> None:
    """Fetch every active source now (or one), whatever its schedule."""
    sources = [queries.source_by_id(source_id)] if source_id else queries.sources()
    for source in sources:
        if not source.is_active and not source_id:
            continue
        outcome = fetcher.fetch_source(source)
        commit()
        detail = outcome.error or f"{outcome.new_items} new"
        click.echo(f"{source.id} {source.name}: {outcome.status} ({detail})")


@opinion_cli.command("counts")
@click.option("--year", type=int, default=None)
def counts_command(year: int | None) -> None:
    """Found / relevant / cases / replied / followed up per month of a year."""
    data = service.counts(year or service.local_year())
    click.echo("month found relevant cases replied followed_up")
    for m in data["months"]:
        click.echo(" ".join(str(m[k]) for k in ("month", *service.COUNTED)))
    click.echo("total " + " ".join(str(data["total"][k]) for k in service.COUNTED))


def register(app: Flask) -> None:
    app.cli.add_command(opinion_cli)
