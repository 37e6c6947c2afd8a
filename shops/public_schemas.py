"""What the public sees of a shop (the mini-program's JSON), and the heat-map query arguments.

The public view is built once per shop into cached JSON (shops/lookup.py); these schemas document
it in the OpenAPI spec and validate query arguments. Owner fields are masked before they get here.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.apispec import Bbox
from app.geo.grid import CELL_DEFAULT_M, CELL_MAX_M, CELL_MIN_M


class NamedOut(ma.Schema):
    code = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)


class DutyOut(ma.Schema):
    name = ma.fields.String(metadata={"description": "门前三包 item, e.g. 包市容整洁"})
    detail = ma.fields.String()


class ResolvedReportOut(ma.Schema):
    category = ma.fields.String(allow_none=True)
    closed_on = ma.fields.String(metadata={"description": "Asia/Shanghai date, YYYY-MM-DD"})
    state_label = ma.fields.String()


class ReportCategoryOut(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "部件 or 事件"})


class LocationOut(ma.Schema):
    lat = ma.fields.Float()
    lng = ma.fields.Float()
    coord_sys = ma.fields.String(metadata={"description": "always gcj02"})


class ShopPublicOut(ma.Schema):
    """A shop as a citizen sees it after scanning its plate."""

    code = ma.fields.String(metadata={"description": "the plate code scanned"})
    shop_id = ma.fields.Integer(metadata={"description": "send as shop_id to POST /api/v1/reports"})
    name = ma.fields.String()
    industry = ma.fields.Nested(NamedOut)
    address = ma.fields.String()
    district = ma.fields.Nested(NamedOut)
    street = ma.fields.String(allow_none=True)
    location = ma.fields.Nested(LocationOut)
    business_hours = ma.fields.String()
    status = ma.fields.String(metadata={"description": "active (others answer 403/410)"})
    status_label = ma.fields.String()
    credit_code = ma.fields.String(metadata={"description": "统一社会信用代码"})
    owner_name = ma.fields.String(metadata={"description": "masked, e.g. 张*"})
    owner_phone = ma.fields.String(metadata={"description": "masked, e.g. 138****5678"})
    duties = ma.fields.List(ma.fields.Nested(DutyOut))
    recent_reports = ma.fields.List(
        ma.fields.Nested(ResolvedReportOut),
        metadata={"description": "the last 10 closed or archived reports about the shop"},
    )
    report_url = ma.fields.String(metadata={"description": "the H5 report form bound to the shop"})
    report_categories = ma.fields.List(ma.fields.Nested(ReportCategoryOut))


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class HeatmapArgs(ma.Schema):
    """Filters and grid size of the heat map."""

    industry = ma.fields.String(
        load_default="", metadata={"description": "industry codes, comma-separated"}
    )
    district = ma.fields.String(
        load_default="", metadata={"description": "district codes (adcode), comma-separated"}
    )
    bbox = Bbox(metadata={"description": "minLng,minLat,maxLng,maxLat (GCJ-02)"})
    cell = ma.fields.Integer(
        load_default=CELL_DEFAULT_M,
        validate=ma.validate.Range(CELL_MIN_M, CELL_MAX_M),
        metadata={"description": "square cell size in metres"},
    )

    @ma.post_load
    def split(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Turn the comma lists into lists; no bbox is None."""
        data["industry"] = _csv(data["industry"])
        data["district"] = _csv(data["district"])
        data.setdefault("bbox", None)
        return data
