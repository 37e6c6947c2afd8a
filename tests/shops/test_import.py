"""flask shops import: CSV and XLSX, upsert by credit code, row errors, no half-written row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit import AuditLog
from app.extensions import db
from app.geo import coords, haversine_m
from reports.seed import region_by_code
from shops.importer import COLUMNS, import_shops
from shops.models import Shop, ShopCode, ShopStatus
from tests.shops.conftest import new_credit_code

HEADER = [*COLUMNS, "status"]
TAIYUAN = ("41.7930", "123.4080")  # 和平区
HUAXIANG = ("41.7700", "123.3640")  # inside the synthetic 滑翔街道, 铁西区
XIAOBEI = ("41.8120", "123.3550")  # 铁西区, outside every synthetic street


def row(name="鑫源饺子馆", industry="餐饮", code=None, point=TAIYUAN, coord_sys="gcj02", **kw):
    """A file row as text columns."""
    values = {
        "name": name, "industry": industry, "credit_code": code or new_credit_code(),
        "address": "沈阳市和平区太原街1号", "lat": point[0], "lng": point[1],
        "coord_sys": coord_sys, "owner_name": "王五", "owner_phone": "13900001111",
        "business_hours": "09:00-21:00", "status": "",
    }  # fmt: skip
    return values | kw


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def shop_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Shop))


@pytest.fixture
def ready(industries, shenyang_regions):
    """Industries and the Shenyang regions are in place."""


def test_csv_import_places_shops_and_issues_codes(ready, tmp_path):
    rows = [row(point=XIAOBEI), row(name="李记烧烤", point=HUAXIANG), row(industry="药店")]
    result = import_shops(write_csv(tmp_path / "shops.csv", rows))
    assert (result.total, result.created, result.updated, result.errors) == (3, 3, 0, [])
    shops = {s.credit_code: s for s in db.session.scalars(select(Shop))}
    first, second = shops[rows[0]["credit_code"]], shops[rows[1]["credit_code"]]
    assert first.district_code == "210106" and first.street_region_id is None
    assert second.district_code == "210106"
    assert second.street_region_id == region_by_code("210106-S01").id
    assert first.status == ShopStatus.ACTIVE and first.source == "import"
    assert [d["name"] for d in first.duties] == ["包市容整洁", "包环境卫生", "包秩序良好"]
    assert shops[rows[2]["credit_code"]].industry.code == "pharmacy"
    codes = db.session.scalar(select(func.count()).select_from(ShopCode))
    assert codes == 3  # every new shop got its plate code


def test_upsert_by_credit_code_updates_only_changed_rows(ready, tmp_path):
    rows = [row(), row()]
    import_shops(write_csv(tmp_path / "a.csv", rows))
    rows[0]["name"] = "鑫源饺子馆（新店）"
    rows[1]["status"] = "暂停营业"
    again = import_shops(write_csv(tmp_path / "b.csv", [*rows, row()]))
    assert (again.created, again.updated, again.unchanged) == (1, 2, 0)
    third = import_shops(write_csv(tmp_path / "c.csv", rows))
    assert (third.created, third.updated, third.unchanged) == (0, 0, 2)
    shop = db.session.scalar(select(Shop).where(Shop.credit_code == rows[0]["credit_code"]))
    assert shop.name == "鑫源饺子馆（新店）" and shop.version == 2
    other = db.session.scalar(select(Shop).where(Shop.credit_code == rows[1]["credit_code"]))
    assert other.status == ShopStatus.SUSPENDED
    assert shop_count() == 3


def test_bad_rows_are_reported_and_never_written(ready, tmp_path):
    good = row()
    dup = row(code=good["credit_code"], name="重复的店")
    bad_check = row(
        code=good["credit_code"][:17] + ("0" if good["credit_code"][17] != "0" else "1")
    )
    rows = [
        good,
        row(industry="不存在的行业", name=""),
        bad_check,
        row(point=("39.9087", "116.3975")),  # Beijing
        row(owner_phone="12345"),
        dup,
        row(coord_sys="mercator", point=("abc", "123.4")),
    ]
    result = import_shops(write_csv(tmp_path / "bad.csv", rows))
    found = {(e.row, e.field) for e in result.errors}
    assert found == {
        (3, "name"), (3, "industry"), (4, "credit_code"), (5, "lat"), (6, "owner_phone"),
        (7, "credit_code"), (8, "coord_sys"), (8, "lat"),
    }  # fmt: skip
    reasons = {(e.row, e.field): e.reason for e in result.errors}
    assert "校验位错误" in reasons[(4, "credit_code")]
    assert "第 2 行" in reasons[(7, "credit_code")]
    assert "不在本市" in reasons[(5, "lat")]
    assert (result.created, result.bad_rows) == (1, 6)
    assert [s.name for s in db.session.scalars(select(Shop))] == [good["name"]]


def test_a_bad_update_row_leaves_the_shop_untouched(ready, tmp_path, make_shop):
    shop = make_shop(name="旧名字")
    result = import_shops(
        write_csv(tmp_path / "u.csv", [row(code=shop.credit_code, name="新名字", lat="")])
    )
    assert [(e.field, e.row) for e in result.errors] == [("lat", 2)]
    db.session.expire_all()
    assert db.session.get(Shop, shop.id).name == "旧名字"


def test_all_or_nothing_rejects_the_file(ready, tmp_path):
    result = import_shops(
        write_csv(tmp_path / "x.csv", [row(), row(owner_name="")]), all_or_nothing=True
    )
    assert result.rejected and result.bad_rows == 1
    assert shop_count() == 0


def test_wgs84_input_is_stored_in_gcj02(ready, tmp_path):
    wgs = (41.7920, 123.4030)
    import_shops(
        write_csv(tmp_path / "w.csv", [row(point=tuple(map(str, wgs)), coord_sys="WGS-84")])
    )
    shop = db.session.scalar(select(Shop))
    expected = coords.convert(*wgs, "wgs84", "gcj02")
    assert (shop.lat, shop.lng) == pytest.approx(expected, abs=1e-9)
    assert shop.coord_sys_in == "wgs84"
    assert haversine_m(*wgs, shop.lat, shop.lng) > 300  # really moved by the GCJ-02 offset


def test_xlsx_import_reads_numeric_cells(ready, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    code = new_credit_code()
    sheet.append(["佳佳便利店", "convenience", code, "沈阳市和平区中华路8号", 41.793, 123.408,
                  "gcj02", "赵六", 13712345678, "00:00-24:00", "active"])  # fmt: skip
    sheet.append([None] * len(HEADER))  # blank rows are skipped
    sheet.append(["坏行", "convenience", "123", "地址", 41.793, 123.408, "gcj02", "钱七",
                  13712345678, "", ""])  # fmt: skip
    workbook.save(tmp_path / "shops.xlsx")
    result = import_shops(tmp_path / "shops.xlsx")
    assert result.created == 1
    assert [(e.row, e.field) for e in result.errors] == [(4, "credit_code")]
    shop = db.session.scalar(select(Shop).where(Shop.credit_code == code))
    assert shop.owner_phone == "13712345678" and shop.district_code == "210102"


def test_cli_prints_errors_writes_report_and_audits(ready, tmp_path, app):
    path = write_csv(tmp_path / "cli.csv", [row(), row(owner_phone="")])
    report = tmp_path / "errors.csv"
    result = app.test_cli_runner().invoke(
        args=["shops", "import", str(path), "--errors", str(report)]
    )
    assert result.exit_code == 1
    assert "第 3 行 owner_phone" in result.output
    assert "新增 1" in result.output
    with open(report, encoding="utf-8-sig") as fh:
        assert list(csv.reader(fh)) == [
            ["row", "field", "reason"],
            ["3", "owner_phone", "不是有效的手机或固定电话号码"],
        ]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "shop.import"))
    assert entry.detail["created"] == 1 and entry.actor_label == "cli"


def test_cli_all_or_nothing_and_missing_columns(ready, tmp_path, app):
    runner = app.test_cli_runner()
    path = write_csv(tmp_path / "x.csv", [row(), row(name="")])
    result = runner.invoke(args=["shops", "import", str(path), "--all-or-nothing"])
    assert result.exit_code == 1 and "整个文件未导入" in result.output
    assert shop_count() == 0
    broken = tmp_path / "broken.csv"
    broken.write_text("name,industry\n店,餐饮\n", encoding="utf-8")
    result = runner.invoke(args=["shops", "import", str(broken)])
    assert result.exit_code == 1 and "缺少列" in result.output
