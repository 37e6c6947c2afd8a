"""Region import: GeoJSON -> regions in GCJ-02, all or nothing, upsert by code."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.extensions import db
from app.geo import coords, regions, shapes
from app.geo.importer import ImportOptions, RegionImportFailed, import_regions
from app.geo.models import Region
from reports.seed import CATEGORIES_CSV

# A small square in 铁西区 given in WGS-84 (lng, lat), as a GPS survey would deliver it.
SQUARE_WGS = [(123.340, 41.800), (123.350, 41.800), (123.350, 41.808), (123.340, 41.808)]


def feature(code, name, ring, **props):
    closed = [list(p) for p in ring] + [list(ring[0])]
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": [closed]},
    }


def collection(*features, **extra):
    return {"type": "FeatureCollection", **extra, "features": list(features)}


def shifted(ring, dlng=0.0, dlat=0.0):
    return [(x + dlng, y + dlat) for x, y in ring]


def region(code: str) -> Region | None:
    return db.session.scalar(select(Region).where(Region.code == code))


def count_regions() -> int:
    return db.session.scalar(select(func.count()).select_from(Region))


STREET = ImportOptions(level="street", coord_sys="wgs84", code_prop="code", source="survey 2026")


def test_wgs84_polygons_are_stored_in_gcj02(db_session):
    result = import_regions(collection(feature("G1", "测试网格", SQUARE_WGS)), STREET)
    assert result.created == ["G1"] and result.updated == []
    row = region("G1")
    assert (row.level, row.source_coord_sys, row.source) == ("street", "wgs84", "survey 2026")
    stored = row.geometry["coordinates"][0][0]
    for (lng, lat), (glng, glat) in zip(SQUARE_WGS, stored, strict=False):
        want_lat, want_lng = coords.convert(lat, lng, "wgs84", "gcj02")
        assert glat == pytest.approx(want_lat, abs=1e-6)
        assert glng == pytest.approx(want_lng, abs=1e-6)
        assert abs(glng - lng) > 1e-3  # the GCJ-02 offset in Shenyang is several hundred metres
    assert row.min_lat == pytest.approx(min(p[1] for p in stored))
    assert row.area_m2 == pytest.approx(shapes.shape_from_geojson(row.geometry).area_m2, rel=1e-4)
    assert 500_000 < row.area_m2 < 1_000_000  # about 830 m x 890 m


def test_the_converted_polygon_contains_the_converted_point(db_session):
    import_regions(collection(feature("G1", "测试网格", SQUARE_WGS)), STREET)
    # The centre as a phone reports it in WGS-84, converted like a report's location is.
    lat, lng = coords.convert(41.804, 123.345, "wgs84", "gcj02")
    found = regions.locate(lat, lng)
    assert found is not None and found.code == "G1"


def test_one_bad_feature_rejects_the_whole_file(db_session):
    bad_ring = {
        "type": "Feature",
        "properties": {"code": "G3", "name": "坏网格"},
        "geometry": {"type": "Polygon", "coordinates": [[[123.3, 41.8], [123.31, 41.8]]]},
    }
    no_code = feature("", "无编码", shifted(SQUARE_WGS, dlat=0.02))
    fc = collection(
        feature("G1", "网格一", SQUARE_WGS),
        feature("G2", "网格二", shifted(SQUARE_WGS, dlng=0.02)),
        bad_ring,
        no_code,
        feature("G1", "重复", shifted(SQUARE_WGS, dlng=0.04)),
    )
    with pytest.raises(RegionImportFailed) as caught:
        import_regions(fc, STREET)
    errors = {e.index: e for e in caught.value.errors}
    assert sorted(errors) == [2, 3, 4]
    assert errors[2].code == "G3" and "几何图形无效" in errors[2].reason
    assert "缺少区域编码" in errors[3].reason
    assert "重复" in errors[4].reason
    assert caught.value.status == 422
    assert set(caught.value.fields["features"]) == {"2", "3", "4"}
    assert count_regions() == 0


def test_reimport_updates_by_code_and_keeps_admin_choices(db_session, make_department):
    dept = make_department("SY-GRID", "网格中心")
    import_regions(
        collection(feature("G1", "旧名", SQUARE_WGS, dept="SY-GRID")),
        ImportOptions(**{**STREET.__dict__, "department_prop": "dept"}),
    )
    row = region("G1")
    row.is_active = False
    db.session.flush()
    again = import_regions(
        collection(feature("G1", "新名", shifted(SQUARE_WGS, dlat=0.001))), STREET
    )
    assert again.updated == ["G1"] and count_regions() == 1
    assert row.name == "新名" and row.department_id == dept.id and row.is_active is False


def test_parents_from_the_file_or_the_table(db_session):
    big = [(123.30, 41.78), (123.40, 41.78), (123.40, 41.83), (123.30, 41.83)]
    fc = collection(
        feature("D1", "区", big),
        feature("S1", "街道", SQUARE_WGS, parent="D1"),
    )
    import_regions(
        fc, ImportOptions(level="street", coord_sys="wgs84", code_prop="code", parent_prop="parent")
    )
    assert region("S1").parent_id == region("D1").id
    more = collection(feature("S2", "街道二", shifted(SQUARE_WGS, dlng=0.02)))
    import_regions(
        more, ImportOptions(level="street", coord_sys="wgs84", code_prop="code", parent_code="D1")
    )
    assert region("S2").parent_id == region("D1").id


def test_unknown_parent_department_and_cycles_are_row_errors(db_session):
    big = [(123.30, 41.78), (123.40, 41.78), (123.40, 41.83), (123.30, 41.83)]
    fc = collection(
        feature("A", "甲", big, parent="B"),
        feature("B", "乙", SQUARE_WGS, parent="A"),
        feature("C", "丙", shifted(SQUARE_WGS, dlng=0.02), parent="NOPE"),
        feature("D", "丁", shifted(SQUARE_WGS, dlng=0.04), dept="NO-DEPT"),
    )
    options = ImportOptions(
        level="grid",
        coord_sys="wgs84",
        code_prop="code",
        parent_prop="parent",
        department_prop="dept",
    )
    with pytest.raises(RegionImportFailed) as caught:
        import_regions(fc, options)
    reasons = {e.index: e.reason for e in caught.value.errors}
    assert "循环" in reasons[0] and "循环" in reasons[1]
    assert "NOPE" in reasons[2] and "NO-DEPT" in reasons[3]
    assert count_regions() == 0


def test_a_file_declaring_another_coordinate_system_is_refused(db_session):
    fc = collection(feature("G1", "网格", SQUARE_WGS), coordinate_system="GCJ-02")
    with pytest.raises(Exception) as caught:
        import_regions(fc, STREET)
    assert caught.value.status == 422 and "coord_sys" in caught.value.fields


def test_cli_import_regions(app, tmp_path):
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(collection(feature("G9", "网格九", SQUARE_WGS))), encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "reports",
            "import-regions",
            str(path),
            "--level",
            "grid",
            "--coord-sys",
            "wgs84",
            "--code-prop",
            "code",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created 1" in result.output
    assert region("G9").level == "grid"
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "region.import"))
    assert audit.actor_label == "cli"


def test_cli_import_regions_reports_every_bad_feature(app, tmp_path):
    fc = collection(feature("G1", "", SQUARE_WGS), feature("G2", "好的", shifted(SQUARE_WGS, 0.02)))
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["reports", "import-regions", str(path), "--level", "grid", "--code-prop", "code"]
    )
    assert result.exit_code == 2
    assert "第 0 个要素（G1）" in result.output and "缺少区域名称" in result.output
    assert count_regions() == 0


def test_cli_seed_reference(app):
    with CATEGORIES_CSV.open(encoding="utf-8", newline="") as fh:
        rows = len(list(csv.DictReader(fh)))
    result = app.test_cli_runner().invoke(args=["reports", "seed-reference"])
    assert result.exit_code == 0, result.output
    assert f"categories: created {rows}," in result.output
    again = app.test_cli_runner().invoke(args=["reports", "seed-reference", "--keep-existing"])
    assert f"categories: created 0, updated 0, unchanged {rows}" in again.output
