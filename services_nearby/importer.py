"""Import public facilities from CSV, GeoJSON or an OpenStreetMap PBF extract, upserting by
(source, external_id).

Each format is read into records with the CSV column names (``kind``, ``name``, ``lat`` ...), then
every record is validated completely before anything is written, so a bad row is never
half-imported: it comes back as (row, field, reason). Good records are written with Core
executemany in batches of :data:`BATCH`, one transaction (one ``seq``) per batch, committed as it
goes; with ``all_or_nothing`` everything is validated first and nothing is written if any record
is bad (and the good file is written in one transaction). Columns missing from a file leave the
stored values alone; a status set by staff (removed) is never changed by an import.

Row numbers: CSV rows count the header as row 1; GeoJSON features and OSM elements are numbered
from 1 and also named in ``RowError.ref`` ("要素 3", "node/123").
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update

from app import audit
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.geo import coords, regions, shapes
from services_nearby import hours, service
from services_nearby.models import Facility, FacilityKind, FacilityStatus

FIELDS = ("kind", "name", "lat", "lng", "coord_sys", "address", "opening_hours", "fee",
          "accessible", "capacity", "external_id")  # fmt: skip
CHINESE_HEADERS = {"类型": "kind", "名称": "name", "纬度": "lat", "经度": "lng",
                   "坐标系": "coord_sys", "地址": "address", "开放时间": "opening_hours",
                   "收费": "fee", "无障碍": "accessible", "容量": "capacity",
                   "编号": "external_id"}  # fmt: skip
FIELD_LABELS = {v: k for k, v in CHINESE_HEADERS.items()}
# Columns a file may leave out: a missing column keeps what is stored (new rows get the default).
OPTIONAL = {"address": "", "opening_hours": "", "fee": "", "accessible": None, "capacity": None}
PLACE = ("lat", "lng", "wgs_lat", "wgs_lng", "coord_sys_in", "district_code")
MAX_LEN = {"name": 100, "address": 200, "fee": 64, "external_id": 64}
COORD_SYSTEMS = {"wgs84": "wgs84", "gcj02": "gcj02", "bd09": "bd09"}
YES_NO = {"是": True, "否": False, "有": True, "无": False, "yes": True, "no": False,
          "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}  # fmt: skip
FORMATS = {"csv": "csv", "geojson": "geojson", "json": "geojson", "osm": "osm", "pbf": "osm"}
DEFAULT_SYS = {"csv": "gcj02", "geojson": "wgs84", "osm": "wgs84"}
MAX_INT = 2**31 - 1
BATCH = 1000

# progress(stage, advance, total): stage "import" (validate and write, batch by batch), or
# "check" then "write" with all_or_nothing.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class RowError:
    """Why one field of one row (feature, element) was refused."""

    row: int
    field: str
    reason: str
    ref: str = ""


@dataclass
class ImportResult:
    """What an import did (nothing is written when ``rejected``)."""

    format: str = "csv"
    source: str = ""
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected: bool = False

    @property
    def bad_rows(self) -> int:
        return len({e.row for e in self.errors})


class ImportFileError(ValueError):
    """The file cannot be imported at all (unreadable, unknown format, missing columns)."""


@dataclass
class Record:
    """One row, feature or element with values under the CSV column names."""

    row: int
    raw: dict[str, Any]
    ref: str = ""


@dataclass
class Loaded:
    """A file read into records."""

    records: list[Record]
    default_sys: str
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)


# -- reading: CSV ------------------------------------------------------------------------------


def _column(name: Any) -> str:
    text = str(name or "").strip()
    return CHINESE_HEADERS.get(text, text.lower())


def read_csv(path: Path, need_kind: bool = True) -> list[Record]:
    """The non-blank rows of a UTF-8 CSV file (header row 1, English or Chinese names)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            lines = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise ImportFileError("文件不是 UTF-8 编码：请用“CSV UTF-8”格式另存后再导入") from None
    except (OSError, csv.Error) as exc:
        raise ImportFileError(f"无法读取 CSV 文件：{exc}") from None
    header = [_column(h) for h in (lines[0] if lines else [])]
    required = ("kind", "name", "lat", "lng") if need_kind else ("name", "lat", "lng")
    missing = [f"{c}（{FIELD_LABELS[c]}）" for c in required if c not in header]
    if missing:
        raise ImportFileError(f"缺少列：{'、'.join(missing)}")
    keep = [(i, name) for i, name in enumerate(header) if name in FIELDS]
    records = []
    for number, values in enumerate(lines[1:], start=2):
        if any(v.strip() for v in values):
            raw = {name: values[i] if i < len(values) else "" for i, name in keep}
            records.append(Record(number, raw))
    return records


