"""Tests of the working calendar (reports.calendar)."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.calendar import (
    DEFAULT_PERIODS,
    HOLIDAYS_CSV,
    CalendarData,
    WorkCalendar,
    default_calendar,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def local(moment: datetime) -> datetime:
    """An aware datetime as naive Shanghai wall-clock time (asserts the input is UTC)."""
    assert moment.utcoffset() == timedelta(0)
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return default_calendar()


# -- data -------------------------------------------------------------------------------------


def test_csv_has_spring_festival_2026() -> None:
    data = CalendarData.from_csv(HOLIDAYS_CSV)
    spring = {date(2026, 2, 15) + timedelta(days=i) for i in range(9)}
    assert spring <= data.holidays
    assert date(2026, 2, 14) in data.makeup_workdays
    assert date(2026, 2, 28) in data.makeup_workdays
    assert data.names[date(2026, 2, 16)] == "春节"
    assert data.years == {2025, 2026}


def test_csv_counts_match_notices() -> None:
    data = CalendarData.from_csv()
    by_year = {y: sum(1 for d in data.makeup_workdays if d.year == y) for y in (2025, 2026)}
    assert by_year == {2025: 5, 2026: 6}
    assert all(d.weekday() >= 5 for d in data.makeup_workdays)
    assert date(2025, 1, 1) in data.holidays and date(2025, 10, 8) in data.holidays


def test_from_rows_accepts_mappings_tuples_and_objects() -> None:
    data = CalendarData.from_rows(
        [
            {"date": "2026-10-01", "kind": "holiday", "name": "国庆节"},
            ("2026-10-10", "workday"),
            SimpleNamespace(date=date(2026, 10, 2), kind="holiday", name="国庆节"),
        ]
    )
    assert data.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert data.makeup_workdays == {date(2026, 10, 10)}
    assert data.calendar().is_working_day(date(2026, 10, 10))


@pytest.mark.parametrize(
    "rows",
    [
        [("2026-10-01", "vacation", "")],
        [("2026-10-10", "holiday", ""), ("2026-10-10", "workday", "")],
        [("2026-10-09", "workday", "")],  # a Friday is already a working day
        [("not-a-date", "holiday", "")],
    ],
)
def test_from_rows_rejects_bad_rows(rows: list[tuple[str, str, str]]) -> None:
    with pytest.raises(ValueError):
        CalendarData.from_rows(rows)


def test_from_csv_skips_comments(tmp_path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("# source, with commas\ndate,kind,name\n\n2026-01-01,holiday,元旦\n", "utf-8")
    assert CalendarData.from_csv(path).holidays == {date(2026, 1, 1)}


# -- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(9), time(9)),),
        ((time(13), time(17)), (time(8), time(12))),
        ((time(8), time(12)), (time(11), time(17))),
        ((time(8, tzinfo=UTC), time(12)),),
    ],
)
def test_invalid_periods_rejected(periods) -> None:
    with pytest.raises(ValueError):
        WorkCalendar(set(), set(), periods=periods)


def test_holiday_and_makeup_clash_rejected() -> None:
    with pytest.raises(ValueError):
        WorkCalendar({date(2026, 2, 14)}, {date(2026, 2, 14)})


def test_custom_periods() -> None:
    cal = WorkCalendar(set(), set(), periods=((time(9), time(17)),))
    assert cal.day_length == timedelta(hours=8)
    assert local(cal.add_working_hours(sh(2026, 3, 6, 16), 2)) == datetime(2026, 3, 9, 10)


# -- working days -----------------------------------------------------------------------------


def test_working_days(cal: WorkCalendar) -> None:
    assert cal.is_working_day(date(2026, 3, 9))  # Monday
    assert not cal.is_working_day(date(2026, 3, 7))  # Saturday
    assert not cal.is_working_day(date(2026, 3, 8))  # Sunday
    assert not cal.is_working_day(date(2026, 10, 1))  # National Day, a Thursday
    assert cal.is_working_day(date(2026, 2, 14))  # make-up Saturday
    assert cal.is_working_day(date(2026, 9, 20))  # make-up Sunday


def test_is_working_day_uses_local_date_of_datetimes(cal: WorkCalendar) -> None:
    # 2026-02-13 20:00 UTC is Saturday 2026-02-14 04:00 in Shanghai, a make-up working day.
    assert cal.is_working_day(datetime(2026, 2, 13, 20, tzinfo=UTC))
    assert not cal.is_working_time(datetime(2026, 2, 13, 20, tzinfo=UTC))
    assert cal.is_working_time(sh(2026, 2, 14, 9))
    assert not cal.is_working_time(sh(2026, 3, 9, 12))  # period ends are exclusive


def test_working_days_between_matches_day_by_day(cal: WorkCalendar) -> None:
    first, stop = date(2024, 12, 25), date(2027, 1, 10)
    expected = sum(
        cal.is_working_day(first + timedelta(days=i)) for i in range((stop - first).days)
    )
    assert cal.working_days_between(first, stop) == expected
    assert cal.working_days_between(stop, first) == 0


# -- working hours ----------------------------------------------------------------------------


def test_friday_afternoon_plus_four_hours_is_monday_morning(cal: WorkCalendar) -> None:
    # 16:00-17:30 on Friday is 1.5 h; the other 2.5 h run from Monday 08:30 to 11:00.
    assert local(cal.add_working_hours(sh(2026, 3, 6, 16), 4)) == datetime(2026, 3, 9, 11)
    # 10:30 on Monday is reached when the Friday afternoon period ends at 18:00.
    late = WorkCalendar(set(), set(), periods=((time(8, 30), time(12)), (time(13, 30), time(18))))
    assert local(late.add_working_hours(sh(2026, 3, 6, 16), 4)) == datetime(2026, 3, 9, 10, 30)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (datetime(2026, 3, 9, 12, 30), 2, datetime(2026, 3, 9, 15, 30)),  # lunch break
        (datetime(2026, 3, 9, 12, 0), 1, datetime(2026, 3, 9, 14, 30)),  # end of the morning
        (datetime(2026, 3, 9, 7, 0), 1, datetime(2026, 3, 9, 9, 30)),  # before 08:30
        (datetime(2026, 3, 9, 18, 0), 1, datetime(2026, 3, 10, 9, 30)),  # after 17:30
        (datetime(2026, 3, 7, 10, 0), 2, datetime(2026, 3, 9, 10, 30)),  # Saturday
        (datetime(2026, 3, 9, 11, 0), 2, datetime(2026, 3, 9, 14, 30)),  # across lunch
        (datetime(2026, 3, 9, 8, 30), 3.5, datetime(2026, 3, 9, 12, 0)),  # ends at period end
        (datetime(2026, 3, 9, 8, 30), 7.5, datetime(2026, 3, 9, 17, 30)),  # a whole day
        (datetime(2026, 3, 9, 12, 30), 0, datetime(2026, 3, 9, 13, 30)),  # zero: next start
        (datetime(2026, 3, 9, 10, 15), 0, datetime(2026, 3, 9, 10, 15)),  # zero: itself
    ],
)
def test_add_working_hours(
    cal: WorkCalendar, start: datetime, hours: float, expected: datetime
) -> None:
    aware = start.replace(tzinfo=SHANGHAI).astimezone(UTC)
    assert local(cal.add_working_hours(aware, hours)) == expected


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    # Friday 13 Feb 16:00: the make-up Saturday 14 Feb is a working day.
    assert local(cal.add_working_hours(sh(2026, 2, 13, 16), 4)) == datetime(2026, 2, 14, 11)
    # Saturday 14 Feb 16:00: the holiday runs 15-23 Feb, work resumes Tuesday 24 Feb.
    assert local(cal.add_working_hours(sh(2026, 2, 14, 16), 4)) == datetime(2026, 2, 24, 11)
    assert cal.working_seconds_between(sh(2026, 2, 14, 17, 30), sh(2026, 2, 24, 8, 30)) == 0
    # 2 working days from Friday 10:00: Saturday 14 Feb, then Tuesday 24 Feb.
    assert local(cal.add_working_days(sh(2026, 2, 13, 10), 2)) == datetime(2026, 2, 24, 10)


def test_long_holiday_stretch_is_jumped_quickly() -> None:
    off = {date(2026, 1, 1) + timedelta(days=i) for i in range(365)}
    cal = WorkCalendar(off, set())
    started = clock.perf_counter()
    due = cal.add_working_hours(sh(2026, 1, 1, 9), 1)
    assert clock.perf_counter() - started < 0.05
    assert local(due) == datetime(2027, 1, 1, 9, 30)


# -- working days semantics -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (datetime(2026, 3, 10, 10), 3, datetime(2026, 3, 13, 10)),  # same clock time
        (datetime(2026, 3, 12, 10), 2, datetime(2026, 3, 16, 10)),  # over a weekend
        (datetime(2026, 4, 2, 10), 2, datetime(2026, 4, 7, 10)),  # over Qingming (4-6 April)
        (datetime(2026, 3, 13, 19), 1, datetime(2026, 3, 16, 17, 30)),  # after hours
        (datetime(2026, 3, 16, 7), 1, datetime(2026, 3, 16, 17, 30)),  # before hours
        (datetime(2026, 3, 16, 12, 30), 1, datetime(2026, 3, 17, 12)),  # lunch break
        (datetime(2026, 3, 16, 14), 0, datetime(2026, 3, 16, 14)),
        # 20 working days over the Mid-Autumn and National Day holidays and 3 make-up days.
        (datetime(2026, 9, 14, 10), 20, datetime(2026, 10, 16, 10)),
    ],
)
def test_add_working_days(
    cal: WorkCalendar, start: datetime, days: int, expected: datetime
) -> None:
    aware = start.replace(tzinfo=SHANGHAI).astimezone(UTC)
    due = cal.add_working_days(aware, days)
    assert local(due) == expected
    assert due == cal.add_working_hours(aware, days * 7.5)
    assert cal.working_seconds_between(aware, due) == days * 27000


def test_due_at(cal: WorkCalendar) -> None:
    start = sh(2026, 3, 6, 16)
    assert cal.due_at(start, 4, "hours") == cal.add_working_hours(start, 4)
    assert cal.due_at(start, 20, "days") == cal.add_working_days(start, 20)
    assert cal.due_at(start, 2.0, "days") == cal.add_working_days(start, 2)
    with pytest.raises(ValueError):
        cal.due_at(start, 4, "minutes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cal.due_at(start, 1.5, "days")


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_bad_hours_rejected(cal: WorkCalendar, hours: float) -> None:
    with pytest.raises(ValueError):
        cal.add_working_hours(sh(2026, 3, 9, 9), hours)


@pytest.mark.parametrize("days", [-1, 1.5, True])
def test_bad_days_rejected(cal: WorkCalendar, days) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(sh(2026, 3, 9, 9), days)


# -- time zones -------------------------------------------------------------------------------


def test_utc_in_and_out(cal: WorkCalendar) -> None:
    eleven_local = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
    assert cal.is_working_time(eleven_local)
    due = cal.add_working_hours(eleven_local, 2)  # 11:00-12:00, 13:30-14:30 local
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    # Friday 16:00 Shanghai is 08:00 UTC; Monday 11:00 Shanghai is 03:00 UTC.
    friday = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
    assert cal.add_working_hours(friday, 4) == datetime(2026, 3, 9, 3, 0, tzinfo=UTC)


def test_other_timezones_accepted(cal: WorkCalendar) -> None:
    tokyo = datetime(2026, 3, 9, 12, 0, tzinfo=timezone(timedelta(hours=9)))  # 11:00 Shanghai
    assert cal.add_working_hours(tokyo, 1) == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 12:00


def test_naive_datetimes_rejected(cal: WorkCalendar) -> None:
    naive = datetime(2026, 3, 9, 10)
    aware = sh(2026, 3, 9, 10)
    calls = [
        lambda: cal.add_working_hours(naive, 1),
        lambda: cal.add_working_days(naive, 1),
        lambda: cal.due_at(naive, 1, "hours"),
        lambda: cal.working_seconds_between(naive, aware),
        lambda: cal.working_seconds_between(aware, naive),
        lambda: cal.is_working_time(naive),
        lambda: cal.is_working_day(naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="naive"):
            call()


# -- working_seconds_between ------------------------------------------------------------------


def test_working_seconds_between(cal: WorkCalendar) -> None:
    assert cal.working_seconds_between(sh(2026, 3, 9, 8, 30), sh(2026, 3, 9, 17, 30)) == 27000
    assert cal.working_seconds_between(sh(2026, 3, 9, 11), sh(2026, 3, 9, 14)) == 5400
    assert cal.working_seconds_between(sh(2026, 3, 6, 16), sh(2026, 3, 9, 11)) == 14400
    assert cal.working_seconds_between(sh(2026, 3, 9, 14), sh(2026, 3, 9, 11)) == -5400
    assert cal.working_seconds_between(sh(2026, 3, 7, 9), sh(2026, 3, 8, 18)) == 0
    # A week with the whole Spring Festival: Mon 9 to Mon 16 Feb; 14 Feb is a make-up day.
    week = cal.working_seconds_between(sh(2026, 2, 9), sh(2026, 2, 16))
    assert week == 6 * 27000


starts = st.datetimes(
    min_value=datetime(2024, 12, 1), max_value=datetime(2027, 1, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(start=starts, hours=st.floats(min_value=0, max_value=300, allow_nan=False))
def test_seconds_between_inverts_add_working_hours(start: datetime, hours: float) -> None:
    cal = default_calendar()
    due = cal.add_working_hours(start, hours)
    assert due >= start
    assert abs(cal.working_seconds_between(start, due) - hours * 3600) <= 1
    if hours >= 1:  # the due time is the earliest such instant
        assert cal.working_seconds_between(start, due - timedelta(seconds=1)) < hours * 3600


@settings(max_examples=200, deadline=None)
@given(start=starts, days=st.integers(min_value=0, max_value=40))
def test_add_working_days_equals_full_days_of_hours(start: datetime, days: int) -> None:
    cal = default_calendar()
    due = cal.add_working_days(start, days)
    assert due == cal.add_working_hours(start, days * 7.5)
    assert cal.working_seconds_between(start, due) == days * 27000


@settings(max_examples=200, deadline=None)
@given(a=starts, b=starts, c=starts)
def test_working_seconds_between_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    cal = default_calendar()
    a, b, c = sorted((a, b, c))
    a, b, c = (x.replace(microsecond=0) for x in (a, b, c))
    assert cal.working_seconds_between(a, c) == (
        cal.working_seconds_between(a, b) + cal.working_seconds_between(b, c)
    )


# -- speed ------------------------------------------------------------------------------------


def test_default_periods_are_the_bureau_hours() -> None:
    expected = ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))
    assert expected == DEFAULT_PERIODS
