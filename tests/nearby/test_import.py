"""flask nearby import: CSV, GeoJSON and OSM PBF files, upsert by (source, external id), row
errors, no half-written row, the change sequence on every write, the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.db import commit
from app.extensions import db
from app.geo import coords, haversine_m, shapes
from services_nearby import cli, importing
from services_nearby.importing import ImportFileError, import_facilities
from services_nearby.models import Facility, FacilityStatus

HEADER = ["kind", "name", "lat", "lng", "coord_sys", "address", "opening_hours", "fee",
          "accessible", "capacity", "external_id"]  # fmt: skip
WGS = (41.79, 123.40)  # WGS-84, 和平区
TAIYUAN_GCJ = (41.7930, 123.4080)  # GCJ-02 on 太原街, 和平区


def row(**values) -> dict:
    """A CSV row: a free public toilet on 太原街 (GCJ-02) unless overridden."""
    base = {"kind": "toilet", "name": "太原街公厕", "lat": TAIYUAN_GCJ[0], "lng": TAIYUAN_GCJ[1],
            "coord_sys": "gcj02", "address": "沈阳市和平区太原街1号", "opening_hours": "24/7",
            "fee": "免费", "accessible": "是", "capacity": "", "external_id": ""}  # fmt: skip
    return base | values


def write_csv(path: Path, rows: list[dict], header=HEADER, bom: bool = False) -> Path:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[r.get(h, "") for h in HEADER] for r in rows])
    return path


def facilities() -> list[Facility]:
    return list(db.session.scalars(select(Facility).order_by(Facility.id)))


def by_external_id(external_id: str, source: str = "csv") -> Facility:
    query = select(Facility).where(Facility.source == source, Facility.external_id == external_id)
    return db.session.scalars(query).one()


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Facility))


@pytest.fixture
def ready(kinds, shenyang_regions):
    """Kinds and the Shenyang regions are in place."""


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_wgs84_row_keeps_the_measured_point_and_stores_gcj02(ready, tmp_path):
    hours = "Mo-Fr 8:00-18:00；Sa,Su 09:00-17:00"  # full-width separator, hour without a zero
    rows = [row(coord_sys="wgs84", lat=WGS[0], lng=WGS[1], capacity="6", fee="2元/次",
                opening_hours=hours, external_id="T-1")]  # fmt: skip
    result = import_facilities(write_csv(tmp_path / "toilets.csv", rows))
    assert (result.total, result.created, result.updated, result.errors) == (1, 1, 0, [])
    toilet = by_external_id("T-1")
    assert (toilet.wgs_lat, toilet.wgs_lng) == WGS  # exactly what was measured
    expected = coords.convert(*WGS, coords.CoordSys.WGS84, coords.CoordSys.GCJ02)
    assert (toilet.lat, toilet.lng) == pytest.approx(expected, abs=1e-12)
    assert haversine_m(toilet.lat, toilet.lng, *WGS) > 100  # the GCJ-02 offset was applied
    assert toilet.kind.code == "toilet" and toilet.coord_sys_in == "wgs84"
    assert toilet.district_code == "210102"  # 和平区
    assert toilet.opening_hours == "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"  # normalized
    assert (toilet.fee, toilet.accessible, toilet.capacity) == ("2元/次", True, 6)
    assert toilet.status == FacilityStatus.ACTIVE and toilet.source == "csv"


def test_gcj02_row_is_stored_as_given_and_its_wgs84_round_trips(ready, tmp_path):
    import_facilities(write_csv(tmp_path / "a.csv", [row(external_id="T-1")]))
    toilet = by_external_id("T-1")
    assert (toilet.lat, toilet.lng) == TAIYUAN_GCJ
    back = coords.convert(toilet.wgs_lat, toilet.wgs_lng, coords.CoordSys.WGS84, "gcj02")
    assert haversine_m(*back, *TAIYUAN_GCJ) < 0.5
    assert haversine_m(toilet.wgs_lat, toilet.wgs_lng, *TAIYUAN_GCJ) > 100


def test_chinese_headers_kind_names_bom_and_the_coord_sys_option(ready, tmp_path):
    header = ["类型", "名称", "纬度", "经度", "地址", "无障碍", "容量"]
    path = tmp_path / "中文.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerow(["停车场", "太原街停车场", WGS[0], WGS[1], "太原街2号", "否", "120"])
        writer.writerow(["公园游园", "小游园", WGS[0] + 0.001, WGS[1], "", "", ""])
    result = import_facilities(path, coord_sys="wgs84")
    assert (result.created, result.errors) == (2, [])
    parking, park = facilities()
    assert parking.kind.code == "parking" and park.kind.code == "park"
    assert (parking.wgs_lat, parking.wgs_lng) == WGS and parking.coord_sys_in == "wgs84"
    assert (parking.accessible, parking.capacity, parking.address) == (False, 120, "太原街2号")
    assert (park.accessible, park.capacity, park.fee, park.opening_hours) == (None, None, "", "")
    assert parking.external_id.startswith("auto:") and parking.external_id != park.external_id


def test_default_kind_fills_rows_without_one(ready, tmp_path):
    path = tmp_path / "no-kind.csv"
    path.write_text(f"name,lat,lng\n北市场,{TAIYUAN_GCJ[0]},{TAIYUAN_GCJ[1]}\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="缺少列：kind"):
        import_facilities(path)
    result = import_facilities(path, default_kind="market")
    assert result.created == 1 and facilities()[0].kind.code == "market"


def test_reimport_updates_changed_rows_and_never_duplicates(ready, tmp_path):
    rows = [row(external_id="T-1"), row(external_id="T-2", lat=41.7940),
            row(name="无编号公厕", lat=41.7950),
            row(name="另一座无编号公厕", lat=41.7960)]  # fmt: skip
    first = import_facilities(write_csv(tmp_path / "a.csv", rows))
    assert (first.created, first.updated, first.unchanged) == (4, 0, 0)
    same = import_facilities(write_csv(tmp_path / "b.csv", rows))
    assert (same.created, same.updated, same.unchanged) == (0, 0, 4)
    rows[0]["name"] = "太原街公厕（新）"
    rows[1]["capacity"] = "8"
    rows[2]["fee"] = "1元/次"
    again = import_facilities(write_csv(tmp_path / "c.csv", rows))
    assert (again.created, again.updated, again.unchanged) == (0, 3, 1)
    assert count() == 4
    renamed = by_external_id("T-1")
    assert renamed.name == "太原街公厕（新）" and renamed.version == 2
    assert by_external_id("T-2").capacity == 8
    assert db.session.scalar(select(Facility.fee).where(Facility.name == "无编号公厕")) == "1元/次"


def test_reimport_keeps_status_and_columns_the_file_leaves_out(ready, tmp_path):
    import_facilities(write_csv(tmp_path / "a.csv", [row(external_id="T-1", capacity="4")]))
    toilet = by_external_id("T-1")
    toilet.status = FacilityStatus.REMOVED
    db.session.commit()
    slim = tmp_path / "slim.csv"
    slim.write_text(
        f"kind,name,lat,lng,external_id\ntoilet,新名字,{TAIYUAN_GCJ[0]},{TAIYUAN_GCJ[1]},T-1\n",
        encoding="utf-8",
    )
    result = import_facilities(slim)
    assert result.updated == 1
    toilet = by_external_id("T-1")
    assert toilet.name == "新名字" and toilet.status == FacilityStatus.REMOVED
    assert (toilet.capacity, toilet.fee, toilet.opening_hours) == (4, "免费", "24/7")


def test_row_errors_name_row_and_field_and_bad_rows_write_nothing(ready, tmp_path):
    rows = [
        row(external_id="OK-1"),
        row(external_id="BAD-LAT", lat="北纬41度"),
        row(external_id="BAD-KIND", kind="电话亭"),
        row(external_id="BAD-HOURS", opening_hours="看管理员心情"),
        row(external_id="BAD-CAP", capacity="-3"),
        row(external_id="BAD-2", lng="200", accessible="也许"),
        row(external_id="OK-2", lat=41.7940),
        row(external_id="OK-1", lat=41.7950),  # the same id again
    ]
    result = import_facilities(write_csv(tmp_path / "mixed.csv", rows))
    found = {(e.row, e.field) for e in result.errors}
    assert found == {(3, "lat"), (4, "kind"), (5, "opening_hours"), (6, "capacity"),
                     (7, "lng"), (7, "accessible"), (9, "external_id")}  # fmt: skip
    reasons = {e.field: e.reason for e in result.errors}
    assert "电话亭" in reasons["kind"] and "第 2 条" in reasons["external_id"]
    assert "营业时间格式无法识别" in reasons["opening_hours"]
    assert (result.created, result.bad_rows, result.rejected) == (2, 6, False)
    assert sorted(f.external_id for f in facilities()) == ["OK-1", "OK-2"]
    assert by_external_id("OK-1").lat == TAIYUAN_GCJ[0]  # the duplicate row did not overwrite it


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(ready, tmp_path):
    path = write_csv(tmp_path / "a.csv", [row(external_id="T-1"), row(external_id="T-2", lat="")])
    result = import_facilities(path, all_or_nothing=True)
    assert result.rejected and result.created == 0
    assert [(e.row, e.field) for e in result.errors] == [(3, "lat")]
    assert count() == 0
    good = write_csv(tmp_path / "b.csv", [row(external_id="T-1"), row(external_id="T-2")])
    result = import_facilities(good, all_or_nothing=True)
    assert (result.rejected, result.created) == (False, 2) and count() == 2


def test_unreadable_files_and_unknown_formats_are_refused_clearly(ready, tmp_path):
    (tmp_path / "data.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportFileError, match="无法识别文件"):
        import_facilities(tmp_path / "data.xls")
    (tmp_path / "u16.csv").write_bytes(  # Excel's "Unicode 文本": neither UTF-8 nor GB18030
        "类型,名称,纬度,经度\n公共厕所,公厕,41.79,123.4\n".encode("utf-16")
    )
    with pytest.raises(ImportFileError, match="无法识别文件编码.*CSV UTF-8"):
        import_facilities(tmp_path / "u16.csv")
    (tmp_path / "broken.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(ImportFileError, match="无法读取 GeoJSON"):
        import_facilities(tmp_path / "broken.geojson")
    (tmp_path / "broken.osm.pbf").write_bytes(b"garbage" * 10)
    with pytest.raises(ImportFileError, match="无法读取 OSM"):
        import_facilities(tmp_path / "broken.osm.pbf")
    with pytest.raises(ImportFileError, match="文件不存在"):
        import_facilities(tmp_path / "missing.csv")
    with pytest.raises(ImportFileError, match="不存在或已停用"):
        import_facilities(write_csv(tmp_path / "a.csv", [row()]), default_kind="ufo")


# -- GeoJSON -----------------------------------------------------------------------------------

PARK_RING = [[123.41, 41.78], [123.42, 41.78], [123.42, 41.785], [123.41, 41.79], [123.41, 41.78]]


def geojson(path: Path, features: list[dict], **members) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **members}))
    return path


def test_geojson_points_and_polygons(ready, tmp_path):
    point = {"type": "Point", "coordinates": [WGS[1], WGS[0]]}
    features = [
        {"type": "Feature", "id": "wc-1", "geometry": point,
         "properties": {"kind": "toilet", "name": "公厕一", "无障碍": "yes", "开放时间": "24/7"}},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [PARK_RING]},
         "properties": {"kind": "公园游园", "name": "三角公园", "external_id": "park-7"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": PARK_RING},
         "properties": {"kind": "park", "name": "一条线"}},
    ]  # fmt: skip
    result = import_facilities(geojson(tmp_path / "f.geojson", features))
    assert (result.created, result.source) == (2, "geojson")
    assert [(e.row, e.field) for e in result.errors] == [(3, "geometry")]
    assert result.errors[0].ref == "要素 3"
    toilet, park = by_external_id("wc-1", "geojson"), by_external_id("park-7", "geojson")
    assert (toilet.wgs_lat, toilet.wgs_lng) == WGS  # RFC 7946: WGS-84 unless declared
    assert (toilet.accessible, toilet.opening_hours, toilet.coord_sys_in) == (True, "24/7", "wgs84")
    shape = shapes.shape_from_geojson({"type": "Polygon", "coordinates": [PARK_RING]}, "wgs84")
    assert shapes.contains(shape, park.lat, park.lng)  # placed inside the polygon
    assert park.kind.code == "park" and park.coord_sys_in == "wgs84"


def test_geojson_declared_coordinate_system_wins_and_must_agree(ready, tmp_path):
    point = {"type": "Point", "coordinates": [TAIYUAN_GCJ[1], TAIYUAN_GCJ[0]]}
    features = [{"type": "Feature", "id": 5, "geometry": point,
                 "properties": {"kind": "square", "name": "太原街广场"}}]  # fmt: skip
    path = geojson(tmp_path / "gcj.json", features, coordinate_system="GCJ-02")
    assert import_facilities(path).created == 1
    square = by_external_id("5", "geojson")
    assert (square.lat, square.lng) == TAIYUAN_GCJ and square.coord_sys_in == "gcj02"
    with pytest.raises(ImportFileError, match="不一致"):
        import_facilities(path, coord_sys="wgs84")
    again = import_facilities(path, source="city-open-data")
    assert again.created == 1 and by_external_id("5", "city-open-data").name == "太原街广场"


# -- OpenStreetMap -----------------------------------------------------------------------------


def write_pbf(path: Path, park_name: str = "中山公园", parking_capacity: str = "120") -> Path:
    """A small extract: toilets, a park way, a park multipolygon, parking, and noise."""
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    writer = osmium.SimpleWriter(str(path))
    writer.add_node(Node(id=1, location=(123.4012345, 41.7901234), tags={
        "amenity": "toilets", "name": "Taiyuan St Toilet", "name:zh": "太原街公厕",
        "opening_hours": "Mo-Su 06:00-22:00", "wheelchair": "yes", "fee": "no",
        "addr:city": "沈阳市", "addr:district": "和平区", "addr:street": "太原街",
        "addr:housenumber": "1号"}))  # fmt: skip
    writer.add_node(
        Node(
            id=2,
            location=(123.4023456, 41.7912345),
            tags={"amenity": "toilets", "opening_hours": "sunrise-sunset", "wheelchair": "limited"},
        )
    )
    writer.add_node(Node(id=3, location=(123.4034567, 41.7923456), tags={
        "amenity": "parking", "name": "太原街停车场", "capacity": parking_capacity,
        "fee": "5元/小时"}))  # fmt: skip
    writer.add_node(Node(id=4, location=(123.405, 41.793)))  # untagged
    writer.add_node(Node(id=5, location=(123.406, 41.794), tags={"shop": "bakery"}))
    square = [(123.41, 41.78), (123.42, 41.78), (123.42, 41.785), (123.41, 41.785)]
    for i, location in enumerate(square, start=10):
        writer.add_node(Node(id=i, location=location))
    for i, (lng, lat) in enumerate(square, start=30):
        writer.add_node(Node(id=i, location=(lng + 0.02, lat)))
    writer.add_way(Way(id=20, nodes=[10, 11, 12, 13, 10], tags={"leisure": "park",
                                                                "name": "街心公园"}))  # fmt: skip
    writer.add_way(Way(id=40, nodes=[30, 31, 32, 33, 30]))
    writer.add_relation(Relation(id=50, members=[("w", 40, "outer")], tags={
        "type": "multipolygon", "leisure": "park", "name": park_name}))  # fmt: skip
    writer.close()
    return path


def test_osm_extract_imports_nodes_ways_and_multipolygons(ready, tmp_path):
    result = import_facilities(write_pbf(tmp_path / "city.osm.pbf"))
    assert (result.total, result.created, result.skipped, result.errors) == (5, 5, 1, [])
    assert result.source == "osm"
    got = {f.external_id: f for f in facilities()}
    assert set(got) == {"node/1", "node/2", "node/3", "way/20", "relation/50"}
    toilet = got["node/1"]
    assert toilet.kind.code == "toilet" and toilet.name == "太原街公厕"  # name:zh first
    assert (toilet.wgs_lat, toilet.wgs_lng) == (41.7901234, 123.4012345)  # kept exactly
    assert toilet.coord_sys_in == "wgs84" and toilet.district_code == "210102"
    assert (toilet.address, toilet.fee, toilet.accessible) == (
        "沈阳市和平区太原街1号",
        "免费",
        True,
    )
    assert toilet.opening_hours == "Mo-Su 06:00-22:00"
    nameless = got["node/2"]
    assert (nameless.name, nameless.opening_hours, nameless.accessible) == ("公共厕所", "", True)
    assert [w for w in result.warnings if "node/2" in w and "sunrise-sunset" in w]
    parking = got["node/3"]
    assert (parking.kind.code, parking.capacity, parking.fee) == ("parking", 120, "5元/小时")
    way_park, rel_park = got["way/20"], got["relation/50"]
    assert way_park.kind.code == rel_park.kind.code == "park"
    assert (way_park.name, rel_park.name) == ("街心公园", "中山公园")
    assert 41.78 < way_park.wgs_lat < 41.785 and 123.41 < way_park.wgs_lng < 123.42
    assert 41.78 < rel_park.wgs_lat < 41.785 and 123.43 < rel_park.wgs_lng < 123.44


def test_osm_reimport_updates_instead_of_duplicating(ready, tmp_path):
    import_facilities(write_pbf(tmp_path / "a.osm.pbf"))
    same = import_facilities(write_pbf(tmp_path / "b.osm.pbf"))
    assert (same.created, same.updated, same.unchanged) == (0, 0, 5)
    changed = import_facilities(write_pbf(tmp_path / "c.pbf", "中山公园（南门）", "150"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 2, 3)
    assert count() == 5
    assert by_external_id("relation/50", "osm").name == "中山公园（南门）"
    assert by_external_id("node/3", "osm").capacity == 150


def test_osm_kind_option_imports_only_that_kind(ready, tmp_path):
    result = import_facilities(write_pbf(tmp_path / "a.osm.pbf"), default_kind="park")
    assert (result.created, result.skipped) == (2, 4)
    assert {f.external_id for f in facilities()} == {"way/20", "relation/50"}


# -- the change sequence -----------------------------------------------------------------------


def test_every_write_carries_its_transactions_seq(ready, tmp_path, monkeypatch):
    monkeypatch.setattr(importing.run, "BATCH", 2)
    rows = [row(external_id=f"T-{i}", lat=41.7930 + i / 1000) for i in range(5)]
    import_facilities(write_csv(tmp_path / "a.csv", rows), end_batch=commit)  # as the CLI does
    seqs = [by_external_id(f"T-{i}").seq for i in range(5)]
    assert seqs[0] > 0 and seqs[0] == seqs[1] < seqs[2] == seqs[3] < seqs[4]  # one per batch
    rows[3]["name"] = "改名公厕"
    import_facilities(write_csv(tmp_path / "b.csv", rows), end_batch=commit)
    assert by_external_id("T-3").seq > seqs[4]
    assert by_external_id("T-0").seq == seqs[0]  # unchanged rows are not rewritten
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "facility.import"))
    assert [a.detail["updated"] for a in audit] == [0, 1]


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def runner(app):
    cli.register(app)
    return app.test_cli_runner()


def test_cli_import_shows_progress_and_summary(ready, runner, tmp_path):
    path = write_csv(tmp_path / "a.csv", [row(external_id="T-1"), row(external_id="T-2")])
    result = runner.invoke(args=["nearby", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "导入" in result.stderr  # the progress bar
    assert "共 2 条：新增 2，更新 0，未变 0，跳过 0，错误 0 条" in result.stdout
    again = runner.invoke(args=["nearby", "import", str(path), "--source", "城管局"])
    assert again.exit_code == 0 and "来源 城管局" in again.stdout
    assert count() == 4


def test_cli_reports_row_errors_writes_the_report_and_exits_1(ready, runner, tmp_path):
    path = write_csv(tmp_path / "a.csv", [row(external_id="T-1"), row(capacity="很多")])
    report = tmp_path / "errors.csv"
    result = runner.invoke(args=["nearby", "import", str(path), "--errors", str(report)])
    assert result.exit_code == 1
    assert "第 3 行 capacity: 应为不小于 0 的整数" in result.stderr
    assert "新增 1" in result.stdout and "错误 1 条" in result.stdout
    with open(report, encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh))[1][:3] == ["3", "", "capacity"]
    rejected = runner.invoke(args=["nearby", "import", str(path), "--all-or-nothing",
                                   "--format", "csv"])  # fmt: skip
    assert rejected.exit_code == 1 and "整个文件未导入" in rejected.stderr
    assert count() == 1


def test_cli_osm_import_and_file_errors(ready, runner, tmp_path):
    result = runner.invoke(args=["nearby", "import", str(write_pbf(tmp_path / "a.osm.pbf"))])
    assert result.exit_code == 0, result.output
    assert "警告：node/2" in result.stderr and "跳过 1" in result.stdout
    bad = tmp_path / "a.txt"
    bad.write_text("x")
    failed = runner.invoke(args=["nearby", "import", str(bad)])
    assert failed.exit_code == 1 and "无法识别文件" in failed.output


def test_cli_seed_kinds(db_session, runner):
    first = runner.invoke(args=["nearby", "seed-kinds"])
    assert first.exit_code == 0 and "已添加 8 种设施类型" in first.output
    assert "已添加 0 种" in runner.invoke(args=["nearby", "seed-kinds"]).output