# -- reading: GeoJSON --------------------------------------------------------------------------


def read_geojson(path: Path, coord_sys: str | None) -> Loaded:
    """Point, Polygon and MultiPolygon features; polygons placed at a point inside them."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"无法读取 GeoJSON 文件：{exc}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportFileError("GeoJSON 文件应为 FeatureCollection")
    try:
        declared = shapes._declared_sys(data)
    except ValueError:
        raise ImportFileError(
            f"文件声明的坐标系“{data.get('coordinate_system')}”无效：只支持 wgs84、gcj02、bd09"
        ) from None
    if declared and coord_sys and declared.value != coord_sys:
        raise ImportFileError(f"文件声明的坐标系是 {declared.value}，与指定的 {coord_sys} 不一致")
    records = []
    for number, feature in enumerate(data.get("features") or [], start=1):
        if not isinstance(feature, Mapping):
            feature = {}
        props = feature.get("properties")
        raw = {_column(k): v for k, v in (props if isinstance(props, Mapping) else {}).items()}
        raw = {k: v for k, v in raw.items() if k in FIELDS and k not in ("lat", "lng")}
        if feature.get("id") is not None and raw.get("external_id") in (None, ""):
            raw["external_id"] = feature["id"]
        _feature_point(feature.get("geometry"), raw)
        ref = f"要素 {number}" + (f"（{raw['external_id']}）" if raw.get("external_id") else "")
        records.append(Record(number, raw, ref))
    return Loaded(records, declared.value if declared else coord_sys or DEFAULT_SYS["geojson"])


def _feature_point(geometry: Any, raw: dict[str, Any]) -> None:
    """Put the feature's position (in the file's own system) into raw lat/lng, or an error."""
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    try:
        if kind == "Point":
            lng, lat = geometry["coordinates"][:2]
            raw["lat"], raw["lng"] = float(lat), float(lng)
        elif kind in ("Polygon", "MultiPolygon"):
            # Built without conversion, so the point is inside the polygon as drawn in the file.
            shape = shapes.shape_from_geojson(geometry, coords.CANONICAL)
            raw["lat"], raw["lng"] = shapes.representative_point(shape)
        else:
            raw["_geometry"] = f"不支持的几何类型 {kind}：只支持 Point、Polygon、MultiPolygon"
    except (KeyError, TypeError, ValueError, IndexError):
        raw["_geometry"] = "几何坐标无效"


# -- reading: OpenStreetMap --------------------------------------------------------------------


class OsmReader:
    """Collects facilities from the elements of an OSM file (nodes, ways, multipolygons)."""

    def __init__(self, rules: list[tuple[tuple[str, str], FacilityKind]]) -> None:
        self.rules = rules
        self.records: list[Record] = []
        self.skipped = 0
        self.warnings: list[str] = []
        self.closed_ways: dict[int, tuple[FacilityKind, dict, tuple[float, float] | None]] = {}
        self.relations: dict[int, tuple[FacilityKind, dict]] = {}
        self.areas: dict[tuple[str, int], tuple[float, float]] = {}
        self.hours_ok: dict[str, str | hours.HoursError] = {}

    def kind_of(self, tags: Mapping[str, str]) -> FacilityKind | None:
        for (key, value), kind in self.rules:
            if tags.get(key) == value:
                return kind
        return None

    def take(self, obj: Any) -> None:
        """One element from the file processor (only tagged ones are passed)."""
        tags = dict(obj.tags)
        kind = self.kind_of(tags)
        kind_str = obj.type_str()
        if kind_str == "a":
            if kind is not None:
                key = ("w" if obj.from_way() else "r", obj.orig_id())
                self.areas[key] = _area_point(obj)
        elif kind is None:
            self.skipped += 1
        elif kind_str == "n":
            self._node(obj, kind, tags)
        elif kind_str == "w":
            self._way(obj, kind, tags)
        elif tags.get("type") in ("multipolygon", "boundary"):
            self.relations[obj.id] = (kind, tags)
        else:
            self.skipped += 1
            self.warnings.append(f"relation/{obj.id}：不是多边形关系，无法确定位置，已跳过")

    def _node(self, obj: Any, kind: FacilityKind, tags: dict) -> None:
        if not obj.location.valid():
            self.skipped += 1
            self.warnings.append(f"node/{obj.id}：没有坐标，已跳过")
            return
        self.add(f"node/{obj.id}", kind, tags, obj.location.lat, obj.location.lon)

    def _way(self, obj: Any, kind: FacilityKind, tags: dict) -> None:
        points = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
        if obj.is_closed() and len(obj.nodes) >= 4:
            # Placed from its area (below); the node average is the fallback if assembly fails.
            mean = (
                tuple(sum(c) / len(points) for c in zip(*points, strict=True)) if points else None
            )
            self.closed_ways[obj.id] = (kind, tags, mean)
        elif points:
            self.add(f"way/{obj.id}", kind, tags, *points[len(points) // 2])
        else:
            self.skipped += 1
            self.warnings.append(f"way/{obj.id}：节点没有坐标，已跳过")

    def finish(self) -> None:
        """Place the closed ways and multipolygons once every area has been assembled."""
        for way_id, (kind, tags, mean) in self.closed_ways.items():
            point = self.areas.get(("w", way_id))
            if point is None and mean is not None:
                self.warnings.append(f"way/{way_id}：多边形无效，已放在其节点的平均位置")
                point = mean
            if point is None:
                self.skipped += 1
                self.warnings.append(f"way/{way_id}：节点没有坐标，已跳过")
            else:
                self.add(f"way/{way_id}", kind, tags, *point)
        for rel_id, (kind, tags) in self.relations.items():
            point = self.areas.get(("r", rel_id))
            if point is None:
                self.skipped += 1
                self.warnings.append(f"relation/{rel_id}：多边形无法组装（成员缺失或无效），已跳过")
            else:
                self.add(f"relation/{rel_id}", kind, tags, *point)

    def add(self, ref: str, kind: FacilityKind, tags: dict, lat: float, lng: float) -> None:
        """A record from the element's tags (OSM is WGS-84)."""
        name = tags.get("name:zh") or tags.get("name:zh-Hans") or tags.get("name") or kind.name
        address = tags.get("addr:full") or "".join(
            tags.get(k, "")
            for k in ("addr:city", "addr:district", "addr:street", "addr:housenumber")
        )
        fee = tags.get("fee", "").strip()
        capacity = tags.get("capacity", "").strip()
        raw = {
            "kind": kind.code, "name": name.strip()[: MAX_LEN["name"]], "lat": lat, "lng": lng,
            "coord_sys": "wgs84", "address": address.strip()[: MAX_LEN["address"]],
            "opening_hours": self._hours(ref, tags.get("opening_hours", "")),
            "fee": {"yes": "收费", "no": "免费"}.get(fee.lower(), fee)[: MAX_LEN["fee"]],
            "accessible": {"yes": True, "limited": True, "no": False}.get(
                tags.get("wheelchair", "").strip().lower()
            ),
            "capacity": int(capacity) if capacity.isascii() and capacity.isdigit() else None,
            "external_id": ref,
        }  # fmt: skip
        self.records.append(Record(len(self.records) + 1, raw, ref))

    def _hours(self, ref: str, text: str) -> str:
        """The normalized opening hours, or "" (unknown) with a warning when they cannot be read."""
        if text not in self.hours_ok:
            try:
                self.hours_ok[text] = hours.parse(text).text
            except hours.HoursError as exc:
                self.hours_ok[text] = exc
        known = self.hours_ok[text]
        if isinstance(known, hours.HoursError):
            self.warnings.append(f"{ref}：开放时间“{text}”无法识别，已按未知导入（{known}）")
            return ""
        return known


