"""flask shops ... commands."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.db import commit
from app.extensions import db
from shops.codes import generate_missing_wxacodes, issue_missing
from shops.importer import (
    COLUMNS,
    HEADERS,
    LABELS,
    NOTES,
    OPTIONAL,
    ImportFileError,
    import_shops,
    write_error_report,
)

shops_cli = AppGroup("shops", help="Shops: import, QR plates and print sheets.")


def register(app: Flask) -> None:
    """Attach the commands."""
    app.cli.add_command(shops_cli)


# -- the registry: import (shops/importer.py) ---------------------------------------------------


# Exit status of ``flask shops import`` (2 is click's: a usage error, a file that does not exist).
EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 3


def _import_help() -> str:
    """The command's help: what it does, every column with its names, and the exit status."""
    return "\n".join([
        "Import shops from a CSV or XLSX file, upserting by credit code (统一社会信用代码).",
        "",
        "Every row is checked before anything is written; good rows are imported, bad rows are "
        "listed (and written to --errors) and never half-imported. The header is row 1; columns "
        "may come in any order, under their English or any of their Chinese names.",
        "",
        "\b",
        "Required columns:",
        *_column_help(c for c in COLUMNS if c not in OPTIONAL),
        "",
        "\b",
        "Optional columns (may be left out, or left empty):",
        *_column_help(OPTIONAL),
        "",
        "A CSV file may be UTF-8 (with or without BOM) or GBK/GB18030, as Excel saves it on "
        "Chinese Windows.",
        "",
        "\b",
        "Exit status:",
        "  0  every row imported",
        "  1  nothing imported: the file cannot be read or lacks a required column, every row",
        "     is bad, or --all-or-nothing refused a file with bad rows",
        "  2  usage error (no such file, unknown option)",
        "  3  partial import: the good rows were imported, the bad rows were refused",
    ])  # fmt: skip


def _column_help(columns: Iterable[str]) -> list[str]:
    lines = []
    for column in columns:
        lines.append(f"  {column:<16}{' / '.join(HEADERS[column])}")
        lines += textwrap.wrap(NOTES[column], 70, initial_indent=" " * 18,
                               subsequent_indent=" " * 18)  # fmt: skip
    return lines


@shops_cli.command("import", help=_import_help())
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the row-level errors to this CSV file.")  # fmt: skip
@click.option("--all-or-nothing", is_flag=True, help="Reject the whole file if any row is bad.")
def import_command(file: Path, errors_file: Path | None, all_or_nothing: bool) -> None:
    bars: dict[str, Any] = {}

    def start(total: int) -> None:
        bars["total"] = total

    def step(name: str, label: str) -> Callable[[int], None]:
        def advance(n: int) -> None:
            if name not in bars:
                bars[name] = click.progressbar(length=bars["total"], label=label, file=sys.stderr)
                bars[name].__enter__()
            bars[name].update(n)

        return advance

    try:
        result = import_shops(
            file,
            all_or_nothing=all_or_nothing,
            on_rows=start,
            on_validate=step("check", "校验"),
            on_write=step("write", "写入"),
        )
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for name in ("check", "write"):
            if name in bars:
                bars[name].__exit__(None, None, None)
    _report_import(result, errors_file, write_error_report)


def _report_import(result: Any, errors_file: Path | None, write_report: Callable) -> None:
    """Print the outcome and the row-level errors; commit unless the file was rejected. Exits
    EXIT_PARTIAL when some rows were imported and some refused, EXIT_FAILED when none was."""
    for error in result.errors[:200]:
        label = f"{error.field}（{LABELS[error.field]}）" if error.field in LABELS else error.field
        click.echo(f"第 {error.row} 行 {label}: {error.reason}", err=True)
    if len(result.errors) > 200:
        click.echo(f"... 另有 {len(result.errors) - 200} 条错误", err=True)
    if errors_file is not None:
        write_report(result.errors, errors_file)
        click.echo(f"错误报告已写入 {errors_file}", err=True)
    if result.rejected:
        db.session.rollback()
        click.echo(f"{result.bad_rows} 行有错误，整个文件未导入（--all-or-nothing）", err=True)
        raise SystemExit(EXIT_FAILED)
    commit()
    click.echo(
        f"共 {result.total} 行：新增 {result.created}，更新 {result.updated}，"
        f"未变 {result.unchanged}，错误 {result.bad_rows} 行"
    )
    if not result.errors:
        return
    if not result.imported:
        click.echo("所有行都有错误，没有导入任何店铺", err=True)
        raise SystemExit(EXIT_FAILED)
    click.echo(f"部分导入：{result.imported} 行已导入，{result.bad_rows} 行有错误未导入", err=True)
    raise SystemExit(EXIT_PARTIAL)


# -- plates: codes, QR images, print sheets, mini-program codes (shops/codes.py, printsheet.py) --


@shops_cli.command("issue-codes")
def issue_codes_command() -> None:
    """Give every shop without an active plate code one."""
    count = issue_missing()
    commit()
    click.echo(f"已为 {count} 家商户发放二维码编号")


@shops_cli.command("qr")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PNG and SVG files (default: instance/shop-qr).")  # fmt: skip
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The A4 label PDF (default: <out>/labels.pdf).")  # fmt: skip
@click.option("--district", help="Only this district (region code or name).")
@click.option("--zip", "zip_images", is_flag=True,
              help="Images in one <out>/qr-images.zip, not loose files (one file to copy; "
                   "the archive is written by the main process, so it takes longer).")  # fmt: skip
@click.option("--workers", type=int, default=2, show_default=True, help="Processes (0: none).")
def qr_command(out_dir: Path | None, pdf_file: Path | None, district: str | None,
               zip_images: bool, workers: int) -> None:  # fmt: skip
    """Write every active shop's QR (PNG, SVG) and the print-ready label PDF."""
    # late: fpdf and the label layout take about 0.2 s to import; only this command needs them
    from shops.printsheet import font_path, load_labels, write_all

    out_dir = out_dir or Path(current_app.config["INSTANCE_DIR"]) / "shop-qr"
    pdf_file = pdf_file or out_dir / "labels.pdf"
    try:
        font = font_path()
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    labels = load_labels(district)
    if not labels:
        raise click.ClickException("没有需要生成二维码的商户（正常营业且有有效编号）")
    with click.progressbar(length=len(labels), label="生成二维码标签", file=sys.stderr) as bar:
        count = write_all(labels, out_dir, pdf_file, font=font, workers=workers,
                          progress=bar.update, zip_images=zip_images)  # fmt: skip
    click.echo(f"已生成 {count} 个二维码：图片在 {out_dir}，标签 PDF {pdf_file}")


@shops_cli.command("wxacodes")
@click.option("--limit", type=int, default=0, help="Stop after this many (0: all).")
def wxacodes_command(limit: int) -> None:
    """Fetch and store mini-program codes for active plate codes that have none (rate-limited)."""
    if not current_app.config.get("WECHAT_WXACODE_ENABLED"):
        raise click.ClickException("未启用小程序码（WECHAT_WXACODE_ENABLED=0）")
    result = generate_missing_wxacodes(
        limit=limit or None, on_error=lambda msg: click.echo(msg, err=True), checkpoint=commit
    )
    commit()
    click.echo(f"小程序码：新生成 {result.stored}，失败 {result.failed}，剩余 {result.remaining}")
    if result.stopped:
        click.echo(f"已暂停：{result.stopped}", err=True)
        raise SystemExit(1)
