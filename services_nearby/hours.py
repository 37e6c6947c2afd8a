"""Opening hours of public facilities: a practical subset of OpenStreetMap's ``opening_hours``.

Supported (rules separated by ``;``; a later rule replaces the earlier rules' times on every day it
selects, ``off`` included, as in OSM)::

    24/7                                     always open
    off | closed                             closed (暂停开放)
    08:00-12:00,14:00-18:00                  every day; 24:00 allowed as an end
    22:00-02:00                              overnight: until 02:00 the next day
    Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00     weekdays, ranges (Fr-Mo wraps) and lists
    Apr-Oct Mo-Su 06:00-21:00; Nov-Mar 07:00-18:00
                                             months, ranges (Nov-Mar wraps) and lists
    May 01-Oct 31 06:00-21:00; Dec 25 off    dates and date ranges (may wrap the year end)
    Mo-Su 08:00-18:00; Tu off                ``off`` after selectors closes those days
    Su,PH 10:00-12:00; PH off                public holidays

Anything else (``sunrise``, week numbers, ``"comments"``, ``||`` ...) raises :class:`HoursError`.
Full-width punctuation (``；，：－～``) and the dashes ``~ — –`` are accepted, as is a colon after
the selectors (``Mo-Fr: 08:00-18:00``); names are case-insensitive. :func:`parse` returns the text
normalized (``Mo-Fr 08:00-18:00; Sa,Su 09:00-17:00``), which is what should be stored.

Semantics:

* Times are Asia/Shanghai wall-clock minutes; ``is_open`` takes a naive datetime as Shanghai
  time and converts an aware one.
* A range ending at or before its start runs past midnight and belongs to the day it starts on:
  its selectors are checked on that day, and a later rule selecting the NEXT day does not cut the
  spill (``Mo 22:00-02:00; Tu off`` is open on Tuesday at 01:00). A later rule selecting the start
  day does replace it.
* Public holidays come from the caller: ``is_open(at, holidays=callable)``. Without the callable
  ``PH`` selectors never match (a ``PH`` rule is ignored; ``Su,PH`` acts as ``Su``).

Everything is worked out at parse time: the 366 (month, day) slots of a year fall into a few
classes with the same weekly timetable, and each (class, weekday) holds its spans clipped to the
day plus how far it spills into the next one, so :meth:`Schedule.is_open` is a few lookups.
:func:`compiled` caches schedules by text for the nearest-search hot path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_LENGTH = 255  # the normalized text fits Facility.opening_hours

WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

DAY = 1440  # minutes
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # a leap year: 366 slots
_MONTH_START = (0, 0, *accumulate(_MONTH_DAYS))[:13]  # slot of day 1, by month number (1..12)
SLOTS = 366
_SLOT_DATE = tuple((m, d) for m in range(1, 13) for d in range(1, _MONTH_DAYS[m - 1] + 1))

_WEEKDAY_BY_NAME = {name.lower(): i for i, name in enumerate(WEEKDAYS)}
_MONTH_BY_NAME = {name.lower(): i for i, name in enumerate(MONTHS, start=1)}
_OFF_WORDS = ("off", "closed")
_UNSUPPORTED = {
    "sunrise": "不支持日出日落时间",
    "sunset": "不支持日出日落时间",
    "dawn": "不支持日出日落时间",
    "dusk": "不支持日出日落时间",
    "week": "不支持按周数设置",
    "sh": "不支持学校假期（SH）",
    "open": "开放时段请直接写时间，如 08:00-18:00",
    "unknown": "营业时间未知时请留空",
}
_SEPARATORS = str.maketrans("；，、：－～~〜—–―−", ";,,:--------")  # Chinese typing habits
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<always>24/7)
    | (?P<time>[0-9]+:[0-9]+)
    | (?P<num>[0-9]+)
    | (?P<word>[A-Za-z]+)
    | (?P<sym>[-,:])
    | (?P<bad>"[^"]*"?|[^\sA-Za-z0-9,:\-"]+)
    """,
    re.VERBOSE,
)

