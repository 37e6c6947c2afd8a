"""reports/data/categories.csv: the GB/T 30428.2 部件/事件 classes plus the city's own, as data.

What a dispatcher and the blind test-set writer rely on: codes that never change meaning, a
definition on every row that points to real neighbours, standard codes that are well formed,
and a department in the demo city for every subcategory.
"""

from __future__ import annotations

import csv
import re
from collections import Counter

import pytest
from sqlalchemy import select

from app.extensions import db
from app.geo import regions
from reports import reference
from reports.models import Category
from reports.seed import CATEGORIES_CSV, DEMO_POINTS, seed_categories

# The subcategories before the standard's classes were loaded (code -> name): cases, tests and
# reports/data/labelled_reports.csv refer to them, so each keeps its code, name and class.
ORIGINAL_CATEGORIES = {
    "BJ0101": "上水井盖", "BJ0102": "污水井盖", "BJ0103": "雨水井盖", "BJ0104": "雨水箅子",
    "BJ0105": "电力井盖", "BJ0106": "通信井盖", "BJ0107": "燃气井盖", "BJ0108": "消防栓",
    "BJ0109": "路灯", "BJ0201": "公交站亭", "BJ0202": "交通护栏", "BJ0203": "交通标志牌",
    "BJ0204": "路名牌", "BJ0205": "人行道板", "BJ0301": "公共厕所", "BJ0302": "果皮箱",
    "BJ0303": "垃圾桶", "BJ0304": "广告牌匾设施", "BJ0401": "行道树", "BJ0402": "绿地设施",
    "BJ0403": "花坛花箱", "BJ0404": "护树设施", "BJ0601": "健身器材", "BJ0602": "宣传栏",
    "SJ0101": "私搭乱建", "SJ0102": "暴露垃圾", "SJ0103": "积存垃圾渣土", "SJ0104": "道路不洁",
    "SJ0105": "绿地脏乱", "SJ0106": "废弃车辆", "SJ0107": "乱涂乱画", "SJ0108": "堵塞消防通道",
    "SJ0201": "非法小广告", "SJ0202": "违章张贴悬挂广告牌匾", "SJ0203": "占道广告牌",
    "SJ0204": "街头散发广告", "SJ0301": "施工扰民", "SJ0302": "工地扬尘", "SJ0303": "施工占道",
    "SJ0304": "无证掘路", "SJ0305": "渣土车辆遗撒", "SJ0401": "路面塌陷", "SJ0402": "自来水管破裂",
    "SJ0403": "燃气管道破裂", "SJ0404": "下水道堵塞或破损", "SJ0405": "道路积水",
    "SJ0406": "道路积雪结冰", "SJ0501": "无照经营游商", "SJ0502": "店外经营",
    "SJ0503": "机动车乱停放", "SJ0504": "非机动车乱停放", "SJ0505": "乱堆物料",
    "SJ0506": "露天烧烤", "SJ0507": "沿街晾挂", "SJ0508": "噪声扰民", "SJ0601": "违法建设",
    "SJ0602": "餐饮油烟污染", "SJ0603": "门前三包不落实", "SJ0604": "商户卫生脏乱",
    "SJ0605": "商户设施破损", "SJ0699": "其他事件",
}  # fmt: skip
OTHER = "SJ0699"
# The major classes of GB/T 30428.2 (事件 06 is named 其他 here since the first release).
MAJORS = {
    "部件": {"01": "公用设施", "02": "道路交通", "03": "市容环境", "04": "园林绿化",
             "05": "房屋土地", "06": "其他设施"},
    "事件": {"01": "市容环境", "02": "宣传广告", "03": "施工管理", "04": "突发事件",
             "05": "街面秩序", "06": "其他"},
}  # fmt: skip
PREFIX = {"部件": "BJ", "事件": "SJ"}
# 报“名称” in a definition: the neighbour a report of that kind belongs to instead.
NEIGHBOUR = re.compile(r"“([^”]+)”")


def rows() -> list[dict[str, str]]:
    with CATEGORIES_CSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_codes_and_names_are_unique():
    data = rows()
    assert len(data) >= 140  # the standard's classes, not only the first 61
    codes = Counter(r["code"] for r in data)
    names = Counter(r["name"] for r in data)
    assert [c for c, n in codes.items() if n > 1] == []
    assert [c for c, n in names.items() if n > 1] == []  # a citizen picks by name


def test_every_original_subcategory_keeps_its_code_name_and_class():
    by_code = {r["code"]: r for r in rows()}
    for code, name in ORIGINAL_CATEGORIES.items():
        row = by_code.get(code)
        assert row is not None, code
        assert row["name"] == name, code
        assert (row["major_code"], row["minor_code"]) == (code[2:4], code[4:6]), code
    assert by_code[OTHER]["name"] == "其他事件"


