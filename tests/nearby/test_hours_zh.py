"""Opening hours typed the way staff type them, in Chinese, are understood and stored in the OSM
form; what cannot be understood is still refused with the parser's Chinese message."""

from __future__ import annotations

from datetime import datetime

import pytest

from services_nearby.hours import HoursError, parse
from tests.nearby.test_staff_api import as_admin, city, create  # noqa: F401 - fixtures


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("每天6:00-22:00", "06:00-22:00"),
        ("周一至周五 8:00-18:00", "Mo-Fr 08:00-18:00"),
        ("全天开放", "24/7"),
        ("24小时开放", "24/7"),
        ("全年无休 全天开放", "24/7"),
        ("早8点到晚10点", "08:00-22:00"),
        ("每天早上6点半至晚上9点", "06:30-21:00"),
        ("周一至周五 8:00-18:00，周六周日 9:00-17:00", "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"),
        ("周六、周日 9点-17点", "Sa,Su 09:00-17:00"),
        ("工作日8:30-17:30，法定节假日休息", "Mo-Fr 08:30-17:30; PH off"),
        ("周二至周日 9:00-17:00，周一闭馆", "Tu-Su 09:00-17:00; Mo off"),
        ("周一至周五 8:00-12:00、14:00-18:00；周末休息",
         "Mo-Fr 08:00-12:00,14:00-18:00; Sa,Su off"),
        ("5月1日至10月31日 6:00-21:00，11月至4月 7:00-18:00",
         "May 01-Oct 31 06:00-21:00; Nov-Apr 07:00-18:00"),
        ("暂停开放", "off"),
        ("星期一到星期五全天开放", "Mo-Fr 00:00-24:00"),
        ("Mo-Fr 08:00-18:00; PH off", "Mo-Fr 08:00-18:00; PH off"),  # OSM stays as it is
    ],
)  # fmt: skip
def test_what_staff_type_is_stored_in_the_osm_form(typed, stored):
    assert parse(typed).text == stored


def test_the_meaning_is_kept_not_just_the_text():
    hours = parse("周二至周日 9:00-17:00，周一闭馆")
    assert hours.is_open(datetime(2026, 12, 1, 10, 0))  # a Tuesday
    assert not hours.is_open(datetime(2026, 11, 30, 10, 0))  # a Monday
    assert parse("早8点到晚10点").is_open(datetime(2026, 12, 1, 21, 59))


@pytest.mark.parametrize("typed", ["看心情", "夏季5月-10月 5:00-22:00", "周八 9:00-17:00"])
def test_what_cannot_be_understood_is_refused_in_chinese(typed):
    with pytest.raises(HoursError) as caught:
        parse(typed)
    assert str(caught.value).startswith("营业时间格式无法识别")


def test_a_facility_typed_in_chinese_is_stored_in_the_osm_form(client, city, as_admin):  # noqa: F811
    resp = create(client, as_admin, opening_hours="周一至周五 8:00-18:00，周六周日 9:00-17:00")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["opening_hours"] == "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"
    bad = create(client, as_admin, opening_hours="看心情")
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"]["opening_hours"][0].startswith("营业时间格式无法识别")