Spans = tuple[tuple[int, int], ...]  # (start, end) minutes of a day; end > DAY runs overnight
Entry = tuple[Spans, int]  # spans clipped to the day, minutes spilling into the next day
_VARIES = object()
_ONE_DAY = timedelta(days=1)


class HoursError(ValueError):
    """Opening hours that cannot be parsed (message in Simplified Chinese)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    slots: frozenset[int] | None  # day-of-year slots it selects; None: every date
    weekdays: frozenset[int]  # with ``ph`` empty: every day
    ph: bool
    spans: Spans  # () for off
    text: str

    def selects(self, weekday: int, holiday: bool) -> bool:
        if not self.weekdays and not self.ph:
            return True
        return weekday in self.weekdays or (self.ph and holiday)


# ---------------------------------------------------------------- parsing


class _RuleParser:
    """One rule (the text between two ``;``) as tokens, read left to right."""

    def __init__(self, text: str, number: int, count: int) -> None:
        self.text = text
        self.where = f"（第 {number} 条规则“{text}”）" if count > 1 else ""
        self.tokens: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "bad"
            if kind == "bad":
                if match.group().startswith('"'):
                    raise self.error(f"不支持引号内的说明文字 {match.group()}")
                raise self.error(f"“{match.group()}”")
            if kind != "space":
                self.tokens.append((kind, match.group()))
        self.pos = 0

    def error(self, detail: str) -> HoursError:
        return HoursError(f"营业时间格式无法识别：{detail}{self.where}")

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def is_word(self, table: dict[str, int], ahead: int = 0) -> bool:
        kind, value = self.peek(ahead)
        return kind == "word" and value.lower() in table

    def unexpected(self) -> HoursError:
        kind, value = self.peek()
        if kind == "end":
            return self.error("规则不完整")
        if kind == "word":
            lower = value.lower()
            if lower in _UNSUPPORTED:
                return self.error(f"“{value}”{_UNSUPPORTED[lower]}")
            if lower in _WEEKDAY_BY_NAME or lower in _MONTH_BY_NAME or lower == "ph":
                return self.error(
                    f"“{value}”位置不对（月份在前、星期在后、时间最后，多条规则用 ; 分隔）"
                )
            return self.error(
                f"“{value}”不是支持的写法（支持 Mo-Su 星期、Jan-Dec 月份、PH 节假日、off 关闭）"
            )
        if kind == "time" and self.peek(1)[0] != "sym":
            return self.error(f"“{value}”缺少结束时间（应写成 08:00-18:00 的形式）")
        return self.error(f"“{value}”")

    def rule(self) -> _Rule:
        if self.peek()[0] == "always":
            self.take()
            if self.peek()[0] != "end":
                raise self.unexpected()
            return _Rule(None, frozenset(), False, ((0, DAY),), "24/7")
        slots, dates_text = self.dates()
        weekdays, ph, weekdays_text = self.weekdays()
        selectors = " ".join(part for part in (dates_text, weekdays_text) if part)
        if selectors and self.peek() == ("sym", ":"):
            self.take()  # "Mo-Fr: 08:00-18:00"
        spans, body = self.body(selectors)
        if self.peek()[0] != "end":
            raise self.unexpected()
        text = f"{selectors} {body}" if selectors else body
        return _Rule(slots, weekdays, ph, spans, text)

    # -- selectors

    def dates(self) -> tuple[frozenset[int] | None, str]:
        slots: set[int] = set()
        parts: list[str] = []
        while self.is_word(_MONTH_BY_NAME):
            start_month = _MONTH_BY_NAME[self.take()[1].lower()]
            if self.peek()[0] == "num":
                start_day = self.day(start_month)
                if self.peek() != ("sym", "-"):
                    slots.add(_slot(start_month, start_day))
                    parts.append(f"{MONTHS[start_month - 1]} {start_day:02d}")
                else:
                    self.take()
                    end_month = start_month
                    if self.is_word(_MONTH_BY_NAME):
                        end_month = _MONTH_BY_NAME[self.take()[1].lower()]
                    if self.peek()[0] != "num":
                        raise self.unexpected()
                    end_day = self.day(end_month)
                    slots.update(_wrap(_slot(start_month, start_day), _slot(end_month, end_day)))
                    end = f"{end_day:02d}"
                    if end_month != start_month:
                        end = f"{MONTHS[end_month - 1]} {end}"
                    parts.append(f"{MONTHS[start_month - 1]} {start_day:02d}-{end}")
            elif self.peek() == ("sym", "-") and self.peek(1)[0] != "time":
                self.take()
                if not self.is_word(_MONTH_BY_NAME):
                    kind, value = self.peek()
                    if kind == "word":
                        raise self.error(f"“{value}”不是月份（应为 Jan-Dec）")
                    raise self.unexpected()
                end_month = _MONTH_BY_NAME[self.take()[1].lower()]
                for month in _wrap(start_month - 1, end_month - 1, 12):
                    slots.update(_month_slots(month + 1))
                parts.append(f"{MONTHS[start_month - 1]}-{MONTHS[end_month - 1]}")
            else:
                slots.update(_month_slots(start_month))
                parts.append(MONTHS[start_month - 1])
            if self.peek() != ("sym", ",") or not self.is_word(_MONTH_BY_NAME, 1):
                break
            self.take()
        if not parts:
            return None, ""
        return frozenset(slots), ",".join(parts)

    def day(self, month: int) -> int:
        value = self.take()[1]
        day = int(value)
        if not 1 <= day <= _MONTH_DAYS[month - 1]:
            raise self.error(f"“{MONTHS[month - 1]} {value}”不是有效日期")
        return day

    def weekdays(self) -> tuple[frozenset[int], bool, str]:
        days: set[int] = set()
        ph = False
        parts: list[str] = []
        while True:
            kind, value = self.peek()
            if kind == "word" and value.lower() == "ph":
                self.take()
                ph = True
                parts.append("PH")
            elif self.is_word(_WEEKDAY_BY_NAME):
                first = _WEEKDAY_BY_NAME[self.take()[1].lower()]
                if self.peek() == ("sym", "-") and self.peek(1)[0] != "time":
                    self.take()
                    kind, value = self.peek()
                    if not self.is_word(_WEEKDAY_BY_NAME):
                        if kind in ("word", "num"):
                            raise self.error(f"“{value}”不是星期（应为 Mo Tu We Th Fr Sa Su 之一）")
                        raise self.unexpected()
                    last = _WEEKDAY_BY_NAME[self.take()[1].lower()]
                    days.update(_wrap(first, last, 7))
                    parts.append(f"{WEEKDAYS[first]}-{WEEKDAYS[last]}")
                else:
                    days.add(first)
                    parts.append(WEEKDAYS[first])
            else:
                break
            if self.peek() == ("sym", ",") and (
                self.is_word(_WEEKDAY_BY_NAME, 1) or self.peek(1)[1].lower() == "ph"
            ):
                self.take()
            else:
                break
        return frozenset(days), ph, ",".join(parts)

    # -- times

    def body(self, selectors: str) -> tuple[Spans, str]:
        kind, value = self.peek()
        if kind == "word" and value.lower() in _OFF_WORDS:
            self.take()
            return (), "off"
        if kind == "end":
            if selectors:
                raise self.error(f"“{selectors}”后缺少时间段（如 08:00-18:00）或 off")
            raise self.unexpected()
        if kind != "time":
            raise self.unexpected()
        spans: list[tuple[int, int]] = []
        texts: list[str] = []
        while True:
            if self.peek()[0] != "time":
                raise self.unexpected()
            start_text = self.peek()[1]
            start = self.time(allow_24=False)
            if self.peek() != ("sym", "-"):
                raise self.error(f"“{start_text}”缺少结束时间（应写成 08:00-18:00 的形式）")
            self.take()
            if self.peek()[0] != "time":
                raise self.unexpected()
            end = self.time(allow_24=True)
            spans.append((start, end if end > start else end + DAY))
            texts.append(f"{_hhmm(start)}-{_hhmm(end)}")
            if self.peek() != ("sym", ","):
                break
            self.take()
        return tuple(spans), ",".join(texts)

    def time(self, *, allow_24: bool) -> int:
        value = self.take()[1]
        hours, minutes = value.split(":")
        hour, minute = int(hours), int(minutes)
        valid = len(hours) <= 2 and len(minutes) == 2 and minute < 60
        valid = valid and (hour < 24 or (allow_24 and hour == 24 and minute == 0))
        if not valid:
            raise self.error(f"“{value}”不是有效时间（应为 00:00-24:00）")
        return hour * 60 + minute


def _slot(month: int, day: int) -> int:
    return _MONTH_START[month] + day - 1


def _month_slots(month: int) -> range:
    return range(_MONTH_START[month], _MONTH_START[month] + _MONTH_DAYS[month - 1])


def _wrap(first: int, last: int, size: int = SLOTS) -> list[int]:
    """first..last inclusive, wrapping past the end of a cycle of ``size``."""
    return [(first + i) % size for i in range((last - first) % size + 1)]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_SEPARATORS)
    return " ".join(text.split())


def _parse_rules(text: str) -> list[_Rule]:
    pieces = [piece.strip() for piece in text.split(";")]
    pieces = [piece for piece in pieces if piece]
    if not pieces:
        raise HoursError(f"营业时间格式无法识别：“{text}”")
    return [_RuleParser(piece, i, len(pieces)).rule() for i, piece in enumerate(pieces, start=1)]


# ---------------------------------------------------------------- the timetable


def _merge(spans: Spans) -> Spans:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _day(rules: list[_Rule], weekday: int, holiday: bool) -> Spans:
    spans: Spans = ()
    for rule in rules:
        if rule.selects(weekday, holiday):
            spans = rule.spans  # a later rule replaces the earlier ones on the days it selects
    return _merge(spans)


def _entry(spans: Spans) -> Entry:
    clipped = _merge(tuple((start, min(end, DAY)) for start, end in spans))
    spill = max((end - DAY for _, end in spans if end > DAY), default=0)
    return clipped, spill


Week = tuple[Spans, ...]  # by weekday, Monday first


@dataclass(frozen=True, slots=True)
class _Timetable:
    classes: tuple[int, ...] | None  # class of each slot; None: one class
    weeks: tuple[tuple[Week, Week], ...]  # by class: (ordinary days, public holidays)
    default: int | None  # the class of dates no dated rule selects, if any


def _timetable(rules: list[_Rule]) -> _Timetable:
    # The signature of a slot: which dated rules select it (undated rules select every slot).
    signatures: list[list[int]] = [[] for _ in range(SLOTS)]
    for i, rule in enumerate(rules):
        for slot in rule.slots or ():
            signatures[slot].append(i)
    by_signature: dict[tuple[int, ...], int] = {}
    by_weeks: dict[tuple[Week, Week], int] = {}
    weeks: list[tuple[Week, Week]] = []
    classes: list[int] = []
    for members in signatures:
        signature = tuple(members)
        if signature not in by_signature:
            selected = [r for i, r in enumerate(rules) if r.slots is None or i in signature]
            pair = (
                tuple(_day(selected, weekday, False) for weekday in range(7)),
                tuple(_day(selected, weekday, True) for weekday in range(7)),
            )
            if pair not in by_weeks:
                by_weeks[pair] = len(weeks)
                weeks.append(pair)
            by_signature[signature] = by_weeks[pair]
        classes.append(by_signature[signature])
    return _Timetable(
        classes=tuple(classes) if len(weeks) > 1 else None,
        weeks=tuple(weeks),
        default=by_signature.get(()),
    )


# ---------------------------------------------------------------- labels


def _spans_label(spans: Spans) -> str:
    if not spans:
        return "不开放"
    if spans == ((0, DAY),):
        return "全天开放"
    parts = []
    for start, end in spans:
        end_text = f"次日{_hhmm(end - DAY)}" if end > DAY else _hhmm(end)
        parts.append(f"{_hhmm(start)}-{end_text}")
    return "、".join(parts)


def _weekdays_label(days: list[int]) -> str:
    if len(days) == 7:
        return "每天"
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAY_LABELS[run[0]]}至{WEEKDAY_LABELS[run[-1]]}")
        else:
            parts.extend(WEEKDAY_LABELS[day] for day in run)
    return "、".join(parts)


def _groups(week: Week, days: list[int]) -> list[tuple[list[int], Spans]]:
    """The days grouped by identical spans, in the order of each group's first day."""
    grouped: dict[Spans, list[int]] = {}
    for day in days:
        grouped.setdefault(week[day], []).append(day)
    return [(members, spans) for spans, members in grouped.items()]