def _area_point(area: Any) -> tuple[float, float]:
    """A WGS-84 (lat, lng) inside an assembled area (its largest part)."""
    polygons = []
    for outer in area.outer_rings():
        rings = [[(n.lon, n.lat) for n in outer]]
        rings += [[(n.lon, n.lat) for n in inner] for inner in area.inner_rings(outer)]
        polygons.append(rings)
    try:
        shape = shapes.shape_from_geojson({"type": "MultiPolygon", "coordinates": polygons})
        return shapes.representative_point(shape)
    except (ValueError, IndexError):
        ring = polygons[0][0]
        return sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring)


def read_osm(path: Path, kinds: list[FacilityKind]) -> Loaded:
    """Facilities from an OSM PBF (or XML) file, matched to kinds by their ``osm_tags``."""
    import osmium

    rules = [(tuple(t.split("=", 1)), k) for k in kinds for t in k.osm_tags if "=" in t]
    if not rules:
        raise ImportFileError("没有设施类型配置了 OSM 标签：请先运行 flask nearby seed-kinds")
    reader = OsmReader(rules)  # type: ignore[arg-type]
    matching = osmium.filter.TagFilter(*{pair for pair, _ in rules})
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_areas(matching)
            .with_filter(osmium.filter.EmptyTagFilter())
        )
        for obj in processor:
            reader.take(obj)
    except (RuntimeError, OSError, ValueError) as exc:
        raise ImportFileError(f"无法读取 OSM 文件：{exc}") from None
    reader.finish()
    return Loaded(reader.records, "wgs84", reader.skipped, reader.warnings)


