"""Tests of opening hours (services_nearby.hours). 2026-11-23 is a Monday."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services_nearby.hours import HoursError, Schedule, compiled, parse

MON = date(2026, 11, 23)


def at(day: date, hhmm: str) -> datetime:
    """A naive Shanghai wall-clock time on ``day``."""
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute)


def weekday(offset: int) -> date:
    """The day ``offset`` days after Monday 2026-11-23 (0 = Mo ... 6 = Su)."""
    return MON + timedelta(days=offset)


def opened(text: str, day: date, hhmm: str) -> bool | None:
    return parse(text).is_open(at(day, hhmm))


# -- whole-day forms ---------------------------------------------------------------------------


def test_24_7_is_always_open() -> None:
    schedule = parse("24/7")
    assert schedule.known and schedule.text == "24/7" and schedule.label == "全天开放"
    for hhmm in ("00:00", "03:17", "12:00", "23:59"):
        assert schedule.is_open(at(MON, hhmm)) is True
        assert schedule.is_open(at(date(2026, 12, 31), hhmm)) is True


@pytest.mark.parametrize("text", ["off", "closed", "OFF", " Closed "])
def test_off_alone_is_closed_for_good(text: str) -> None:
    schedule = parse(text)
    assert schedule.known and schedule.text == "off" and schedule.label == "暂停开放"
    assert schedule.is_open(at(MON, "12:00")) is False
    assert schedule.is_open(at(date(2027, 7, 1), "00:00")) is False


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_blank_is_unknown(text: str) -> None:
    schedule = parse(text)
    assert isinstance(schedule, Schedule)
    assert not schedule.known and schedule.text == "" and schedule.label == "营业时间未知"
    assert schedule.is_open(at(MON, "12:00")) is None
    assert schedule.is_open(datetime(2026, 11, 23, 4, 0, tzinfo=UTC)) is None


def test_whole_day_range_and_24_end() -> None:
    assert parse("00:00-24:00").label == "全天开放"
    assert opened("00:00-24:00", MON, "00:00") and opened("00:00-24:00", MON, "23:59")
    assert opened("18:00-24:00", MON, "23:59") is True
    assert opened("18:00-24:00", weekday(1), "00:00") is False  # 24:00 is not a spill


# -- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hhmm", "expected"),
    [("05:59", False), ("06:00", True), ("13:00", True), ("21:59", True), ("22:00", False)],
)
def test_daily_range_boundaries(hhmm: str, expected: bool) -> None:
    assert opened("06:00-22:00", MON, hhmm) is expected
    assert opened("06:00-22:00", weekday(6), hhmm) is expected  # no weekdays: every day


@pytest.mark.parametrize(
    ("hhmm", "expected"),
    [("07:59", False), ("08:00", True), ("11:59", True), ("12:00", False), ("13:30", False)]
    + [("14:00", True), ("17:59", True), ("18:00", False)],
)
def test_several_ranges_in_one_rule(hhmm: str, expected: bool) -> None:
    assert opened("08:00-12:00,14:00-18:00", weekday(2), hhmm) is expected


def test_single_digit_hours_are_normalized() -> None:
    schedule = parse("8:00-9:30")
    assert schedule.text == "08:00-09:30"
    assert schedule.is_open(at(MON, "09:29")) and not schedule.is_open(at(MON, "09:30"))


# -- weekdays -----------------------------------------------------------------------------------


def test_weekday_ranges_and_lists() -> None:
    text = "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"
    for offset in range(5):
        assert opened(text, weekday(offset), "08:30") is True
        assert opened(text, weekday(offset), "17:30") is True
    for offset in (5, 6):
        assert opened(text, weekday(offset), "08:30") is False
        assert opened(text, weekday(offset), "16:59") is True
        assert opened(text, weekday(offset), "17:30") is False


def test_weekday_list_of_single_days() -> None:
    text = "Mo,We,Fr 10:00-11:00"
    assert [opened(text, weekday(i), "10:30") for i in range(7)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        False,
    ]


def test_wrapping_weekday_range() -> None:
    text = "Fr-Mo 10:00-20:00"
    assert [opened(text, weekday(i), "12:00") for i in range(7)] == [
        True,
        False,
        False,
        False,
        True,
        True,
        True,
    ]


def test_mo_su_is_every_day() -> None:
    assert all(opened("Mo-Su 07:00-08:00", weekday(i), "07:30") for i in range(7))
    assert parse("Mo-Su 07:00-08:00").label == "每天 07:00-08:00"


# -- overnight ----------------------------------------------------------------------------------


def test_overnight_belongs_to_its_start_day() -> None:
    text = "Mo 22:00-02:00"
    assert opened(text, MON, "21:59") is False
    assert opened(text, MON, "22:00") is True
    assert opened(text, MON, "23:59") is True
    assert opened(text, weekday(1), "00:00") is True  # Tuesday, Monday's spill
    assert opened(text, weekday(1), "01:59") is True
    assert opened(text, weekday(1), "02:00") is False
    assert opened(text, MON, "01:00") is False  # Sunday has no rule
    assert opened(text, weekday(1), "23:00") is False


def test_overnight_spill_sunday_to_monday() -> None:
    text = "Mo-Fr 09:00-17:00; Su 20:00-03:00"
    assert opened(text, weekday(6), "23:00") is True
    assert opened(text, MON, "02:59") is True
    assert opened(text, MON, "03:00") is False
    assert opened(text, MON, "09:00") is True
    assert opened(text, weekday(5), "01:00") is False  # Friday has no spill


def test_overnight_spill_across_the_year_end() -> None:
    text = "Dec 31 20:00-04:00"
    assert opened(text, date(2025, 12, 31), "23:00") is True
    assert opened(text, date(2026, 1, 1), "03:59") is True
    assert opened(text, date(2026, 1, 1), "04:00") is False
    assert opened(text, date(2026, 1, 1), "21:00") is False
    assert opened(text, date(2026, 12, 31), "03:00") is False  # Dec 30 has no rule


def test_overnight_spill_across_month_and_season_boundaries() -> None:
    text = "Apr-Oct 18:00-02:00; Nov-Mar 18:00-22:00"
    assert opened(text, date(2026, 10, 31), "23:00") is True
    assert opened(text, date(2026, 11, 1), "01:00") is True  # October 31's spill
    assert opened(text, date(2026, 11, 1), "23:00") is False
    assert opened(text, date(2026, 11, 2), "01:00") is False
    assert opened(text, date(2026, 3, 31), "23:00") is False
    assert opened(text, date(2026, 4, 1), "01:00") is False  # March 31 closes at 22:00
    assert opened(text, date(2026, 4, 1), "23:00") is True
    assert opened(text, date(2026, 4, 2), "01:00") is True


@pytest.mark.parametrize("year", [2027, 2028])  # 2028 is a leap year
def test_overnight_spill_from_the_end_of_february(year: int) -> None:
    text = "Feb 20:00-02:00"
    assert opened(text, date(year, 3, 1), "01:00") is True
    assert opened(text, date(year, 3, 2), "01:00") is False
    assert opened(text, date(year, 2, 1), "01:00") is False  # January has no rule


def test_overnight_that_wraps_to_a_full_day() -> None:
    schedule = parse("08:00-08:00")  # 24 hours from 08:00
    assert schedule.is_open(at(MON, "07:59")) is True
    assert schedule.is_open(at(MON, "08:00")) is True


# -- months and dates ---------------------------------------------------------------------------


def test_seasonal_switch_at_month_boundaries() -> None:
    text = "Apr-Oct Mo-Su 06:00-21:00; Nov-Mar 07:00-18:00"
    assert opened(text, date(2026, 10, 31), "20:30") is True
    assert opened(text, date(2026, 11, 1), "20:30") is False
    assert opened(text, date(2026, 11, 1), "06:30") is False
    assert opened(text, date(2026, 11, 1), "07:00") is True
    assert opened(text, date(2027, 1, 15), "17:59") is True  # Nov-Mar wraps the year end
    assert opened(text, date(2026, 3, 31), "06:30") is False
    assert opened(text, date(2026, 4, 1), "06:30") is True
    assert opened(text, date(2026, 4, 1), "20:59") is True


def test_single_month_and_month_list() -> None:
    text = "Jan,Jul-Aug 08:00-10:00"
    assert opened(text, date(2026, 1, 31), "09:00") is True
    assert opened(text, date(2026, 2, 1), "09:00") is False
    assert opened(text, date(2026, 7, 1), "09:00") is True
    assert opened(text, date(2026, 8, 31), "09:00") is True
    assert opened(text, date(2026, 9, 1), "09:00") is False


def test_month_with_weekdays() -> None:
    text = "Jun-Aug Sa,Su 08:00-20:00"
    assert opened(text, date(2026, 6, 6), "10:00") is True  # a Saturday
    assert opened(text, date(2026, 6, 8), "10:00") is False  # a Monday
    assert opened(text, date(2026, 9, 5), "10:00") is False  # a Saturday in September


def test_date_ranges() -> None:
    text = "May 01-Oct 31 06:00-21:00; Nov 01-Apr 30 07:00-18:00"
    assert opened(text, date(2026, 4, 30), "06:30") is False
    assert opened(text, date(2026, 5, 1), "06:30") is True
    assert opened(text, date(2026, 10, 31), "20:00") is True
    assert opened(text, date(2026, 11, 1), "20:00") is False
    assert opened(text, date(2027, 2, 10), "12:00") is True


def test_date_range_wrapping_the_year_end_and_single_dates() -> None:
    text = "Mo-Su 08:00-18:00; Dec 20-Jan 10 10:00-16:00; Dec 25 off"
    assert opened(text, date(2026, 12, 19), "09:00") is True
    assert opened(text, date(2026, 12, 20), "09:00") is False
    assert opened(text, date(2026, 12, 20), "10:00") is True
    assert opened(text, date(2026, 12, 25), "12:00") is False
    assert opened(text, date(2027, 1, 10), "09:00") is False
    assert opened(text, date(2027, 1, 11), "09:00") is True


def test_date_range_within_a_month() -> None:
    schedule = parse("Oct 01-07 off; 09:00-17:00")  # the later rule applies every day
    assert schedule.text == "Oct 01-07 off; 09:00-17:00"
    assert schedule.is_open(at(date(2026, 10, 3), "10:00")) is True
    schedule = parse("09:00-17:00; Oct 01-07 off")
    assert schedule.is_open(at(date(2026, 10, 3), "10:00")) is False
    assert schedule.is_open(at(date(2026, 10, 8), "10:00")) is True


# -- overriding ---------------------------------------------------------------------------------


def test_off_after_selectors_closes_those_days() -> None:
    text = "Mo-Su 08:00-18:00; Tu off"
    assert opened(text, MON, "10:00") is True
    assert opened(text, weekday(1), "10:00") is False
    assert opened(text, weekday(2), "10:00") is True


def test_later_rule_replaces_earlier_times_on_its_days() -> None:
    text = "Mo-Fr 08:00-18:00; Fr 08:00-12:00"
    assert opened(text, weekday(3), "14:00") is True
    assert opened(text, weekday(4), "14:00") is False
    assert opened(text, weekday(4), "11:00") is True


def test_later_rule_replaces_an_overnight_range_on_its_start_day() -> None:
    text = "22:00-02:00; Sa 10:00-12:00"
    assert opened(text, weekday(5), "01:00") is True  # Friday's spill
    assert opened(text, weekday(5), "23:00") is False
    assert opened(text, weekday(6), "01:00") is False  # Saturday has no spill
    assert opened(text, weekday(6), "23:00") is True


def test_spill_survives_a_later_rule_for_the_next_day() -> None:
    text = "Mo 22:00-02:00; Tu off"
    assert opened(text, weekday(1), "01:00") is True
    assert opened(text, weekday(1), "03:00") is False


def test_later_rule_without_selectors_applies_every_day() -> None:
    schedule = parse("Mo-Fr 08:00-18:00; off")
    assert schedule.label == "暂停开放"
    assert schedule.is_open(at(MON, "10:00")) is False


# -- public holidays ----------------------------------------------------------------------------


def national_day(day: date) -> bool:
    return date(2026, 10, 1) <= day <= date(2026, 10, 7)


def test_ph_off_closes_on_holidays_only_when_told_which_they_are() -> None:
    schedule = parse("Mo-Fr 08:00-18:00; PH off")
    thursday = date(2026, 10, 1)
    assert schedule.is_open(at(thursday, "10:00"), holidays=national_day) is False
    assert schedule.is_open(at(date(2026, 10, 8), "10:00"), holidays=national_day) is True
    assert schedule.is_open(at(thursday, "10:00")) is True  # no calendar: PH is ignored


def test_ph_with_times() -> None:
    schedule = parse("Mo-Su 08:00-18:00; PH 09:00-12:00")
    assert schedule.is_open(at(date(2026, 10, 3), "08:30"), holidays=national_day) is False
    assert schedule.is_open(at(date(2026, 10, 3), "11:00"), holidays=national_day) is True
    assert schedule.is_open(at(date(2026, 10, 3), "14:00"), holidays=national_day) is False
    assert schedule.is_open(at(date(2026, 10, 3), "14:00")) is True


def test_ph_in_a_weekday_list() -> None:
    schedule = parse("Su,PH 10:00-12:00")
    assert schedule.is_open(at(date(2026, 10, 1), "11:00"), holidays=national_day) is True
    assert schedule.is_open(at(date(2026, 10, 1), "11:00")) is False
    assert schedule.is_open(at(weekday(6), "11:00"), holidays=national_day) is True
    assert schedule.is_open(at(MON, "11:00"), holidays=national_day) is False


def test_ph_overnight_spills_into_the_next_day() -> None:
    schedule = parse("PH 20:00-02:00")
    assert schedule.is_open(at(date(2026, 10, 8), "01:00"), holidays=national_day) is True
    assert schedule.is_open(at(date(2026, 10, 9), "01:00"), holidays=national_day) is False


# -- time zones ---------------------------------------------------------------------------------


def test_aware_utc_is_converted_to_shanghai() -> None:
    schedule = parse("Mo 23:00-23:45")
    assert schedule.is_open(datetime(2026, 11, 23, 15, 30, tzinfo=UTC)) is True  # 23:30 Mo
    assert schedule.is_open(datetime(2026, 11, 23, 23, 30, tzinfo=UTC)) is False  # 07:30 Tu
    assert schedule.is_open(datetime(2026, 11, 23, 23, 30)) is True  # naive: Shanghai


def test_aware_datetimes_in_other_zones() -> None:
    tokyo = timezone(timedelta(hours=9))
    schedule = parse("Mo-Fr 08:00-18:00")
    assert schedule.is_open(datetime(2026, 11, 23, 9, 30, tzinfo=tokyo)) is True  # 08:30
    assert schedule.is_open(datetime(2026, 11, 23, 8, 30, tzinfo=tokyo)) is False  # 07:30
    # Sunday 23:00 UTC is Monday 07:00 in Shanghai; Monday 00:30 Shanghai is Sunday 16:30 UTC.
    assert parse("Mo 06:00-08:00").is_open(datetime(2026, 11, 22, 23, 0, tzinfo=UTC)) is True
    assert parse("Su 22:00-01:00").is_open(datetime(2026, 11, 22, 16, 30, tzinfo=UTC)) is True


# -- text, labels and punctuation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("24/7", "全天开放"),
        ("off", "暂停开放"),
        ("", "营业时间未知"),
        ("06:00-22:00", "每天 06:00-22:00"),
        ("Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00", "周一至周五 08:00-18:00；周六、周日 09:00-17:00"),
        (
            "Apr-Oct Mo-Su 06:00-21:00; Nov-Mar 07:00-18:00",
            "4月-10月 每天 06:00-21:00；11月-3月 每天 07:00-18:00",
        ),
        ("Mo-Su 08:00-18:00; Tu off", "周一、周三至周日 08:00-18:00；周二 不开放"),
        ("08:00-12:00,14:00-18:00", "每天 08:00-12:00、14:00-18:00"),
        ("22:00-02:00", "每天 22:00-次日02:00"),
        ("Mo-Fr 00:00-24:00; Sa,Su 08:00-18:00", "周一至周五 全天开放；周六、周日 08:00-18:00"),
        ("Mo-Fr 08:00-18:00", "周一至周五 08:00-18:00；周六、周日 不开放"),
        ("Mo-Su 08:00-18:00; Dec 25 off", "每天 08:00-18:00；12月25日 不开放"),
        ("Mar-Nov 08:00-18:00", "3月-11月 每天 08:00-18:00；12月-2月 不开放"),
        ("24/7; PH off", "每天 全天开放；法定节假日 不开放"),
        ("Su,PH 10:00-12:00", "周日 10:00-12:00；周一至周六 不开放；法定节假日 10:00-12:00"),
    ],
)
def test_labels(text: str, label: str) -> None:
    assert parse(text).label == label


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Mo-Fr 08:00-18:00；Sa，Su 09:00-17:00", "Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00"),
        ("Mo－Fr 08：00～18：00", "Mo-Fr 08:00-18:00"),
        ("Mo~Fr 08:00~18:00", "Mo-Fr 08:00-18:00"),
        ("Mo—Fr 08:00—18:00", "Mo-Fr 08:00-18:00"),
        (
            "mo－fr ０８：００～１８：００；sa，su 09:00—12:00",
            "Mo-Fr 08:00-18:00; Sa,Su 09:00-12:00",
        ),
        ("  Mo - Fr   08:00 - 12:00 , 14:00 - 18:00 ; ", "Mo-Fr 08:00-12:00,14:00-18:00"),
        ("Mo-Fr: 08:00-18:00", "Mo-Fr 08:00-18:00"),
        ("apr-OCT 06:00-21:00", "Apr-Oct 06:00-21:00"),
        ("may 1-oct 31 06:00-21:00", "May 01-Oct 31 06:00-21:00"),
        ("Mo-Su 08:00-18:00; tu CLOSED", "Mo-Su 08:00-18:00; Tu off"),
        ("Sa、Su 09:00-12:00", "Sa,Su 09:00-12:00"),
        ("su,ph 10:00-12:00", "Su,PH 10:00-12:00"),
    ],
)
def test_text_is_normalized(text: str, normalized: str) -> None:
    schedule = parse(text)
    assert schedule.text == normalized
    assert parse(schedule.text).text == normalized


def test_full_width_punctuation_is_understood() -> None:
    schedule = parse("Mo－Fr 08：00－12：00，14：00～18：00；Sa 09:00—12:00")
    assert schedule.is_open(at(MON, "15:00")) is True
    assert schedule.is_open(at(MON, "13:00")) is False
    assert schedule.is_open(at(weekday(5), "11:00")) is True
    assert schedule.is_open(at(weekday(6), "11:00")) is False


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("25:00-26:00", "25:00"),
        ("Mo-Xx 08:00-10:00", "Xx"),
        ("sunrise-sunset", "sunrise"),
        ("08:00", "08:00"),
        ("24:00-02:00", "24:00"),
        ("08:60-09:00", "08:60"),
        ("Mo-Fr", "Mo-Fr"),
        ("Mo-Fr 08:00-18:00 Sa 09:00-12:00", "Sa"),
        ("Feb 30 off", "Feb 30"),
        ("Apr-Mo 08:00-10:00", "Mo"),
        ("week 01-10 08:00-10:00", "week"),
        ('Mo-Fr 08:00-18:00 "by appointment"', "by appointment"),
        ("Mo-Fr 08:00-18:00 || off", "||"),
        ("18:00+", "+"),
        ("Mo[1] 08:00-10:00", "["),
        ("周八 08:00-18:00", "周八"),  # Chinese is understood (test_hours_zh), nonsense is not
        ("SH off", "SH"),
        ("Mo-Fr 24/7", "24/7"),
        ("08:00-", "规则不完整"),
        (";", ";"),
    ],
)
def test_bad_syntax_raises_a_chinese_message(text: str, part: str) -> None:
    with pytest.raises(HoursError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith("营业时间格式无法识别：")
    assert part in message
    assert isinstance(caught.value, ValueError)


def test_error_names_the_rule_when_there_are_several() -> None:
    with pytest.raises(HoursError, match="第 2 条规则“Sa 25:00-26:00”"):
        parse("Mo-Fr 08:00-18:00; Sa 25:00-26:00")


def test_too_long_text_is_refused() -> None:
    with pytest.raises(HoursError, match="过长"):
        parse("; ".join(["Mo 08:00-09:00"] * 30))


# -- the cache ----------------------------------------------------------------------------------


def test_compiled_is_cached_and_never_raises() -> None:
    assert compiled("Mo-Fr 08:00-18:00") is compiled("Mo-Fr 08:00-18:00")
    assert compiled("Mo-Fr 08:00-18:00").is_open(at(MON, "09:00")) is True
    bad = compiled("sunrise-sunset")
    assert not bad.known and bad.is_open(at(MON, "09:00")) is None
    assert compiled("").is_open(at(MON, "09:00")) is None


def test_is_open_is_fast() -> None:
    texts = ["Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00", "Apr-Oct 18:00-02:00; Nov-Mar 07:00-18:00"]
    moments = [datetime(2026, 11, 23, 15, 30, tzinfo=UTC), datetime(2026, 12, 1, 1, 0)]
    rounds = 20_000
    started = clock.perf_counter()
    for _ in range(rounds):
        for text in texts:
            for moment in moments:
                compiled(text).is_open(moment)
    each = (clock.perf_counter() - started) / (rounds * len(texts) * len(moments))
    assert each < 20e-6  # about 1 microsecond on a laptop; generous for slow CI machines


# -- properties ---------------------------------------------------------------------------------

CODES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MONTH_CODES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def cyclic(first: int, last: int, size: int) -> set[int]:
    """first..last inclusive, going round a cycle of ``size``."""
    days = {first}
    while first != last:
        first = (first + 1) % size
        days.add(first)
    return days


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def selector(draw: st.DrawFn, names: tuple[str, ...]) -> tuple[str, set[int] | None]:
    """A selector over ``names`` (text, chosen indexes) or ("", None) for none."""
    items = draw(
        st.lists(
            st.tuples(st.integers(0, len(names) - 1), st.integers(0, len(names) - 1)),
            max_size=2,
        )
    )
    chosen: set[int] = set()
    parts = []
    for first, last in items:
        if first == last:
            parts.append(names[first])
        else:
            parts.append(f"{names[first]}-{names[last]}")
        chosen |= cyclic(first, last, len(names))
    return (",".join(parts), chosen) if parts else ("", None)


@st.composite
def times(draw: st.DrawFn, overnight: bool) -> tuple[str, list[tuple[int, int]]]:
    """An ``off`` or a list of time ranges (text, [(start, end)] with end > DAY overnight)."""
    if draw(st.integers(0, 5)) == 0:
        return "off", []
    spans = []
    for _ in range(draw(st.integers(1, 2))):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(0, 1440) if overnight else st.integers(start + 1, 1440))
        spans.append((start, end if end > start else end + 1440))
    text = ",".join(
        f"{hhmm(start)}-{hhmm(end if end <= 1440 else end - 1440)}" for start, end in spans
    )
    return text, spans


Rule = tuple[set[int] | None, set[int] | None, list[tuple[int, int]]]


@st.composite
def rule_sets(draw: st.DrawFn, seasons: bool) -> tuple[str, list[Rule]]:
    texts, rules = [], []
    for _ in range(draw(st.integers(1, 4))):
        months_text, months = draw(selector(MONTH_CODES)) if seasons else ("", None)
        days_text, days = draw(selector(CODES))
        spans_text, spans = draw(times(overnight=seasons))
        texts.append(" ".join(part for part in (months_text, days_text, spans_text) if part))
        rules.append((months, days, spans))
    return "; ".join(texts), rules


def reference(rules: list[Rule], moment: datetime) -> bool:
    """Straight from the definition: the last rule selecting a day gives its ranges; a range
    running past midnight is checked on the previous day."""

    def effective(day: date) -> list[tuple[int, int]]:
        chosen: list[tuple[int, int]] = []
        for months, days, spans in rules:
            if (months is None or day.month - 1 in months) and (
                days is None or day.weekday() in days
            ):
                chosen = spans
        return chosen

    minute = moment.hour * 60 + moment.minute
    today = any(start <= minute < end for start, end in effective(moment.date()))
    yesterday = effective(moment.date() - timedelta(days=1))
    return today or any(minute + 1440 < end for _, end in yesterday)


moments = st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(rule_sets(seasons=False), moments)
def test_weekday_rules_agree_with_a_reference(
    rules: tuple[str, list[Rule]], moment: datetime
) -> None:
    text, parsed = rules
    assert parse(text).is_open(moment) is reference(parsed, moment)


@settings(max_examples=300, deadline=None)
@given(rule_sets(seasons=True), moments)
def test_seasonal_overnight_rules_agree_with_a_reference(
    rules: tuple[str, list[Rule]], moment: datetime
) -> None:
    text, parsed = rules
    schedule = parse(text)
    assert schedule.is_open(moment) is reference(parsed, moment)
    # A PH rule with no holidays takes the other lookup path (by date); it must agree.
    with_ph = parse(f"{text}; PH 00:00-00:01")
    assert with_ph.is_open(moment, holidays=lambda day: False) is reference(parsed, moment)