def test_kind_major_and_minor_agree_with_the_code():
    for row in rows():
        kind = row["kind"]
        assert kind in MAJORS, row["code"]
        assert re.fullmatch(r"\d{2}", row["minor_code"]), row["code"]
        assert row["code"] == PREFIX[kind] + row["major_code"] + row["minor_code"]
        assert row["major_name"] == MAJORS[kind][row["major_code"]], row["code"]


def test_gb_codes_are_four_digits_in_a_standard_major_and_unique_per_kind():
    used: Counter[tuple[str, str]] = Counter()
    for row in rows():
        gb = row["gb_code"]
        if not gb:
            continue
        assert re.fullmatch(r"\d{4}", gb), row["code"]
        assert gb[:2] in MAJORS[row["kind"]], row["code"]
        used[(row["kind"], gb)] += 1
    # 部件 0101 (上水井盖) and 事件 0101 (私搭乱建) are different classes: unique within a kind.
    assert [key for key, n in used.items() if n > 1] == []
    assert len(used) > 120  # most rows are the standard's own classes
    # the city's own subcategories carry no standard code
    own = {r["code"] for r in rows() if not r["gb_code"]}
    assert {"SJ0603", "SJ0604", "SJ0605", "SJ0108"} <= own


def test_every_row_has_a_definition_that_names_real_neighbours():
    data = rows()
    names = {r["name"] for r in data}
    for row in data:
        definition = row["definition"]
        assert 20 <= len(definition) <= 300, row["code"]
        assert "\n" not in definition and definition.endswith("。"), row["code"]
        if row["code"] == OTHER:
            continue
        neighbours = set(re.findall(r"报" + NEIGHBOUR.pattern, definition))
        neighbours |= set(re.findall(r"或" + NEIGHBOUR.pattern, definition)) & names
        assert neighbours, f"{row['code']} says nothing about what does not belong"
        assert neighbours <= names - {row["name"]}, (row["code"], neighbours - names)


def test_time_limits_photo_and_shop_flags_are_well_formed():
    for row in rows():
        assert row["time_unit"] in ("hours", "days"), row["code"]
        limit = int(row["time_limit"])
        assert 1 <= limit <= (8 if row["time_unit"] == "hours" else 20), row["code"]
        assert row["photo_required"] in ("0", "1") and row["shop_related"] in ("0", "1")


@pytest.mark.parametrize("point", ["xiaobei_yilu", "nan_huaxiang_lu"])
def test_the_demo_city_can_dispatch_every_subcategory(demo_city, point):
    """A report of any subcategory at a demo point reaches a department that handles it."""
    where = DEMO_POINTS[point]
    region = regions.locate(where.lat, where.lng)
    unrouted = []
    for row in rows():
        category = reference.category_by_code(row["code"])
        assert category is not None, row["code"]
        dept = reference.responsible_department(region, category.department_type)
        if dept is None or category.department_type not in dept.handled_types:
            unrouted.append(row["code"])
    assert unrouted == []


def test_seeding_loads_standard_codes_and_definitions(db_session):
    seed_categories()
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    assert cover.gb_code == "0103" and "雨水箅子" in cover.definition
    own = db.session.scalar(select(Category).where(Category.code == "SJ0603"))
    assert own.gb_code is None and own.definition  # empty in the file: the city's own
    cable = db.session.scalar(select(Category).where(Category.code == "BJ0106"))
    assert cable.name == "通信井盖" and cable.gb_code == "0107"  # our code, the standard's class


def test_keep_existing_fills_new_columns_but_keeps_admin_edits(db_session):
    """Rows seeded before gb_code/definition existed get them; an admin's values stay."""
    seed_categories()
    cover = db.session.scalar(select(Category).where(Category.code == "BJ0103"))
    lamp = db.session.scalar(select(Category).where(Category.code == "BJ0109"))
    cover.gb_code = cover.definition = None  # as a pre-0011 row
    lamp.definition, lamp.time_limit = "本市路灯由区城管局维护。", 7  # an admin's edits
    db.session.flush()
    counts = seed_categories(keep_existing=True)
    assert counts["updated"] == 1 and counts["created"] == 0
    assert cover.gb_code == "0103" and "雨水箅子" in cover.definition
    assert lamp.definition == "本市路灯由区城管局维护。" and lamp.time_limit == 7
    assert seed_categories(keep_existing=True)["updated"] == 0
    assert seed_categories()["updated"] == 1  # a plain seed restores the file's values
    assert lamp.definition != "本市路灯由区城管局维护。" and lamp.time_limit == 3
