"""Region import: GeoJSON features -> Region rows in GCJ-02, all or nothing.

A file is validated as a whole first (every feature, every reference), and only a file without a
single bad feature is written, so a typo in feature 2,000 never leaves 1,999 half-imported rows.
Rows are upserted by code: re-importing a corrected file updates the regions it names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.auth.models import Department
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.geo import shapes
from app.geo.coords import CANONICAL, CoordSys
from app.geo.models import Region

LEVELS = ("city", "district", "street", "grid")
COORD_SYSTEMS = tuple(c.value for c in CoordSys)
MAX_CODE, MAX_NAME, MAX_SOURCE = 32, 100, 200
_DIGITS = 7  # ~1 cm: enough for boundaries, keeps the stored JSON small
# A MultiPolygon file is 8 levels deep (collection, features, feature, geometry, 4 of
# coordinates); the rest is room for nested properties. Deeper is no region file: it would only
# reach code that walks it recursively (the interpreter's limit is ~1,000 frames).
MAX_DEPTH = 32
Parent = aliased(Region)


@dataclass(frozen=True)
class FeatureError:
    """Why one feature of a file was refused (index counts from 0, as in the file)."""

    index: int
    code: str | None
    reason: str

    def __str__(self) -> str:
        label = f"第 {self.index} 个要素" + (f"（{self.code}）" if self.code else "")
        return f"{label}：{self.reason}"


class RegionImportFailed(ValidationFailed):
    """The file was refused: nothing was written. ``errors`` lists every bad feature; the 422
    body's ``fields.features`` maps each bad feature's index to its messages."""

    code = "region_import_failed"
    message = "区域文件有误，未导入任何区域"

    def __init__(self, errors: list[FeatureError]) -> None:
        self.errors = errors
        by_index: dict[str, list[str]] = {}
        for e in errors:
            by_index.setdefault(str(e.index), []).append(
                f"{e.code}：{e.reason}" if e.code else e.reason
            )
        super().__init__(fields={"features": by_index})


@dataclass
class RegionDraft:
    """A validated feature, ready to be written."""

    index: int
    code: str
    name: str
    level: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    area_m2: float
    parent_code: str | None = None
    department_id: int | None = None


@dataclass
class ImportResult:
    """Codes created and updated by one import."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.created) + len(self.updated)


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file: which properties hold what, and the file's coordinate system."""

    level: str
    coord_sys: str = CANONICAL.value
    code_prop: str = "adcode"
    name_prop: str = "name"
    parent_code: str | None = None
    parent_prop: str | None = None
    department_prop: str | None = None
    source: str = ""


def load_geojson(data: bytes | str) -> dict[str, Any]:
    """Parse an uploaded file as a GeoJSON FeatureCollection (422 if it is not one, or if it is
    nested deeper than MAX_DEPTH)."""
    too_deep = ValidationFailed(
        fields={"file": [f"文件嵌套层数过多（超过 {MAX_DEPTH} 层），不是有效的 GeoJSON 区域文件"]}
    )
    try:
        collection = json.loads(data)
    except RecursionError:  # the parser recurses once per level: thousands of "[" end it here
        raise too_deep from None
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed(fields={"file": ["文件不是有效的 JSON"]}) from None
    if nested_deeper_than(collection, MAX_DEPTH):
        raise too_deep
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ValidationFailed(fields={"file": ["文件必须是 GeoJSON FeatureCollection"]})
    if not isinstance(collection.get("features"), list) or not collection["features"]:
        raise ValidationFailed(fields={"file": ["文件中没有要素（features）"]})
    return collection


def nested_deeper_than(value: Any, limit: int) -> bool:
    """True if lists and objects nest more than ``limit`` levels (walked level by level without
    recursion, so any depth the parser accepted is measured; ~0.3 s for a million points)."""
    level, depth = ([value] if isinstance(value, (list, dict)) else []), 1
    while level:
        if depth > limit:
            return True
        deeper = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (list, dict)):
                    deeper.append(child)
        level, depth = deeper, depth + 1
    return False


def import_regions(collection: dict[str, Any], options: ImportOptions) -> ImportResult:
    """Validate every feature, then upsert them all (flushes; the caller commits)."""
    drafts = parse_regions(collection, options)
    return write_regions(drafts, options)


