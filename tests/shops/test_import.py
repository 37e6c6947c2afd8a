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
from shops.importer import COLUMNS, HEADERS, OPTIONAL, import_shops
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


def write_csv(
    path: Path,
    rows: list[dict],
    encoding: str = "utf-8-sig",
    header: list[str] = HEADER,
    names: dict[str, str] | None = None,
) -> Path:
    """The rows as a CSV file with the ``header`` columns, under ``names`` (Chinese, say)."""
    names = names or {}
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([names.get(c, c) for c in header])
        writer.writerows([r[c] for c in header] for r in rows)
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
    assert result.exit_code == 3  # partial: the good row is in, the bad one refused
    assert "第 3 行 owner_phone（联系电话）: 不是有效的手机或固定电话号码" in result.output
    assert "部分导入：1 行已导入，1 行有错误未导入" in result.output
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


# -- what Excel on Chinese Windows writes: GBK files, Chinese headers, fewer columns -----------

CHINESE = {c: names[0] for c, names in HEADERS.items()}


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=["shops", "import", *args])


def test_cli_reads_a_gbk_file_with_chinese_headers(ready, tmp_path, app):
    """Excel's "CSV (逗号分隔)" on Chinese Windows: GBK, no BOM, headers as the user typed them."""
    rows = [row(name="鑫源饺子馆", owner_name="王五"), row(name="李记烧烤", industry="药店")]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk", names=CHINESE)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    result = invoke(app, str(path))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "共 2 行：新增 2" in result.output
    shops = {s.name: s for s in db.session.scalars(select(Shop))}
    assert set(shops) == {"鑫源饺子馆", "李记烧烤"}
    first = shops["鑫源饺子馆"]
    assert (first.owner_name, first.district_code) == ("王五", "210102")
    assert shops["李记烧烤"].industry.code == "pharmacy"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(ready, tmp_path, encoding):
    path = write_csv(tmp_path / "e.csv", [row(name="𠮷野家（沈阳店）")], encoding=encoding)
    assert import_shops(path).created == 1
    assert db.session.scalar(select(Shop.name)) == "𠮷野家（沈阳店）"


def test_cli_refuses_an_unreadable_encoding_with_a_clear_message(ready, tmp_path, app):
    """UTF-16 (Excel's "Unicode 文本") is neither UTF-8 nor GB18030: a message, no traceback."""
    path = write_csv(tmp_path / "u16.csv", [row()], encoding="utf-16")
    result = invoke(app, str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "无法识别文件编码" in result.output and "CSV UTF-8" in result.output
    assert shop_count() == 0


@pytest.mark.parametrize("alias", range(5))
def test_every_column_has_chinese_names(ready, tmp_path, alias):
    """Each column under each of its Chinese names (the n-th, or its last if it has fewer), in
    another order than the English template."""
    names = {c: aliases[min(alias, len(aliases) - 1)] for c, aliases in HEADERS.items()}
    header = list(reversed(HEADER))
    good = row(status="暂停营业", business_hours="08:00-20:00")
    result = import_shops(write_csv(tmp_path / "zh.csv", [good], header=header, names=names))
    assert (result.created, result.errors) == (1, [])
    shop = db.session.scalar(select(Shop))
    assert (shop.name, shop.credit_code, shop.owner_phone, shop.business_hours, shop.status) == (
        good["name"], good["credit_code"], good["owner_phone"], "08:00-20:00",
        ShopStatus.SUSPENDED,
    )  # fmt: skip


def test_missing_required_columns_are_named_in_both_languages(ready, tmp_path, app):
    path = tmp_path / "few.csv"
    path.write_text("名称,行业,地址\n店,餐饮,沈阳市\n", encoding="utf-8")
    result = invoke(app, str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "缺少列：credit_code（统一社会信用代码）、lat（纬度）、lng（经度）" in result.output
    assert "owner_phone（联系电话）" in result.output


def test_a_column_given_twice_is_refused(ready, tmp_path, app):
    path = write_csv(tmp_path / "twice.csv", [row() | {"x": "另一个名字"}],
                     header=[*HEADER, "x"], names={"x": "店铺名称"})  # fmt: skip
    result = invoke(app, str(path))
    assert result.exit_code == 1 and "列重复：name（名称）" in result.output


def test_optional_columns_may_be_left_out(ready, tmp_path, make_shop):
    """No coord_sys, business_hours or status column: new shops get the defaults, and shops
    already registered keep their business hours and status."""
    required = [c for c in HEADER if c not in OPTIONAL]
    assert required == ["name", "industry", "credit_code", "address", "lat", "lng",
                        "owner_name", "owner_phone"]  # fmt: skip
    known = make_shop(business_hours="07:00-19:00", status=ShopStatus.SUSPENDED)
    rows = [row(name="新店"), row(name="改名的店", code=known.credit_code)]
    result = import_shops(write_csv(tmp_path / "min.csv", rows, header=required))
    assert (result.created, result.updated, result.errors) == (1, 1, [])
    db.session.expire_all()
    new = db.session.scalar(select(Shop).where(Shop.name == "新店"))
    assert (new.status, new.business_hours, new.coord_sys_in) == (ShopStatus.ACTIVE, "", "gcj02")
    updated = db.session.get(Shop, known.id)
    assert (updated.name, updated.business_hours, updated.status) == (
        "改名的店", "07:00-19:00", ShopStatus.SUSPENDED,
    )  # fmt: skip


def test_exit_status_tells_success_partial_and_failure(ready, tmp_path, app):
    ok = invoke(app, str(write_csv(tmp_path / "ok.csv", [row(), row()])))
    assert ok.exit_code == 0 and "共 2 行：新增 2" in ok.output
    partial = invoke(app, str(write_csv(tmp_path / "part.csv", [row(), row(lat="x")])))
    assert partial.exit_code == 3 and "部分导入" in partial.output
    assert shop_count() == 3  # the good row of the partial file is committed
    all_bad = invoke(app, str(write_csv(tmp_path / "bad.csv", [row(lat="x"), row(name="")])))
    assert all_bad.exit_code == 1 and "没有导入任何店铺" in all_bad.output
    refused = invoke(
        app, str(write_csv(tmp_path / "aon.csv", [row(), row(lat="x")])), "--all-or-nothing"
    )
    assert refused.exit_code == 1 and "整个文件未导入" in refused.output
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    unreadable = invoke(app, str(broken))
    assert unreadable.exit_code == 1 and "无法读取 Excel 文件" in unreadable.output
    assert invoke(app, str(tmp_path / "missing.csv")).exit_code == 2  # click: no such file
    assert shop_count() == 3


def test_help_documents_columns_names_and_exit_status(app):
    text = invoke(app, "--help").output
    for column, names in HEADERS.items():
        assert column in text and all(name in text for name in names), column
    assert "Optional columns" in text and "GBK/GB18030" in text
    for status in ("0  every row imported", "1  nothing imported", "2  usage error",
                   "3  partial import"):  # fmt: skip
        assert status in text
