"""Checking an import's records: every field of a record is checked and every problem named
(row, field, reason), so a bad row is refused whole, never half-imported. A good record becomes
the facility's column values, placed in both coordinate systems and in its district.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.errors import ValidationFailed
from app.extensions import db
from app.geo import regions
from services_nearby import hours, service
from services_nearby.importing.records import COORD_SYSTEMS, MAX_LEN, Record, RowError
from services_nearby.models import FacilityKind

YES_NO = {"是": True, "否": False, "有": True, "无": False, "yes": True, "no": False,
          "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}  # fmt: skip
MAX_INT = 2**31 - 1


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float | None:
    try:
        number = float(_text(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class KindRef:
    """What validation needs of a kind (plain values: they survive the batch commits)."""

    id: int
    code: str
    is_active: bool


class RowValidator:
    """Turns a record into column values, or lists every problem with it."""

    def __init__(self, default_kind: FacilityKind | None, default_sys: str) -> None:
        self.kinds: dict[str, KindRef] = {}
        for kind in db.session.scalars(select(FacilityKind).order_by(FacilityKind.id.desc())):
            ref = KindRef(kind.id, kind.code, kind.is_active)
            for key in (kind.title, kind.name, kind.code.lower()):
                self.kinds[key] = ref
        self.default_kind = default_kind and KindRef(default_kind.id, default_kind.code, True)
        self.default_sys = default_sys
        self.regions = regions.snapshot()  # one view of the regions for the whole file
        self.seen: dict[str, int] = {}
        self.hours: dict[str, str | hours.HoursError] = {}

    def __call__(self, record: Record) -> tuple[dict[str, Any] | None, list[RowError]]:
        """(values, []) for a good record, (None, errors) for a bad one."""
        errors: list[RowError] = []
        raw = record.raw

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(record.row, name, reason, record.ref))

        kind = self._kind(raw.get("kind"), fail)
        values: dict[str, Any] = {"kind_id": kind and kind.id}
        for name in ("name", "address", "fee"):
            if name in raw or name == "name":
                values[name] = self._short(name, raw.get(name), fail)
        if "opening_hours" in raw:
            values["opening_hours"] = self._hours(raw["opening_hours"], fail)
        if "accessible" in raw:
            values["accessible"] = self._accessible(raw["accessible"], fail)
        if "capacity" in raw:
            values["capacity"] = self._capacity(raw["capacity"], fail)
        self._place(raw, values, fail)
        if not errors:
            values["external_id"] = self._external_id(record, kind, values, fail)
        return (None, errors) if errors else (values, [])

    def _kind(self, value: Any, fail: Callable) -> KindRef | None:
        text = _text(value)
        if not text:
            if self.default_kind is None:
                fail("kind", "不能为空")
            return self.default_kind
        kind = self.kinds.get(text) or self.kinds.get(text.lower())
        if kind is None:
            fail("kind", f"设施类型“{text}”不存在")
        elif not kind.is_active:
            fail("kind", f"设施类型“{text}”已停用")
        return kind

    def _short(self, name: str, value: Any, fail: Callable) -> str:
        text = _text(value)
        if name == "name" and not text:
            fail(name, "不能为空")
        elif len(text) > MAX_LEN[name]:
            fail(name, f"不能超过 {MAX_LEN[name]} 个字")
        return text

    def _hours(self, value: Any, fail: Callable) -> str:
        text = _text(value)
        if text not in self.hours:
            try:
                self.hours[text] = hours.parse(text).text
            except hours.HoursError as exc:
                self.hours[text] = exc
        parsed = self.hours[text]
        if isinstance(parsed, hours.HoursError):
            fail("opening_hours", str(parsed))
            return ""
        return parsed

    def _accessible(self, value: Any, fail: Callable) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = _text(value).lower()
        if text and text not in YES_NO:
            fail("accessible", "应为 是/否（或 yes/no、true/false、1/0），不知道时留空")
        return YES_NO.get(text)

    def _capacity(self, value: Any, fail: Callable) -> int | None:
        text = _text(value)
        if not text:
            return None
        if not re.fullmatch(r"\d+", text) or int(text) > MAX_INT:
            fail("capacity", "应为不小于 0 的整数，不知道时留空")
            return None
        return int(text)

    def _place(self, raw: dict[str, Any], values: dict[str, Any], fail: Callable) -> None:
        if "_geometry" in raw:
            fail("geometry", raw["_geometry"])
            return
        key = _text(raw.get("coord_sys")).lower().replace("-", "").replace("_", "")
        coord_sys = COORD_SYSTEMS.get(key) if key else self.default_sys
        lat, lng = _number(raw.get("lat")), _number(raw.get("lng"))
        bad = coord_sys is None or lat is None or lng is None
        if coord_sys is None:
            fail("coord_sys", "应为 wgs84、gcj02 或 bd09")
        if lat is None or not -90 <= lat <= 90:
            bad = True
            fail("lat", "纬度应为 -90 到 90 之间的数字")
        if lng is None or not -180 <= lng <= 180:
            bad = True
            fail("lng", "经度应为 -180 到 180 之间的数字")
        if bad:
            return
        try:
            p = service.point(lat, lng, coord_sys)
        except ValidationFailed as exc:
            for name, reasons in (exc.fields or {"lat": [exc.message]}).items():
                fail(name, "；".join(reasons))
            return
        district = self.regions.district_code(p.lat, p.lng)
        values.update(lat=p.lat, lng=p.lng, wgs_lat=p.wgs_lat, wgs_lng=p.wgs_lng,
                      coord_sys_in=coord_sys, district_code=district)  # fmt: skip

    def _external_id(self, record: Record, kind: KindRef, values: dict, fail: Callable) -> str:
        given = _text(record.raw.get("external_id"))
        if len(given) > MAX_LEN["external_id"]:
            fail("external_id", f"不能超过 {MAX_LEN['external_id']} 个字符")
        # Rows without an id get one from what identifies them, so a re-import finds them again.
        key = f"{kind.code}|{values['name']}|{values['lat']:.6f}|{values['lng']:.6f}"
        external_id = given or "auto:" + hashlib.sha1(key.encode()).hexdigest()[:32]  # noqa: S324
        first = self.seen.setdefault(external_id, record.row)
        if first != record.row:
            if given:
                fail("external_id", f"与第 {first} 条的编号重复")
            else:
                fail("name", f"与第 {first} 条重复（类型、名称、坐标都相同）")
        return external_id