# -- validating --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float | None:
    try:
        number = float(_text(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class KindRef:
    """What validation needs of a kind (plain values: they survive the batch commits)."""

    id: int
    code: str
    is_active: bool


class RowValidator:
    """Turns a record into column values, or lists every problem with it."""

    def __init__(self, default_kind: FacilityKind | None, default_sys: str) -> None:
        self.kinds: dict[str, KindRef] = {}
        for kind in db.session.scalars(select(FacilityKind).order_by(FacilityKind.id.desc())):
            ref = KindRef(kind.id, kind.code, kind.is_active)
            for key in (kind.title, kind.name, kind.code.lower()):
                self.kinds[key] = ref
        self.default_kind = default_kind and KindRef(default_kind.id, default_kind.code, True)
        self.default_sys = default_sys
        self.regions = regions.snapshot()  # one view of the regions for the whole file
        self.seen: dict[str, int] = {}
        self.hours: dict[str, str | hours.HoursError] = {}

    def __call__(self, record: Record) -> tuple[dict[str, Any] | None, list[RowError]]:
        """(values, []) for a good record, (None, errors) for a bad one."""
        errors: list[RowError] = []
        raw = record.raw

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(record.row, name, reason, record.ref))

        kind = self._kind(raw.get("kind"), fail)
        values: dict[str, Any] = {"kind_id": kind and kind.id}
        for name in ("name", "address", "fee"):
            if name in raw or name == "name":
                values[name] = self._short(name, raw.get(name), fail)
        if "opening_hours" in raw:
            values["opening_hours"] = self._hours(raw["opening_hours"], fail)
        if "accessible" in raw:
            values["accessible"] = self._accessible(raw["accessible"], fail)
        if "capacity" in raw:
            values["capacity"] = self._capacity(raw["capacity"], fail)
        self._place(raw, values, fail)
        if not errors:
            values["external_id"] = self._external_id(record, kind, values, fail)
        return (None, errors) if errors else (values, [])

    def _kind(self, value: Any, fail: Callable) -> KindRef | None:
        text = _text(value)
        if not text:
            if self.default_kind is None:
                fail("kind", "不能为空")
            return self.default_kind
        kind = self.kinds.get(text) or self.kinds.get(text.lower())
        if kind is None:
            fail("kind", f"设施类型“{text}”不存在")
        elif not kind.is_active:
            fail("kind", f"设施类型“{text}”已停用")
        return kind

    def _short(self, name: str, value: Any, fail: Callable) -> str:
        text = _text(value)
        if name == "name" and not text:
            fail(name, "不能为空")
        elif len(text) > MAX_LEN[name]:
            fail(name, f"不能超过 {MAX_LEN[name]} 个字")
        return text

    def _hours(self, value: Any, fail: Callable) -> str:
        text = _text(value)
        if text not in self.hours:
            try:
                self.hours[text] = hours.parse(text).text
            except hours.HoursError as exc:
                self.hours[text] = exc
        parsed = self.hours[text]
        if isinstance(parsed, hours.HoursError):
            fail("opening_hours", str(parsed))
            return ""
        return parsed

    def _accessible(self, value: Any, fail: Callable) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = _text(value).lower()
        if text and text not in YES_NO:
            fail("accessible", "应为 是/否（或 yes/no、true/false、1/0），不知道时留空")
        return YES_NO.get(text)

    def _capacity(self, value: Any, fail: Callable) -> int | None:
        text = _text(value)
        if not text:
            return None
        if not re.fullmatch(r"\d+", text) or int(text) > MAX_INT:
            fail("capacity", "应为不小于 0 的整数，不知道时留空")
            return None
        return int(text)

    def _place(self, raw: dict[str, Any], values: dict[str, Any], fail: Callable) -> None:
        if "_geometry" in raw:
            fail("geometry", raw["_geometry"])
            return
        key = _text(raw.get("coord_sys")).lower().replace("-", "").replace("_", "")
        coord_sys = COORD_SYSTEMS.get(key) if key else self.default_sys
        lat, lng = _number(raw.get("lat")), _number(raw.get("lng"))
        bad = coord_sys is None or lat is None or lng is None
        if coord_sys is None:
            fail("coord_sys", "应为 wgs84、gcj02 或 bd09")
        if lat is None or not -90 <= lat <= 90:
            bad = True
            fail("lat", "纬度应为 -90 到 90 之间的数字")
        if lng is None or not -180 <= lng <= 180:
            bad = True
            fail("lng", "经度应为 -180 到 180 之间的数字")
        if bad:
            return
        try:
            p = service.point(lat, lng, coord_sys)
        except ValidationFailed as exc:
            for name, reasons in (exc.fields or {"lat": [exc.message]}).items():
                fail(name, "；".join(reasons))
            return
        district = self.regions.district_code(p.lat, p.lng)
        values.update(lat=p.lat, lng=p.lng, wgs_lat=p.wgs_lat, wgs_lng=p.wgs_lng,
                      coord_sys_in=coord_sys, district_code=district)  # fmt: skip

    def _external_id(self, record: Record, kind: KindRef, values: dict, fail: Callable) -> str:
        given = _text(record.raw.get("external_id"))
        if len(given) > MAX_LEN["external_id"]:
            fail("external_id", f"不能超过 {MAX_LEN['external_id']} 个字符")
        # Rows without an id get one from what identifies them, so a re-import finds them again.
        key = f"{kind.code}|{values['name']}|{values['lat']:.6f}|{values['lng']:.6f}"
        external_id = given or "auto:" + hashlib.sha1(key.encode()).hexdigest()[:32]  # noqa: S324
        first = self.seen.setdefault(external_id, record.row)
        if first != record.row:
            if given:
                fail("external_id", f"与第 {first} 条的编号重复")
            else:
                fail("name", f"与第 {first} 条重复（类型、名称、坐标都相同）")
        return external_id


# -- writing -----------------------------------------------------------------------------------

COMPARED = ("kind_id", "name", *PLACE, *OPTIONAL)


def write_batch(good: list[dict[str, Any]], source: str) -> tuple[int, int, int]:
    """Insert new and update changed facilities of one batch (one seq); (created, updated,
    unchanged). Existing rows are looked up with one query."""
    if not good:
        return 0, 0, 0
    # The seq first: its row lock makes concurrent importers take turns, so the lookup below
    # sees what the other one committed and both never insert the same external id.
    seq, now = service.next_seq(), utcnow()
    columns = [Facility.id, Facility.external_id, *(getattr(Facility, c) for c in COMPARED)]
    ids = [v["external_id"] for v in good]
    found = db.session.execute(
        select(*columns).where(Facility.source == source, Facility.external_id.in_(ids))
    )
    existing = {r.external_id: r._asdict() for r in found}
    inserts, updates, unchanged = [], defaultdict(list), 0
    new = {"source": source, "seq": seq, "version": 1, "status": FacilityStatus.ACTIVE,
           "created_at": now, "updated_at": now}  # fmt: skip
    for values in good:
        old = existing.get(values["external_id"])
        if old is None:
            inserts.append(OPTIONAL | values | new)
            continue
        given = tuple(sorted(k for k in values if k != "external_id"))
        if all(old[k] == values[k] for k in given):
            unchanged += 1
        else:
            updates[given].append({f"v_{k}": values[k] for k in given} | {"b_id": old["id"]})
    table = Facility.__table__
    if inserts:
        db.session.execute(insert(table), inserts)
    for given, rows in updates.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"v_{k}") for k in given})
            .values(seq=seq, updated_at=now, version=table.c.version + 1)
        )
        db.session.execute(statement, rows)
    return len(inserts), sum(len(rows) for rows in updates.values()), unchanged


