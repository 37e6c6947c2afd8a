"""flask nearby ... commands: facility kinds and facility imports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from app.db import commit
from services_nearby import feed, importing
from services_nearby.service import seed_kinds

nearby_cli = AppGroup("nearby", help="Nearby public services: facility kinds and imports.")

STAGE_LABELS = {"import": "导入", "check": "校验", "write": "写入"}
SHOWN_ERRORS = 200
SHOWN_WARNINGS = 50


def register(app: Flask) -> None:
    """Attach the commands (once)."""
    if "nearby" not in app.cli.commands:
        app.cli.add_command(nearby_cli)


@nearby_cli.command("seed-kinds")
def seed_kinds_command() -> None:
    """Create the standard facility kinds that are missing."""
    added = seed_kinds()
    commit()
    click.echo(f"已添加 {added} 种设施类型")


class _Bars:
    """One click progress bar per stage, opened on the stage's first report."""

    def __init__(self) -> None:
        self.open: dict[str, Any] = {}

    def __call__(self, stage: str, advance: int, total: int) -> None:
        bar = self.open.get(stage)
        if bar is None:
            for other in list(self.open):
                self.open.pop(other).__exit__(None, None, None)
            label = STAGE_LABELS.get(stage, stage)
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            self.open[stage] = bar.__enter__()
        bar.update(advance)

    def close(self) -> None:
        for bar in self.open.values():
            bar.__exit__(None, None, None)
        self.open.clear()


@nearby_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson", "osm"]),
              help="File format (default: from the file name).")  # fmt: skip
@click.option("--source", help="Source name for the upsert key (default: the format).")
@click.option("--kind", "kind", metavar="CODE",
              help="CSV/GeoJSON: the kind of rows without one; OSM: only this kind.")  # fmt: skip
@click.option("--coord-sys", type=click.Choice(["wgs84", "gcj02", "bd09"]),
              help="Coordinate system of rows that do not say (CSV default gcj02, "
                   "GeoJSON default: declared in the file, else wgs84).")  # fmt: skip
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the row-level errors to this CSV file.")  # fmt: skip
@click.option("--all-or-nothing", is_flag=True, help="Write nothing if any row is bad.")
def import_command(file: Path, fmt: str | None, source: str | None, kind: str | None,
                   coord_sys: str | None, errors_file: Path | None,
                   all_or_nothing: bool) -> None:  # fmt: skip
    """Import facilities from CSV, GeoJSON or an OSM PBF, upserting by (source, external id)."""
    click.echo(f"读取 {file.name} …", err=True)
    bars = _Bars()
    try:
        # One transaction per batch (commit after each), or one for the whole file.
        result = importing.import_facilities(
            file, fmt, source=source, default_kind=kind, coord_sys=coord_sys,
            all_or_nothing=all_or_nothing, progress=bars, end_batch=commit,
        )  # fmt: skip
        commit()
    except importing.ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bars.close()
    _report(result, errors_file)


def _where(error: Any) -> str:
    return error.ref or f"第 {error.row} 行"


def _report(result: Any, errors_file: Path | None) -> None:
    """Print the warnings, the first errors and the summary; exit 1 if any row was refused."""
    for warning in result.warnings[:SHOWN_WARNINGS]:
        click.echo(f"警告：{warning}", err=True)
    if len(result.warnings) > SHOWN_WARNINGS:
        click.echo(f"... 另有 {len(result.warnings) - SHOWN_WARNINGS} 条警告", err=True)
    for error in result.errors[:SHOWN_ERRORS]:
        click.echo(f"{_where(error)} {error.field}: {error.reason}", err=True)
    if len(result.errors) > SHOWN_ERRORS:
        click.echo(f"... 另有 {len(result.errors) - SHOWN_ERRORS} 条错误", err=True)
    if errors_file is not None:
        importing.write_error_report(result.errors, errors_file)
        click.echo(f"错误报告已写入 {errors_file}", err=True)
    if result.rejected:
        click.echo(f"{result.bad_rows} 条有错误，整个文件未导入（--all-or-nothing）", err=True)
        raise SystemExit(1)
    click.echo(
        f"来源 {result.source}，共 {result.total} 条：新增 {result.created}，"
        f"更新 {result.updated}，未变 {result.unchanged}，跳过 {result.skipped}，"
        f"错误 {result.bad_rows} 条"
    )
    if result.errors:
        raise SystemExit(1)


@nearby_cli.command("create-feed")
@click.argument("name")
def create_feed_command(name: str) -> None:
    """Register a free-space feed (a parking system) for POST /api/v1/nearby/feed/parking;
    prints its key once. An admin then attaches facilities to it (staff API field ``feed``)."""
    try:
        created, key = feed.register_feed(name, actor_label="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    commit()
    click.echo(f"数据源 {created.name}（id {created.id}）的密钥：")
    click.echo(key)
    click.echo("请立即将密钥配置到停车系统：密钥只显示这一次")


@nearby_cli.command("disable-feed")
@click.argument("name")
def disable_feed_command(name: str) -> None:
    """Stop a feed's key from working (a leaked key, a retired system)."""
    try:
        disabled = feed.disable_feed(name, actor_label="cli")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    commit()
    click.echo(f"数据源 {disabled.name} 已停用")
