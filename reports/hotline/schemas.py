"""What a 12345 order carries in, what the platform hears back, and the staff list."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from marshmallow import validate

from app.apispec import NOT_BLANK, bounded_datetime
from reports.schemas import LocationMixin

ORDER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
ORDER_ID_RULE = "工单编号只能含字母、数字和 _ . : -"
DUE_FILTERS = ("all", "open", "near", "overdue")


LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the platform's times without an offset are local


def _has_text(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("不能为空白")


def text(max_len: int, **kwargs) -> ma.fields.String:
    """A text of at most ``max_len`` characters that is not only blanks."""
    return ma.fields.String(validate=[validate.Length(min=1, max=max_len), _has_text],
                            metadata={"pattern": NOT_BLANK}, **kwargs)  # fmt: skip


class HotlineOrderIn(LocationMixin):
    """A work order of the 12345 platform (工单). The point is in the coordinate system the
    order states (``coord_sys``: bd09 for Baidu maps, gcj02, wgs84); without a point, the
    address (its district name places the case)."""

    class Meta(LocationMixin.Meta):
        unknown = ma.EXCLUDE  # the platform may send more than we use; kept with the order

    order_id = ma.fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(ORDER_ID, error=ORDER_ID_RULE)],
        metadata={"pattern": ORDER_ID},
    )
    category_code = ma.fields.String(validate=validate.Length(max=32), allow_none=True)
    category_name = ma.fields.String(validate=validate.Length(max=64), allow_none=True)
    title = ma.fields.String(validate=validate.Length(max=100), allow_none=True)
    content = text(2000, required=True)
    caller_phone = ma.fields.String(validate=validate.Length(max=20), allow_none=True)
    received_at = bounded_datetime(allow_none=True, default_timezone=LOCAL_TZ)
    reply_deadline = bounded_datetime(
        required=True, default_timezone=LOCAL_TZ, metadata={"description": "答复时限"}
    )

    @ma.validates_schema
    def long_enough(self, data, **_kwargs):
        """The case's description is the title and the content: five characters at least."""
        if len((data.get("content") or "").strip()) < 5 and not (data.get("title") or "").strip():
            raise ma.ValidationError("工单内容过短（至少5个字）", "content")


class HotlineOrderOut(ma.Schema):
    """The case an order became (the same for the platform's retries)."""

    order_id = ma.fields.String(required=True)
    case_number = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    state_label = ma.fields.String(required=True)
    created = ma.fields.Boolean(required=True, metadata={"description": "False for a retry"})


class HotlineListArgs(ma.Schema):
    due = ma.fields.String(load_default="open", validate=validate.OneOf(DUE_FILTERS),
                           metadata={"description": "open: not answered yet; near: due within "
                                     "HOTLINE_NEAR_HOURS; overdue: past the deadline, not "
                                     "answered; all"})  # fmt: skip
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))


class HotlinePushOut(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "none|sent|pending|failed"})
    label = ma.fields.String(required=True)
    sent = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    last_sent_at = ma.fields.AwareDateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class HotlineOrderItem(ma.Schema):
    order_id = ma.fields.String(required=True)
    platform = ma.fields.String(required=True)
    case_number = ma.fields.String(required=True)
    state = ma.fields.String(required=True)
    state_label = ma.fields.String(required=True)
    category_name = ma.fields.String(allow_none=True)
    mapped = ma.fields.Boolean(required=True)
    reply_deadline = ma.fields.AwareDateTime(required=True)
    answered_at = ma.fields.AwareDateTime(allow_none=True)
    deadline_status = ma.fields.String(required=True)
    deadline_label = ma.fields.String(required=True)
    overdue = ma.fields.Boolean(required=True)
    push = ma.fields.Nested(HotlinePushOut, required=True)


class HotlineListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(HotlineOrderItem), required=True)
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
