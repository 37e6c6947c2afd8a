"""Working calendar: due times counted in working hours and working days (处置时限).

Pure module, no database. All public methods take and return timezone-aware datetimes; results
are in UTC. Computation happens in local wall-clock time of ``tz`` (default Asia/Shanghai).

Rules
-----
* Working day: a make-up working day (调休上班), or a Monday-Friday that is not a public holiday.
* Working time: the configured periods of a working day, half-open ``[start, end)``; by default
  08:30-12:00 and 13:30-17:30 (7.5 working hours a day).
* A start outside working time (lunch break, before the first or after the last period, a weekend
  or holiday) counts from the next working period start.
* N working hours: the earliest instant at which N hours of working time have elapsed since the
  start. A deadline that uses up a period exactly ends at that period's end (4 h from 08:30 is
  12:00, not 13:30). Hours span periods and days: 4 h from Friday 16:00 is Monday 11:00
  (1.5 h on Friday to 17:30, then 2.5 h from Monday 08:30).
* N working days: N full working days of working time, i.e. the same position in the working day
  N working days later. For a start inside working time that is the same local clock time N
  working days later (dispatch Tuesday 10:00 + 3 days = Friday 10:00, holidays skipped). A start
  outside working time is first moved to the next working instant, so dispatch at Friday 19:00 +
  1 day = Monday 17:30 (the end of Monday's last period), dispatch in the lunch break + 1 day =
  12:00 the next working day. Formally ``add_working_days(s, n) ==
  add_working_hours(s, n * day_hours)``, so ``working_seconds_between`` agrees with both.
* Zero hours or days yield the next working instant (the start itself if it is working time).
* ``working_seconds_between(a, b)`` counts working time in ``[a, b]`` (negative if ``b < a``),
  floored to whole seconds. For every start ``s`` and amount ``h``:
  ``working_seconds_between(s, add_working_hours(s, h)) == h * 3600`` (to the microsecond).

Holidays and make-up working days come from ``reports/data/holidays.csv`` (see
``CalendarData``); dates outside the years that file covers are treated as ordinary weeks.
Wall-clock arithmetic ignores DST transitions (Asia/Shanghai has none).
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

Period = tuple[time, time]
Unit = Literal["hours", "days"]

DEFAULT_PERIODS: tuple[Period, ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
DEFAULT_TZ = "Asia/Shanghai"
HOLIDAYS_CSV = Path(__file__).parent / "data" / "holidays.csv"
KINDS = ("holiday", "workday")

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)


def _validate_periods(periods: Iterable[Period]) -> tuple[Period, ...]:
    """Return the periods as a tuple, or raise ValueError unless they are ordered and disjoint."""
    result = tuple((start, end) for start, end in periods)
    if not result:
        raise ValueError("at least one working period is required")
    previous_end: time | None = None
    for start, end in result:
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"periods must be pairs of datetime.time, got {start!r}, {end!r}")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("periods are local wall-clock times and must be naive")
        if start >= end:
            raise ValueError(f"period {start}-{end} must start before it ends")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"period {start}-{end} overlaps or precedes the previous one")
        previous_end = end
    return result


def _length(period: Period) -> timedelta:
    """Return the duration of a working period."""
    start, end = period
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


def _weekdays_between(first: date, stop: date) -> int:
    """Count Monday-Friday dates in ``[first, stop)``."""
    days = (stop - first).days
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for i in range(rest) if (start + i) % 7 < 5)


def _count_in(sorted_dates: Sequence[date], first: date, stop: date) -> int:
    """Count the dates of a sorted sequence in ``[first, stop)``."""
    return bisect_left(sorted_dates, stop) - bisect_left(sorted_dates, first)


class WorkCalendar:
    """A working calendar with public holidays, make-up working days and daily working periods."""

    def __init__(
        self,
        holidays: Iterable[date],
        makeup_workdays: Iterable[date],
        periods: Iterable[Period] = DEFAULT_PERIODS,
        tz: str | tzinfo = DEFAULT_TZ,
    ) -> None:
        self.holidays = frozenset(holidays)
        self.makeup_workdays = frozenset(makeup_workdays)
        clash = self.holidays & self.makeup_workdays
        if clash:
            raise ValueError(f"dates both holiday and make-up working day: {sorted(clash)}")
        self.periods = _validate_periods(periods)
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self.day_length = sum((_length(period) for period in self.periods), timedelta(0))
        # Only the dates that change a weekday/weekend default matter for counting.
        self._extra_off = sorted(d for d in self.holidays if d.weekday() < 5)
        self._extra_on = sorted(d for d in self.makeup_workdays if d.weekday() >= 5)

    def __repr__(self) -> str:
        return (
            f"WorkCalendar({len(self.holidays)} holidays, {len(self.makeup_workdays)} make-up "
            f"days, periods={self.periods!r}, tz={self.tz!s})"
        )

    # -- public API ------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Whether a local date (or the local date of an aware datetime) is a working day."""
        if isinstance(d, datetime):
            d = self._to_local(d).date()
        return d in self.makeup_workdays or (d.weekday() < 5 and d not in self.holidays)

    def is_working_time(self, moment: datetime) -> bool:
        """Whether an aware datetime falls inside a working period of a working day."""
        local = self._to_local(moment)
        return any(start <= local < end for start, end in self._windows(local.date()))

    def working_days_between(self, first: date, stop: date) -> int:
        """Count working days among the local dates ``[first, stop)``."""
        if stop <= first:
            return 0
        return (
            _weekdays_between(first, stop)
            - _count_in(self._extra_off, first, stop)
            + _count_in(self._extra_on, first, stop)
        )

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the UTC instant ``hours`` working hours after ``start``."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite non-negative number, got {hours!r}")
        return self._advance(start, timedelta(hours=hours))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Return the UTC instant ``days`` full working days after ``start``."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"days must be a non-negative int, got {days!r}")
        return self._advance(start, self.day_length * days)

    def due_at(self, start: datetime, amount: float, unit: Unit) -> datetime:
        """Return the due time for a time limit of ``amount`` working ``unit`` from ``start``."""
        if unit == "hours":
            return self.add_working_hours(start, amount)
        if unit == "days":
            if isinstance(amount, float) and amount.is_integer():
                amount = int(amount)
            return self.add_working_days(start, amount)  # type: ignore[arg-type]
        raise ValueError(f"unit must be 'hours' or 'days', got {unit!r}")

    def working_seconds_between(self, a: datetime, b: datetime) -> int:
        """Return the working seconds in ``[a, b]``, negative when ``b`` precedes ``a``."""
        local_a, local_b = self._to_local(a), self._to_local(b)
        if local_b < local_a:
            return -self.working_seconds_between(b, a)
        first, last = local_a.date(), local_b.date()
        total = self._overlap(first, local_a, local_b)
        if last > first:
            total += self._overlap(last, local_a, local_b)
            total += self.day_length * self.working_days_between(first + _ONE_DAY, last)
        return total // _ONE_SECOND

    # -- internals -------------------------------------------------------------------------------

    def _to_local(self, moment: datetime) -> datetime:
        """Convert an aware datetime to naive local wall-clock time; reject naive input."""
        if not isinstance(moment, datetime):
            raise ValueError(f"expected a datetime, got {moment!r}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware datetime")
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def _to_utc(self, local: datetime) -> datetime:
        """Convert naive local wall-clock time to an aware UTC datetime."""
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _windows(self, d: date) -> list[tuple[datetime, datetime]]:
        """Return the working periods of a local date as naive local datetimes (none if off)."""
        if not self.is_working_day(d):
            return []
        return [(datetime.combine(d, s), datetime.combine(d, e)) for s, e in self.periods]

    def _overlap(self, d: date, lo: datetime, hi: datetime) -> timedelta:
        """Return the working time of date ``d`` that lies inside ``[lo, hi]``."""
        total = timedelta(0)
        for start, end in self._windows(d):
            begin, finish = max(start, lo), min(end, hi)
            if finish > begin:
                total += finish - begin
        return total

    def _advance(self, start: datetime, amount: timedelta) -> datetime:
        """Return the earliest UTC instant after which ``amount`` of working time has elapsed."""
        local = self._to_local(start)
        d, remaining = local.date(), amount
        first_start = self.periods[0][0]
        while True:
            if self.is_working_day(d):
                if remaining > self.day_length and local <= datetime.combine(d, first_start):
                    remaining -= self.day_length  # skip a whole working day in one step
                else:
                    for begin, end in self._windows(d):
                        if local >= end:
                            continue
                        cursor = max(local, begin)
                        if remaining <= end - cursor:
                            return self._to_utc(cursor + remaining)
                        remaining -= end - cursor
            d += _ONE_DAY
            local = datetime.combine(d, time.min)


