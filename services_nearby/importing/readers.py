"""Reading a facility file into records with the CSV column names (``kind``, ``name``, ``lat``
...): CSV (English or Chinese headers; UTF-8 or GB18030), GeoJSON (points, and polygons placed
at a point inside them) and OpenStreetMap extracts (PBF or XML: nodes, ways and multipolygons
whose tags match a kind's ``osm_tags``). Reading checks only what makes a file unreadable
(:class:`ImportFileError`); the values are checked by :mod:`.validate`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app import csvfiles
from app.geo import coords, shapes
from services_nearby import hours, service
from services_nearby.importing.records import (
    CHINESE_HEADERS,
    DEFAULT_SYS,
    FIELD_LABELS,
    FIELDS,
    FORMATS,
    MAX_LEN,
    ImportFileError,
    Loaded,
    Record,
)
from services_nearby.models import FacilityKind


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


def load(path: Path, fmt: str, default_kind: FacilityKind | None, coord_sys: str | None) -> Loaded:
    """The file read as ``fmt``; OSM elements match the active kinds (or ``default_kind`` only)."""
    if fmt == "csv":
        return Loaded(read_csv(path, need_kind=default_kind is None), coord_sys or "gcj02")
    if fmt == "geojson":
        return read_geojson(path, coord_sys)
    active = [k for k in service.kinds() if default_kind is None or k.id == default_kind.id]
    return read_osm(path, active)


# -- reading: CSV ------------------------------------------------------------------------------


def _column(name: Any) -> str:
    text = str(name or "").strip()
    return CHINESE_HEADERS.get(text, text.lower())


def read_csv(path: Path, need_kind: bool = True) -> list[Record]:
    """The non-blank rows of a CSV file (header row 1, English or Chinese names), in UTF-8 (with
    or without a byte-order mark) or GB18030 (Excel's "CSV（逗号分隔）" on Chinese Windows)."""
    try:
        lines = csvfiles.read_lines(path)
    except csvfiles.CsvFileError as exc:
        raise ImportFileError(str(exc)) from None
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
        declared = shapes.declared_sys(data)
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
    import osmium  # local: 45 ms to import, and only OSM files need it

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
