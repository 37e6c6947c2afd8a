"""flask reports ... commands and flask worker."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.audit import record
from app.db import commit
from app.errors import ValidationFailed
from app.geo.importer import ImportOptions, RegionImportFailed, import_regions, load_geojson
from reports.ingest_api import create_device
from reports.notify import run_worker
from reports.seed import seed_reference

reports_cli = AppGroup("reports", help="Reports: reference data, classifier, statistics.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver one batch and exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds to sleep when idle.")
def worker_command(once: bool, interval: float) -> None:
    """Deliver queued notifications (outbox) to WeChat."""
    run_worker(once=once, interval=interval)


@reports_cli.command("create-device")
@click.argument("name")
def create_device_command(name: str) -> None:
    """Register a camera or vehicle for POST /api/v1/ingest/detections; prints its key once."""
    device, key = create_device(name)
    commit()
    click.echo(f"device {device.name} (id {device.id}) key: {key}")
    click.echo("store the key in the device now; it cannot be shown again")


def register(app: Flask) -> None:
    """Attach the commands."""
    # scikit-learn and jieba load only when the app is built for the CLI (see reports.service)
    from reports.classifier import train_classifier_command

    app.cli.add_command(reports_cli)
    app.cli.add_command(worker_command)
    reports_cli.add_command(train_classifier_command)


# -- reference data (reports/seed.py, app/geo/importer.py) ----------------------------------------


@reports_cli.command("seed-reference")
@click.option(
    "--keep-existing",
    is_flag=True,
    help="Only add missing categories and calendar days; keep rows an admin has edited.",
)
def seed_reference_command(keep_existing: bool) -> None:
    """Load categories.csv and holidays.csv (upsert by code and date; safe to repeat)."""
    result = seed_reference(keep_existing=keep_existing)
    commit()
    for table, counts in result.items():
        click.echo(f"{table}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@reports_cli.command("import-regions")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--level", required=True, type=click.Choice(["city", "district", "street", "grid"]))
@click.option(
    "--coord-sys", default="gcj02", show_default=True, type=click.Choice(["gcj02", "wgs84", "bd09"])
)
@click.option("--code-prop", default="adcode", show_default=True, help="Property with the code.")
@click.option("--name-prop", default="name", show_default=True, help="Property with the name.")
@click.option("--parent-code", help="Code of the region every feature lies in.")
@click.option("--parent-prop", help="Property with each feature's parent region code.")
@click.option("--department-prop", help="Property with the responsible department's code.")
@click.option("--source", default="", help="Where the file comes from, with its licence.")
def import_regions_command(path: str, level: str, coord_sys: str, **props: str | None) -> None:
    """Import GeoJSON polygons as regions (upsert by code; nothing is written if any is bad)."""
    options = ImportOptions(level=level, coord_sys=coord_sys, **props)  # type: ignore[arg-type]
    try:
        with open(path, "rb") as fh:
            result = import_regions(load_geojson(fh.read()), options)
    except RegionImportFailed as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    except ValidationFailed as exc:
        for field, messages in (exc.fields or {}).items():
            click.echo(f"error: {field}: {'; '.join(messages)}", err=True)
        raise SystemExit(2) from None
    record("region.import", "region", level, actor_label="cli", file=path,
           created=len(result.created), updated=len(result.updated))  # fmt: skip
    commit()
    click.echo(f"regions: created {len(result.created)}, updated {len(result.updated)}")
