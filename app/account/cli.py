"""flask privacy purge [--dry-run], flask privacy publish-pending."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from app import privacy
from app.db import utcnow
from app.media import privacy as media_privacy

privacy_cli = AppGroup("privacy", help="Personal data: retention purge, public photo copies.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be purged.")
@click.option("--days", type=click.IntRange(min=1), help="Override RETENTION_DAYS.")
def purge_command(dry_run: bool, days: int | None) -> None:
    """Remove photos and personal data of records closed more than RETENTION_DAYS ago.

    Runs every feature's retention step in batches (each committed); a real run is recorded in
    the audit log. Schedule it daily (docs/privacy.md)."""
    cutoff = utcnow() - timedelta(days=days) if days else privacy.retention_cutoff()
    counts = privacy.purge(cutoff, dry_run)
    verb = "would purge" if dry_run else "purged"
    for name, count in counts.items():
        click.echo(f"{name}: {verb} {count}")
    click.echo(f"cutoff {cutoff.isoformat()}{' (dry run: nothing changed)' if dry_run else ''}")


@privacy_cli.command("publish-pending")
@click.option("--limit", default=1000, show_default=True, help="Photos to handle at most.")
def publish_pending_command(limit: int) -> None:
    """Make the blurred public copies the worker has not made yet (e.g. after an upgrade)."""
    done = media_privacy.publish_pending(limit)
    click.echo(f"public copies made: {done}")