def parse_regions(collection: dict[str, Any], options: ImportOptions) -> list[RegionDraft]:
    """Every feature as a draft in GCJ-02, or RegionImportFailed listing every bad one."""
    _check_options(collection, options)
    drafts: list[RegionDraft] = []
    errors: list[FeatureError] = []
    for index, feature in enumerate(collection.get("features") or []):
        try:
            drafts.append(_draft(index, feature, options))
        except ValueError as exc:
            errors.append(FeatureError(index, _code_of(feature, options), str(exc)))
    errors += _reference_errors(drafts)
    if errors:
        raise RegionImportFailed(sorted(errors, key=lambda e: e.index))
    return drafts


def _check_options(collection: dict[str, Any], options: ImportOptions) -> None:
    """Refuse options that make every feature wrong, before looking at features."""
    problems: dict[str, list[str]] = {}
    if options.level not in LEVELS:
        problems["level"] = [f"层级必须是 {'/'.join(LEVELS)} 之一"]
    if options.coord_sys not in COORD_SYSTEMS:
        problems["coord_sys"] = [f"坐标系必须是 {'/'.join(COORD_SYSTEMS)} 之一"]
    declared = str(collection.get("coordinate_system") or "").lower().replace("-", "")
    if declared and declared in COORD_SYSTEMS and declared != options.coord_sys:
        problems["coord_sys"] = [f"文件声明的坐标系是 {declared}，与所选 {options.coord_sys} 不符"]
    if len(options.source) > MAX_SOURCE:
        problems["source"] = [f"来源说明不能超过 {MAX_SOURCE} 个字符"]
    if problems:
        raise ValidationFailed(fields=problems)


def _code_of(feature: Any, options: ImportOptions) -> str | None:
    props = feature.get("properties") if isinstance(feature, dict) else None
    value = props.get(options.code_prop) if isinstance(props, dict) else None
    return str(value) if value not in (None, "") else None


def _text_prop(props: dict[str, Any], name: str, label: str, limit: int) -> str:
    value = props.get(name)
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError(f"缺少{label}（属性 {name}）")
    if len(text) > limit:
        raise ValueError(f"{label}超过 {limit} 个字符")
    return text


