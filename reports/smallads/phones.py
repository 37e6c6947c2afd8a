"""Phone numbers on small ads: mainland mobiles (1[3-9] + 9 digits) and landlines (区号 0xx or
0xxx + 7-8 digits, written 024-12345678), read from OCR text with its usual confusions: O/o/D/Q
for 0, l/I/i/| for 1, Z for 2, S for 5, B for 8, full-width digits, and spaces, dashes or dots
between digit groups (139 1234 5678, 139-1234-5678).

``normalize`` is also how a typed number is checked: the inspector's correction goes through the
same rules, so "139 1234 5678" and "13912345678" are one advertiser.
"""

from __future__ import annotations

import re
import unicodedata

_LOOKALIKE = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "l": "1",
        "I": "1",
        "i": "1",
        "|": "1",
        "Z": "2",
        "z": "2",
        "S": "5",
        "s": "5",
        "B": "8",
    }
)
_SEP = " \u00a0-‐‑–—－.·_"
# A run of digits and look-alikes, single separators allowed between them.
_RUN = re.compile(r"[0-9OoDQlIi|ZzSsB](?:[" + re.escape(_SEP) + r"]?[0-9OoDQlIi|ZzSsB])*")
MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes with 3 digits: 010 and 02x; every other starts 0[3-9]xx.
_SHORT_AREA = re.compile(r"0(?:10|2\d)")


def _landline(digits: str, split: int | None) -> str | None:
    """024-12345678 from the run's digits, with the separator's position if it had one."""
    if not digits.startswith("0") or digits[1:2] == "0":
        return None
    area = 3 if _SHORT_AREA.match(digits) else 4
    if split is not None and split != area:
        return None
    local = digits[area:]
    if len(local) not in (7, 8) or local[0] == "0":
        return None
    return f"{digits[:area]}-{local}"


def _number(groups: list[str]) -> str | None:
    digits = "".join(groups)
    if MOBILE.fullmatch(digits):
        return digits
    return _landline(digits, len(groups[0]) if len(groups) == 2 else None)


def _segments(groups: list[str]) -> list[str]:
    """Whole numbers made of consecutive separator groups, left to right."""
    out, start = [], 0
    for end in range(1, len(groups) + 1):
        number = _number(groups[start:end])
        if number is not None:
            out.append(number)
            start = end
    return out


def numbers_in(text: str) -> list[str]:
    """Every well-formed number in a piece of text, in order, without repeats."""
    text = unicodedata.normalize("NFKC", text)
    found: list[str] = []
    for match in _RUN.finditer(text):
        raw = match.group(0)
        real_digits = sum(c.isdigit() for c in raw)
        if real_digits < 6:  # "BOSS", "IOS": words, not numbers
            continue
        groups = re.split("[" + re.escape(_SEP) + "]", raw.translate(_LOOKALIKE))
        digits = "".join(groups)
        if not digits.isdigit():
            continue
        whole = _number(groups)
        if whole is not None:
            found.append(whole)
        elif len(digits) > 11:
            # Two numbers read as one run: split at the separators where whole numbers form,
            # else (no separators) look for mobiles inside.
            parts = _segments(groups)
            found += parts or [m.group(0) for m in MOBILE.finditer(digits)]
    return list(dict.fromkeys(found))


def normalize(typed: str) -> str | None:
    """A typed or confirmed number in its one stored form, or None if it is not one."""
    found = numbers_in(typed.strip())
    if len(found) != 1:
        return None
    number = found[0]
    rest = re.sub("[" + re.escape(_SEP) + r"+()（）]", "", unicodedata.normalize("NFKC", typed))
    compact = number.replace("-", "")
    # Nothing else may be typed around it (an 86 country prefix aside).
    if rest.translate(_LOOKALIKE) not in (compact, "86" + compact, "0086" + compact):
        return None
    return number


def kind_of(number: str) -> str:
    return "mobile" if MOBILE.fullmatch(number) else "landline"


def mask(number: str) -> str:
    """139****5678 / 024-****5678: what a role that does not contact advertisers reads."""
    if MOBILE.fullmatch(number):
        return f"{number[:3]}****{number[-4:]}"
    area, _, local = number.partition("-")
    return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"


KIND_NAMES = {"mobile": "手机", "landline": "固定电话"}