def _week_label(ordinary: Week, holiday: Week) -> list[str]:
    """Open days first (grouped by identical hours), then closed days, then public holidays."""
    if not any(ordinary):
        parts = ["不开放"]
    else:
        groups = _groups(ordinary, list(range(7)))
        groups.sort(key=lambda group: not group[1])
        parts = [f"{_weekdays_label(days)} {_spans_label(spans)}" for days, spans in groups]
    if holiday == ordinary:
        return parts
    if len(set(holiday)) == 1:
        parts.append(f"法定节假日 {_spans_label(holiday[0])}")
        return parts
    differ = [day for day in range(7) if holiday[day] != ordinary[day]]
    for days, spans in _groups(holiday, differ):
        parts.append(f"法定节假日（{_weekdays_label(days)}）{_spans_label(spans)}")
    return parts


def _runs(classes: tuple[int, ...], wanted: int) -> list[tuple[int, int]]:
    """The slot runs (first, last) of one class; a run may wrap past Dec 31 (then it is last)."""
    runs: list[tuple[int, int]] = []
    for slot, value in enumerate(classes):
        if value != wanted:
            continue
        if runs and runs[-1][1] == slot - 1:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == SLOTS - 1:
        runs[-1] = (runs[-1][0], runs.pop(0)[1])
    return runs


