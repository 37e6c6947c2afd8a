"""Chinese mainland licence plate numbers: normalization, format and colour checks, masking.

Pure Python, no I/O. The grammar follows GA 36-2018 (机动车号牌):

- ordinary (普通): province abbreviation + issuing-authority letter + 5 serial characters,
  each a digit or a letter other than I and O (they would be read as 1 and 0);
- small new-energy (小型新能源, gradient green): province + letter + 6, the first of the six an
  energy-type letter (D A B C E pure electric, F G H J K other new energy), the second a letter or
  digit, the last four digits;
- large new-energy (大型新能源, yellow-green): province + letter + 5 digits + D or F;
- trailer 挂, coach 学 and police 警: province + letter + 4 serial characters + that suffix.

Plates outside these shapes (Hong Kong/Macao 港/澳, embassy 使/领, military, emergency 应急,
temporary plates) are refused: a citizen reporting one is asked to check the number, and a
reviewer can still read it off the photos.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
AUTHORITY_LETTERS = string.ascii_uppercase
SERIAL_LETTERS = "".join(c for c in string.ascii_uppercase if c not in "IO")
SERIAL_CHARS = SERIAL_LETTERS + string.digits
NEV_SMALL_FIRST = "DFABCEGHJK"
NEV_LARGE_LAST = "DF"
SUFFIX_KINDS = {"挂": "trailer", "学": "coach", "警": "police"}

KINDS = ("ordinary", "new_energy_small", "new_energy_large", "trailer", "coach", "police")

PLATE_COLOURS = {
    "blue": "蓝牌",
    "yellow": "黄牌",
    "green": "绿牌（新能源）",
    "yellow_green": "黄绿牌（新能源大型车）",
    "white": "白牌",
    "black": "黑牌",
}

# Which colours each kind is issued in: blue small cars, yellow large cars, black for the few
# foreign-registered vehicles still on ordinary numbers; the suffix plates have one colour each.
KIND_COLOURS = {
    "ordinary": ("blue", "yellow", "black"),
    "new_energy_small": ("green",),
    "new_energy_large": ("yellow_green",),
    "trailer": ("yellow",),
    "coach": ("yellow",),
    "police": ("white",),
}

KIND_LABELS = {
    "ordinary": "普通号牌",
    "new_energy_small": "小型新能源号牌",
    "new_energy_large": "大型新能源号牌",
    "trailer": "挂车号牌",
    "coach": "教练车号牌",
    "police": "警车号牌",
}

# Separators people and OCR put between "湘C" and the serial, plus spaces of every width.
_SEPARATORS = set("·•.-‧∙⋅・･") | {"\u00b7", "\u2022", "\u30fb"}

MSG_EMPTY = "请填写车牌号"
MSG_PROVINCE = "车牌号第一位应为省份简称，如“湘”"
MSG_AUTHORITY = "车牌号第二位应为发牌机关代号字母，如“湘A”中的“A”"
MSG_FORMAT = "车牌号格式不正确：应为省份简称+字母+5位（新能源6位）字母或数字"
MSG_NO_I_O = "车牌号中不使用字母I和O，请确认是否为数字1和0"
MSG_NEV = "新能源车牌号格式不正确：小型车为D/F等字母+1位字母或数字+4位数字，大型车为5位数字+D或F"
MSG_SUFFIX = "挂车、教练车、警车号牌应为省份简称+字母+4位字母或数字+“挂”“学”“警”"
MSG_UNKNOWN_COLOUR = "请选择号牌颜色：蓝牌、黄牌、绿牌、黄绿牌、白牌或黑牌"


@dataclass(frozen=True)
class PlateCheck:
    """The outcome of checking a plate number: its normal form, kind, and the error if any."""

    normalized: str
    kind: str | None  # one of KINDS; None when the number has no recognizable shape
    ok: bool
    error: str | None  # Chinese, shown to the citizen as is


def normalize_plate(text: str) -> str:
    """Strip spaces and separator dots, fold full-width to half-width, uppercase Latin letters."""
    folded = unicodedata.normalize("NFKC", text or "")
    kept = (c for c in folded if not c.isspace() and c not in _SEPARATORS)
    return "".join(c.upper() if c.isascii() else c for c in kept)


def _serial_ok(serial: str) -> bool:
    return all(c in SERIAL_CHARS for c in serial)


def _kind_of(plate: str) -> tuple[str | None, str | None]:
    """(kind, error) for a normalized plate; exactly one of the two is None."""
    if not plate:
        return None, MSG_EMPTY
    if plate[0] not in PROVINCES:
        return None, MSG_PROVINCE
    if len(plate) < 2 or plate[1] not in AUTHORITY_LETTERS:
        return None, MSG_AUTHORITY
    serial = plate[2:]
    if "I" in serial or "O" in serial:
        return None, MSG_NO_I_O
    if len(serial) == 5 and serial[-1] in SUFFIX_KINDS:
        return (SUFFIX_KINDS[serial[-1]], None) if _serial_ok(serial[:4]) else (None, MSG_SUFFIX)
    if any(c in SUFFIX_KINDS for c in serial):
        return None, MSG_SUFFIX
    if len(serial) == 5:
        return ("ordinary", None) if _serial_ok(serial) else (None, MSG_FORMAT)
    if len(serial) == 6:
        return _new_energy_kind(serial)
    return None, MSG_FORMAT


def _new_energy_kind(serial: str) -> tuple[str | None, str | None]:
    if serial[0] in NEV_SMALL_FIRST and serial[1] in SERIAL_CHARS and serial[2:].isdigit():
        return "new_energy_small", None
    if serial[:5].isdigit() and serial[5] in NEV_LARGE_LAST:
        return "new_energy_large", None
    if _serial_ok(serial):
        return None, MSG_NEV
    return None, MSG_FORMAT


def _colour_error(kind: str, colour: str) -> str | None:
    if colour not in PLATE_COLOURS:
        return MSG_UNKNOWN_COLOUR
    allowed = KIND_COLOURS[kind]
    if colour in allowed:
        return None
    expected = "或".join(PLATE_COLOURS[c] for c in allowed)
    return (
        f"号牌颜色与号码不符：{KIND_LABELS[kind]}应为{expected}，"
        f"不是{PLATE_COLOURS[colour]}，请核对颜色或号码"
    )


def check_plate(text: str, colour: str | None = None) -> PlateCheck:
    """Check a plate number (and its colour, when given) against the GA 36-2018 grammar."""
    plate = normalize_plate(text)
    kind, error = _kind_of(plate)
    if kind is not None and colour is not None:
        error = _colour_error(kind, colour)
    return PlateCheck(normalized=plate, kind=kind, ok=error is None, error=error)


def is_valid_plate(text: str) -> bool:
    """Whether the text is a well-formed plate number of any kind (colour not considered)."""
    return check_plate(text).ok


def format_plate(plate: str) -> str:
    """The plate as printed, with a middle dot after the province and letter: 湘C·3K88Z."""
    plate = normalize_plate(plate)
    return f"{plate[:2]}·{plate[2:]}" if len(plate) > 2 else plate


def mask_plate(plate: str) -> str:
    """The plate for public views: province, letter, first serial character and last character."""
    plate = normalize_plate(plate)
    head, serial = plate[:2], plate[2:]
    if len(serial) <= 2:
        # Too short to show any of it without showing most of it.
        return f"{head}·{'*' * len(serial)}" if serial else head
    return f"{head}·{serial[0]}{'*' * (len(serial) - 2)}{serial[-1]}"
