"""Opening hours as staff type them in Chinese, rewritten into the OSM form ``hours`` parses.

Staff write "每天6:00-22:00", "周一至周五 8:00-18:00，周六周日 9:00-17:00", "全天开放",
"早8点到晚10点", "5月1日至10月31日 6:00-21:00", "法定节假日休息". :func:`to_osm` turns the Chinese
words into OSM tokens (weekdays, months, dates, ``PH``, ``off``, ``24/7``, HH:MM times) and a comma
before a new selector into a rule separator; text already in the OSM form passes unchanged, and
whatever it cannot rewrite is left for the parser to refuse with its usual message.
"""

from __future__ import annotations

import re
import unicodedata

from services_nearby.hours import MONTHS, WEEKDAYS

_DAY_DIGITS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}

_ALWAYS = re.compile(r"(全年)?(无休)?(全天候?|24小时|二十四小时)(开放|营业|服务)?(全年无休)?")
_CLOSED = re.compile(r"暂停开放|暂停使用|停止开放|不开放|闭馆|闭园|关闭|停用|休息|休馆|停业")
_HOLIDAY = re.compile(r"(法定)?(节假日|节日)")
_WORKDAYS = re.compile(r"工作日")
_WEEKEND = re.compile(r"周末|双休日")
_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天七])")
_DATE = re.compile(r"(\d{1,2})月(\d{1,2})[日号]")
_MONTH = re.compile(r"(\d{1,2})月份?")
_CLOCK = re.compile(
    r"(?P<part>上午|早上|早晨|早|中午|下午|傍晚|晚上|晚|凌晨|次日|夜里)?\s*"
    r"(?P<h>\d{1,2})(?:(?P<half>点半)|(?::|点|时)(?P<m>\d{1,2})?分?)(?!\d)"
)
_EVERY_DAY = re.compile(r"每天|每日|天天|全年|开放时间|营业时间|时间|开放|营业|服务")
_RANGE_WORD = re.compile(r"\s*(?:至|到|~|〜|－|—|–)\s*")
_SELECTOR = re.compile(
    r"^(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
)
_ADJACENT_DAYS = re.compile(r"\b(Mo|Tu|We|Th|Fr|Sa|Su|PH)\s*(?=(Mo|Tu|We|Th|Fr|Sa|Su|PH)\b)")
_NEW_RULE = re.compile(
    r"(\d{2}:\d{2}|off)\s*,\s*(?=(?:Mo|Tu|We|Th|Fr|Sa|Su|PH|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
    r"|Oct|Nov|Dec)\b)"
)
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _clock(match: re.Match[str]) -> str:
    hour, minute = int(match["h"]), 30 if match["half"] else int(match["m"] or 0)
    part = match["part"]
    if part in {"下午", "傍晚", "晚上", "晚", "夜里"} and hour < 12 or part == "中午" and hour < 6:
        hour += 12
    return f" {hour:02d}:{minute:02d} "


def to_osm(text: str) -> str:
    """``text`` with its Chinese wording rewritten into OSM opening_hours tokens."""
    text = unicodedata.normalize("NFKC", text).strip()
    if not _HAN.search(text):
        return text
    if _ALWAYS.fullmatch(text.replace(" ", "")):
        return "24/7"
    text = _ALWAYS.sub(" 00:00-24:00 ", text)
    text = _HOLIDAY.sub(" PH ", text)
    text = _WORKDAYS.sub(" Mo-Fr ", text)
    text = _WEEKEND.sub(" Sa,Su ", text)
    text = _WEEKDAY.sub(lambda m: f" {WEEKDAYS[_DAY_DIGITS[m[1]]]} ", text)
    text = _DATE.sub(lambda m: f" {MONTHS[int(m[1]) - 1]} {int(m[2]):02d} ", text)
    text = _MONTH.sub(lambda m: f" {MONTHS[int(m[1]) - 1]} ", text)
    text = _CLOCK.sub(_clock, text)
    text = _CLOSED.sub(" off ", text)
    text = _EVERY_DAY.sub(" ", text)
    text = text.replace("、", ",").replace("和", ",").replace("及", ",")
    text = _RANGE_WORD.sub("-", text)
    text = _ADJACENT_DAYS.sub(r"\1,", text)
    # A comma after a time (or off) and before a new selector ends a rule; full stops and new
    # lines always do. Other commas list days or times, as in OSM.
    text = _NEW_RULE.sub(r"\1; ", text)
    text = "; ".join(" ".join(p.split()) for p in re.split(r"[;。\n]", text) if p.strip())
    return re.sub(r"\s*-\s*", "-", text)