def _run_label(first: int, last: int) -> str:
    (start_month, start_day), (end_month, end_day) = _SLOT_DATE[first], _SLOT_DATE[last]
    if start_day == 1 and end_day == _MONTH_DAYS[end_month - 1]:
        if start_month == end_month:
            return f"{start_month}月"
        return f"{start_month}月-{end_month}月"
    if first == last:
        return f"{start_month}月{start_day}日"
    return f"{start_month}月{start_day}日-{end_month}月{end_day}日"


def _label(table: _Timetable) -> str:
    everything = [spans for pair in table.weeks for week in pair for spans in week]
    if not any(everything):
        return "暂停开放"
    if all(spans == ((0, DAY),) for spans in everything):
        return "全天开放"
    if table.classes is None:
        return "；".join(_week_label(*table.weeks[0]))
    seasons: list[tuple[int, str]] = []
    for index, pair in enumerate(table.weeks):
        body = "，".join(_week_label(*pair))
        if index == table.default and any(spans for week in pair for spans in week):
            seasons.append((-1, body))  # the rest of the year comes first, without dates
            continue
        runs = _runs(table.classes, index)
        dates = "、".join(_run_label(first, last) for first, last in runs)
        seasons.append((runs[0][0], f"{dates} {body}"))
    return "；".join(text for _, text in sorted(seasons))