# -- the import --------------------------------------------------------------------------------


def detect_format(path: Path, fmt: str | None = None) -> str:
    """csv, geojson or osm, from ``fmt`` or the file name."""
    if fmt:
        if fmt.lower() not in FORMATS:
            raise ImportFileError(f"不支持的格式“{fmt}”：请使用 csv、geojson 或 osm")
        return FORMATS[fmt.lower()]
    name = path.name.lower()
    for ending, found in ((".csv", "csv"), (".geojson", "geojson"), (".json", "geojson"),
                         (".pbf", "osm"), (".osm", "osm")):  # fmt: skip
        if name.endswith(ending):
            return found
    raise ImportFileError(
        f"无法识别文件“{path.name}”的格式：支持 .csv、.geojson/.json、.osm.pbf（或指定格式）"
    )


def _load(path: Path, fmt: str, default_kind: FacilityKind | None, coord_sys: str | None) -> Loaded:
    if fmt == "csv":
        return Loaded(read_csv(path, need_kind=default_kind is None), coord_sys or "gcj02")
    if fmt == "geojson":
        return read_geojson(path, coord_sys)
    active = [k for k in service.kinds() if default_kind is None or k.id == default_kind.id]
    return read_osm(path, active)


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
) -> ImportResult:
    """Validate and upsert every facility of the file by (source, external_id). Commits: one
    transaction per batch, or one for the whole file with ``all_or_nothing`` (nothing written
    if any record is bad)."""
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"文件不存在：{path}")
    fmt = detect_format(path, fmt)
    source, kind, coord_sys = _options(source, fmt, default_kind, coord_sys)
    loaded = _load(path, fmt, kind, coord_sys)
    result = ImportResult(fmt, source, len(loaded.records), skipped=loaded.skipped,
                          warnings=loaded.warnings)  # fmt: skip
    check = RowValidator(kind, loaded.default_sys)
    if all_or_nothing:
        _all_or_nothing(loaded.records, check, result, progress)
    else:
        for chunk in _chunks(loaded.records):
            _write_counted(_validated(chunk, check, result), result)
            db.session.commit()
            if progress:
                progress("import", len(chunk), result.total)
    if not result.rejected:
        audit.record("facility.import", "facility_file", path.name, actor_label=actor_label,
                     format=fmt, source=source, rows=result.total, created=result.created,
                     updated=result.updated, unchanged=result.unchanged, skipped=result.skipped,
                     bad_rows=result.bad_rows)  # fmt: skip
        db.session.commit()
    return result


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


def write_error_report(errors: list[RowError], path: Path) -> None:
    """The row-level errors as a CSV, as the shop import writes them, with the element (ref)."""
    from shops.importer import write_error_report as write

    write(errors, path, ("row", "ref", "field", "reason"))
