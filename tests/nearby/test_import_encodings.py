"""Facility CSV files as Excel saves them on Chinese Windows: "CSV（逗号分隔）" is GBK, "CSV
UTF-8（逗号分隔）" is UTF-8 with a byte-order mark. Both import, Chinese headers and all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from services_nearby.importing import import_facilities
from services_nearby.models import Facility

# Chinese headers, and names with characters every encoding here can hold (GBK has no 𠮷).
LINES = [
    ["类型", "名称", "纬度", "经度", "坐标系", "地址", "开放时间", "收费", "编号"],
    ["公共厕所", "太原街公厕", "41.7930", "123.4080", "gcj02", "沈阳市和平区太原街1号", "24/7",
     "免费", "HP-001"],
    ["公共厕所", "中街步行街公厕", "41.8010", "123.4630", "gcj02", "沈阳市沈河区中街路", "",
     "收费1元", "SH-002"],
]  # fmt: skip


@pytest.fixture
def ready(kinds, shenyang_regions):
    """Kinds and the Shenyang regions are in place."""


def write(path, encoding: str):
    text = "\r\n".join(",".join(cells) for cells in LINES) + "\r\n"  # Excel ends lines with CRLF
    path.write_bytes(text.encode(encoding))
    return path


def stored() -> dict[str, Facility]:
    return {f.external_id: f for f in db.session.scalars(select(Facility))}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_excel_encodings_imports_with_chinese_headers(ready, tmp_path, encoding):
    path = write(tmp_path / "厕所.csv", encoding)
    if encoding.startswith("gb"):
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # really not UTF-8
    result = import_facilities(path)
    assert (result.total, result.created, result.errors) == (2, 2, [])
    rows = stored()
    assert rows["HP-001"].name == "太原街公厕"
    assert rows["HP-001"].address == "沈阳市和平区太原街1号"
    assert (rows["SH-002"].name, rows["SH-002"].fee) == ("中街步行街公厕", "收费1元")


def test_cli_imports_a_gbk_file(ready, app, tmp_path):
    path = write(tmp_path / "toilets.csv", "gbk")
    result = app.test_cli_runner().invoke(args=["nearby", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert set(stored()) == {"HP-001", "SH-002"}


def test_cli_refuses_utf16_with_a_clear_message(ready, app, tmp_path):
    path = write(tmp_path / "u16.csv", "utf-16")
    result = app.test_cli_runner().invoke(args=["nearby", "import", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "无法识别文件编码" in result.output and "CSV UTF-8" in result.output
    assert stored() == {}