def _draft(index: int, feature: Any, options: ImportOptions) -> RegionDraft:
    """One feature as a draft; ValueError says what is wrong with it."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("不是 GeoJSON Feature")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ValueError("properties 必须是对象")
    code = _text_prop(props, options.code_prop, "区域编码", MAX_CODE)
    name = _text_prop(props, options.name_prop, "区域名称", MAX_NAME)
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        raise ValueError("缺少几何图形（geometry）")
    try:
        shape = shapes.shape_from_geojson(geometry, options.coord_sys)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"几何图形无效：{exc}") from None
    if shape.area_m2 <= 0:
        raise ValueError("几何图形面积为零")
    parent = options.parent_code
    if options.parent_prop and props.get(options.parent_prop) not in (None, ""):
        parent = str(props[options.parent_prop]).strip()
    return RegionDraft(
        index=index,
        code=code,
        name=name,
        level=options.level,
        geometry=shape_to_geojson(shape),
        bbox=shape.bbox,
        area_m2=shape.area_m2,
        parent_code=parent,
        department_id=_department_id(props, options.department_prop),
    )


def _department_id(props: dict[str, Any], prop: str | None) -> int | None:
    """The id of the department a property names by code (ValueError if there is none)."""
    if not prop or props.get(prop) in (None, ""):
        return None
    code = str(props[prop]).strip()
    dept_id = db.session.scalar(select(Department.id).where(Department.code == code))
    if dept_id is None:
        raise ValueError(f"部门编码 {code} 不存在")
    return dept_id


def _reference_errors(drafts: list[RegionDraft]) -> list[FeatureError]:
    """Duplicate codes within the file and parents that exist neither here nor in the table."""
    errors: list[FeatureError] = []
    seen: dict[str, int] = {}
    for d in drafts:
        if d.code in seen:
            errors.append(FeatureError(d.index, d.code, f"编码与第 {seen[d.code]} 个要素重复"))
        seen.setdefault(d.code, d.index)
    wanted = {d.parent_code for d in drafts if d.parent_code} - set(seen)
    known = set()
    if wanted:
        known = set(db.session.scalars(select(Region.code).where(Region.code.in_(wanted))))
    for d in drafts:
        if d.parent_code and d.parent_code not in seen and d.parent_code not in known:
            errors.append(FeatureError(d.index, d.code, f"上级区域 {d.parent_code} 不存在"))
    return errors + _cycle_errors(drafts)


def _cycle_errors(drafts: list[RegionDraft]) -> list[FeatureError]:
    """Features whose parent chain (this file over the table) comes back to themselves."""
    parent_of = {
        code: parent
        for code, parent in db.session.execute(
            select(Region.code, Parent.code).join(Parent, Region.parent_id == Parent.id)
        )
    }
    parent_of.update({d.code: d.parent_code for d in drafts if d.parent_code})
    errors = []
    for d in drafts:
        node, steps = d.parent_code, 0
        while node is not None and node != d.code and steps <= len(parent_of):
            node, steps = parent_of.get(node), steps + 1
        if node == d.code:
            errors.append(FeatureError(d.index, d.code, "上级区域形成循环"))
    return errors


def shape_to_geojson(shape: shapes.Shape) -> dict[str, Any]:
    """A Shape (GCJ-02) as a GeoJSON MultiPolygon with closed rings."""

    def ring(points: Any) -> list[list[float]]:
        coords = np.round(np.asarray(points, dtype=float), _DIGITS).tolist()
        return [*coords, coords[0]]

    return {
        "type": "MultiPolygon",
        "coordinates": [[ring(r) for r in polygon] for polygon in shape.polygons],
    }


def write_regions(drafts: list[RegionDraft], options: ImportOptions) -> ImportResult:
    """Upsert validated drafts by code, then link parents (flushes, never commits)."""
    result = ImportResult()
    codes = [d.code for d in drafts]
    existing = {r.code: r for r in db.session.scalars(select(Region).where(Region.code.in_(codes)))}
    stamp = next_region_stamp()
    rows: dict[str, Region] = {}
    for d in drafts:
        row = existing.get(d.code)
        if row is None:
            row = Region(code=d.code, is_active=True)
            db.session.add(row)
            result.created.append(d.code)
        else:
            result.updated.append(d.code)
        _fill(row, d, options, stamp)
        rows[d.code] = row
    db.session.flush()
    _link_parents(drafts, rows)
    return result


def _fill(row: Region, d: RegionDraft, options: ImportOptions, stamp: datetime) -> None:
    row.name, row.level, row.geometry = d.name, d.level, d.geometry
    row.min_lat, row.min_lng, row.max_lat, row.max_lng = d.bbox
    row.area_m2 = d.area_m2
    row.source_coord_sys = options.coord_sys
    row.source = options.source
    row.updated_at = stamp
    if d.department_id is not None:
        row.department_id = d.department_id


def _link_parents(drafts: list[RegionDraft], rows: dict[str, Region]) -> None:
    wanted = {d.parent_code for d in drafts if d.parent_code and d.parent_code not in rows}
    if wanted:
        rows = rows | {
            r.code: r for r in db.session.scalars(select(Region).where(Region.code.in_(wanted)))
        }
    for d in drafts:
        if d.parent_code:
            rows[d.code].parent_id = rows[d.parent_code].id
    db.session.flush()


def next_region_stamp() -> datetime:
    """An updated_at newer than every region's as stored, so the routing cache notices an edit.

    MariaDB DATETIME keeps whole seconds: two edits in one second would otherwise leave
    max(updated_at) unchanged and reports.reference would keep routing on the old polygons.
    """
    now = utcnow().replace(microsecond=0)
    newest = db.session.scalar(select(func.max(Region.updated_at)))
    if newest is not None and now <= newest:
        return newest.replace(microsecond=0) + timedelta(seconds=1)
    return now


def touch(region: Region) -> None:
    """Mark a region as changed (see next_region_stamp)."""
    region.updated_at = next_region_stamp()
