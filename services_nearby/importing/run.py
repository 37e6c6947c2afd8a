"""One import of a facility file: read it, check every record, write the good ones batch by batch
and audit the import. Flushes only: the caller commits.

Good records are written with Core executemany in batches of :data:`BATCH`; the caller may end a
transaction after each batch (``end_batch``: the CLI commits there, one transaction and one
``seq`` per batch, so a long import never holds the change-number lock for long). With
``all_or_nothing`` everything is checked first and nothing is written if any record is bad; the
good file is written in the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import or_, select

from app import audit
from app.extensions import db
from services_nearby.importing.readers import detect_format, load
from services_nearby.importing.records import (
    COORD_SYSTEMS,
    ImportFileError,
    ImportResult,
    Record,
)
from services_nearby.importing.validate import RowValidator
from services_nearby.importing.write import write_batch
from services_nearby.models import FacilityKind

BATCH = 1000

# progress(stage, advance, total): stage "import" (validate and write, batch by batch), or
# "check" then "write" with all_or_nothing.
Progress = Callable[[str, int, int], None]


def import_facilities(
    path: Path | str,
    fmt: str | None = None,
    *,
    source: str | None = None,
    default_kind: str | None = None,
    coord_sys: str | None = None,
    all_or_nothing: bool = False,
    progress: Progress | None = None,
    actor_label: str = "cli",
    end_batch: Callable[[], None] | None = None,
) -> ImportResult:
    """Validate and upsert every facility of the file by (source, external_id), then audit the
    import (unless rejected). ``end_batch`` runs after each written batch (not with
    ``all_or_nothing``, where nothing is written if any record is bad)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"文件不存在：{path}")
    fmt = detect_format(path, fmt)
    source, kind, coord_sys = _options(source, fmt, default_kind, coord_sys)
    loaded = load(path, fmt, kind, coord_sys)
    result = ImportResult(fmt, source, len(loaded.records), skipped=loaded.skipped,
                          warnings=loaded.warnings)  # fmt: skip
    check = RowValidator(kind, loaded.default_sys)
    if all_or_nothing:
        _all_or_nothing(loaded.records, check, result, progress)
    else:
        for chunk in _chunks(loaded.records):
            _write_counted(_validated(chunk, check, result), result)
            if end_batch:
                end_batch()
            if progress:
                progress("import", len(chunk), result.total)
    if not result.rejected:
        audit.record("facility.import", "facility_file", path.name, actor_label=actor_label,
                     format=fmt, source=source, rows=result.total, created=result.created,
                     updated=result.updated, unchanged=result.unchanged, skipped=result.skipped,
                     bad_rows=result.bad_rows)  # fmt: skip
    return result


def _options(source: str | None, fmt: str, default_kind: str | None, coord_sys: str | None):
    source = (source or fmt).strip()
    if not source or len(source) > 32:
        raise ImportFileError("来源名称不能为空，且不能超过 32 个字符")
    kind = None
    if default_kind:
        wanted = default_kind.strip()
        kind = db.session.scalar(
            select(FacilityKind).where(
                or_(FacilityKind.code == wanted.lower(), FacilityKind.name == wanted)
            )
        )
        if kind is None or not kind.is_active:
            raise ImportFileError(f"设施类型“{default_kind}”不存在或已停用")
    if coord_sys is not None:
        coord_sys = COORD_SYSTEMS.get(coord_sys.lower().replace("-", "").replace("_", ""))
        if coord_sys is None:
            raise ImportFileError("坐标系应为 wgs84、gcj02 或 bd09")
    return source, kind, coord_sys


def _chunks(records: list[Record]) -> Iterator[list[Record]]:
    for start in range(0, len(records), BATCH):
        yield records[start : start + BATCH]


def _validated(records: list[Record], check: RowValidator, result: ImportResult) -> list[dict]:
    good = []
    for record in records:
        values, errors = check(record)
        if values is not None:
            good.append(values)
        result.errors.extend(errors)
    return good


def _write_counted(good: list[dict], result: ImportResult) -> None:
    created, updated, unchanged = write_batch(good, result.source)
    result.created += created
    result.updated += updated
    result.unchanged += unchanged


def _all_or_nothing(records: list, check: RowValidator, result: ImportResult, progress) -> None:
    """Validate everything, then write everything in one transaction (or nothing)."""
    good: list[dict] = []
    for chunk in _chunks(records):
        good += _validated(chunk, check, result)
        if progress:
            progress("check", len(chunk), result.total)
    if result.errors:
        result.rejected = True  # nothing was written: the caller's own work is left alone
        return
    for start in range(0, len(good), BATCH):
        _write_counted(good[start : start + BATCH], result)
        db.session.flush()
        if progress:
            progress("write", len(good[start : start + BATCH]), len(good))