def _parse_date(value: object) -> date:
    """Parse a date from a ``date`` or an ISO ``YYYY-MM-DD`` string."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a datetime {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError(f"expected a date or ISO string, got {value!r}")


def _row_fields(row: object) -> tuple[object, object, object]:
    """Return ``(date, kind, name)`` from a mapping, a sequence or an object with attributes."""
    if isinstance(row, Mapping):
        return row["date"], row["kind"], row.get("name", "")
    if isinstance(row, Sequence) and not isinstance(row, str):
        padded = (*row, "")
        return padded[0], padded[1], padded[2]
    return row.date, row.kind, getattr(row, "name", "")  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CalendarData:
    """Public holidays and make-up working days, with the name of each date."""

    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()
    names: Mapping[date, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_rows(cls, rows: Iterable[object]) -> CalendarData:
        """Build from rows of ``(date, kind, name)``: mappings, tuples or ORM-like objects."""
        kinds: dict[date, str] = {}
        names: dict[date, str] = {}
        for row in rows:
            raw_date, raw_kind, raw_name = _row_fields(row)
            day, kind = _parse_date(raw_date), str(raw_kind).strip()
            if kind not in KINDS:
                raise ValueError(f"{day}: kind must be one of {KINDS}, got {kind!r}")
            if kinds.setdefault(day, kind) != kind:
                raise ValueError(f"{day} is listed both as holiday and as make-up working day")
            if kind == "workday" and day.weekday() < 5:
                raise ValueError(f"{day} is a weekday: a make-up working day must be a weekend")
            names[day] = str(raw_name or "").strip()
        return cls(
            holidays=frozenset(d for d, k in kinds.items() if k == "holiday"),
            makeup_workdays=frozenset(d for d, k in kinds.items() if k == "workday"),
            names=names,
        )

    @classmethod
    def from_csv(cls, path: str | Path = HOLIDAYS_CSV) -> CalendarData:
        """Load a ``date,kind,name`` CSV file; lines starting with ``#`` and blank lines skipped."""
        with open(path, encoding="utf-8", newline="") as fh:
            lines = [line for line in fh if line.strip() and not line.lstrip().startswith("#")]
        return cls.from_rows(csv.DictReader(lines))

    @property
    def years(self) -> frozenset[int]:
        """The years that have at least one entry (the years the data covers)."""
        return frozenset(d.year for d in self.holidays | self.makeup_workdays)

    def calendar(
        self, periods: Iterable[Period] = DEFAULT_PERIODS, tz: str | tzinfo = DEFAULT_TZ
    ) -> WorkCalendar:
        """Return a WorkCalendar built on this data."""
        return WorkCalendar(self.holidays, self.makeup_workdays, periods=periods, tz=tz)


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """Return the calendar built from the bundled holidays.csv with the default periods."""
    return CalendarData.from_csv().calendar()