# ---------------------------------------------------------------- the schedule


class Schedule:
    """Parsed opening hours: ``text`` (normalized), ``label`` (for citizens), ``known``."""

    __slots__ = (
        "text",
        "label",
        "known",
        "_fixed",
        "_classes",
        "_ordinary",
        "_holiday",
        "_ph",
        "_spill",
    )

    def __init__(self, text: str = "", rules: list[_Rule] | None = None) -> None:
        self.text = text
        self.known = rules is not None
        self._classes: tuple[int, ...] | None = None
        self._ordinary: tuple[Entry, ...] = ()
        self._holiday: tuple[Entry, ...] = ()
        self._ph = False
        self._spill = False
        if rules is None:
            self.label = "营业时间未知"
            self._fixed: object = None
            return
        table = _timetable(rules)
        self.label = _label(table)
        self._classes = table.classes
        self._ordinary = tuple(_entry(spans) for pair in table.weeks for spans in pair[0])
        self._holiday = tuple(_entry(spans) for pair in table.weeks for spans in pair[1])
        self._ph = self._holiday != self._ordinary
        self._spill = any(spill for _, spill in self._ordinary + self._holiday)
        entries = set(self._ordinary) | set(self._holiday)
        if entries == {((), 0)}:
            self._fixed = False
        elif entries == {(((0, DAY),), 0)}:
            self._fixed = True
        else:
            self._fixed = _VARIES

    def __repr__(self) -> str:
        return f"Schedule({self.text!r}, label={self.label!r})"

    def _on(self, day: date, holidays: Callable[[date], bool] | None) -> Entry:
        entries = self._ordinary
        if self._ph and holidays is not None and holidays(day):
            entries = self._holiday
        classes = self._classes
        if classes is None:
            return entries[day.weekday()]
        return entries[classes[_MONTH_START[day.month] + day.day - 1] * 7 + day.weekday()]

    def is_open(self, at: datetime, holidays: Callable[[date], bool] | None = None) -> bool | None:
        """Whether open at ``at`` (naive: Shanghai time; aware: converted); None when unknown.

        ``holidays(day)`` says whether a date is a public holiday; without it ``PH`` rules are
        ignored.
        """
        fixed = self._fixed
        if fixed is not _VARIES:
            return fixed  # type: ignore[return-value]
        if at.tzinfo is not None:
            at = at.astimezone(SHANGHAI)
        minute = at.hour * 60 + at.minute
        if self._ph and holidays is not None:  # the holiday calendar works on dates
            day = at.date()
            if any(start <= minute < end for start, end in self._on(day, holidays)[0]):
                return True
            return self._spill and minute < self._on(day - _ONE_DAY, holidays)[1]
        # The same lookups without building dates.
        classes = self._classes
        weekday = at.weekday()
        index = weekday
        if classes is not None:
            index += classes[_MONTH_START[at.month] + at.day - 1] * 7
        for start, end in self._ordinary[index][0]:
            if start <= minute < end:
                return True
        if not self._spill:
            return False
        if classes is None:
            return minute < self._ordinary[(weekday + 6) % 7][1]
        if at.day == 1:  # the previous month (and February's length) from the calendar
            return minute < self._on(at.date() - _ONE_DAY, None)[1]
        index = classes[_MONTH_START[at.month] + at.day - 2] * 7 + (weekday + 6) % 7
        return minute < self._ordinary[index][1]


_UNKNOWN = Schedule()


def parse(text: str) -> Schedule:
    """Parse opening hours, in the OSM form or as staff write them in Chinese ("每天6:00-22:00",
    see ``hours_zh``); "" or blank -> an unknown schedule. Raises :class:`HoursError`."""
    from services_nearby.hours_zh import to_osm  # it builds on this module's names

    if not text or not text.strip():
        return _UNKNOWN
    if len(text) > 4 * MAX_LENGTH:
        raise HoursError(f"营业时间过长（最多 {MAX_LENGTH} 个字符）")
    rules = _parse_rules(_normalize(to_osm(text)))
    normalized = "; ".join(rule.text for rule in rules)
    if len(normalized) > MAX_LENGTH:
        raise HoursError(f"营业时间过长（最多 {MAX_LENGTH} 个字符）")
    return Schedule(normalized, rules)


@lru_cache(maxsize=4096)
def compiled(text: str) -> Schedule:
    """:func:`parse`, cached, for the hot path: bad text gives an unknown schedule (stored text was
    validated when written)."""
    try:
        return parse(text)
    except HoursError:
        return _UNKNOWN
