"""12345 work orders: the signed order in, the case it becomes, the reply deadline, and every
workflow step of the case queued for the platform (pushed by ``reports.hotline.push``).

Services flush, never commit: the view (or the worker round) commits once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import Conflict, Forbidden, ServiceUnavailable, Unauthorized
from app.extensions import db
from app.geo import regions
from reports import queries
from reports.hotline import mapping, signing
from reports.hotline.models import PUSH_KIND, HotlineOrder
from reports.models import (
    Channel,
    OutboxMessage,
    OutboxStatus,
    Report,
    ReportState,
)
from reports.service import Submission, submit_report
from reports.workflow import ACTIONS

log = logging.getLogger(__name__)

# A case in one of these has had its answer (办结、退回 ...): the reply deadline is met then.
ANSWER_STATES = frozenset(
    {ReportState.HANDLED, ReportState.CLOSED, ReportState.ARCHIVED, ReportState.REJECTED,
     ReportState.VOIDED, ReportState.MERGED}
)  # fmt: skip
# Steps that change no state but that the platform hears of (a new department, a new due time).
PUSHED_WITHOUT_STATE_CHANGE = frozenset({"redispatch", "approve_extension"})
STEP_LABELS = {"receive": "接收工单", "reopen": "市民要求重新办理"}
SIGNATURE_MESSAGES = {
    "missing": ("signature_missing", "缺少签名或时间戳"),
    "stale": ("stale_timestamp", "时间戳无效或已过期，请校准时钟后重新签名发送"),
    "bad": ("bad_signature", "签名校验失败"),
}
OUTSIDE_NOTE = "已接收；工单坐标不在本市范围内，待人工核实位置"
SAME_ID_OTHER_BODY = "该工单编号已接收过内容不同的工单，请核对工单编号"


# ---------------------------------------------------------------- the order in


def check_signature(headers: Any, body: bytes) -> str:
    """The platform id of a correctly signed, fresh request (401 otherwise; 403 for a platform
    we do not serve; 503 when no secret is configured)."""
    cfg = current_app.config
    secret = cfg.get("HOTLINE_SECRET") or ""
    if not secret:
        raise ServiceUnavailable("12345热线接口未启用", code="hotline_disabled")
    try:
        platform = signing.verify(secret, headers, body, cfg["HOTLINE_MAX_SKEW_SECONDS"])
    except signing.SignatureProblem as exc:
        code, message = SIGNATURE_MESSAGES[exc.code]
        raise Unauthorized(message, code=code) from None
    if platform != cfg["HOTLINE_PLATFORM_ID"]:
        raise Forbidden("未知的12345平台标识", code="unknown_platform")
    return platform


def find_order(platform: str, order_id: str) -> HotlineOrder | None:
    return db.session.scalar(
        select(HotlineOrder).where(
            HotlineOrder.platform == platform, HotlineOrder.order_id == order_id
        )  # fmt: skip
    )


def replay(platform: str, order_id: str, body_sha256: str) -> HotlineOrder | None:
    """The order this id already made (the platform's retry), or None; 409 if that order said
    something else."""
    order = find_order(platform, order_id)
    if order is not None and order.body_sha256 != body_sha256:
        raise Conflict(SAME_ID_OTHER_BODY, code="order_id_reused")
    return order


def receive(platform: str, data: dict[str, Any], raw: Any) -> tuple[HotlineOrder, bool]:
    """Turn an order (``raw`` as sent, ``data`` as ``schemas.HotlineOrderIn`` loaded it) into a
    case: (order, created). The same order again is the one already made; the caller commits (and
    on an IntegrityError from a parallel retry rolls back and asks ``replay``)."""
    digest = signing.canonical_sha256(raw)
    found = replay(platform, data["order_id"], digest)
    if found is not None:
        return found, False
    our_code = mapping.our_category_code(data.get("category_code"), data.get("category_name"))
    lat, lng, address, note = _point(data)
    sub = Submission(
        description=_description(data), channel=Channel.HOTLINE, lat=lat, lng=lng,
        coord_sys=data["coord_sys"], address=address, category_code=our_code,
        idempotency_key=data["order_id"], contact_phone=data.get("caller_phone"),
        photos_required=False)  # fmt: skip
    report, _ = submit_report(sub, owner_key=f"hotline:{platform}")
    if report.lat is None and (district := mapping.district_in_address(address)):
        report.region_id, report.district_code = district.region_id, district.code
    order = HotlineOrder(
        platform=platform, order_id=data["order_id"], report=report, body_sha256=digest,
        category_code=data.get("category_code"), category_name=data.get("category_name"),
        mapped_code=our_code, coord_sys=data["coord_sys"] if lat is not None else None,
        received_at=data.get("received_at"), reply_deadline=data["reply_deadline"],
        payload=raw)  # fmt: skip
    db.session.add(order)
    db.session.flush()
    if report.state in ANSWER_STATES:
        order.answered_at = utcnow()
    enqueue_push(order, report, "receive", note or f"已接收，案件编号{report.number}")
    log.info("12345 order %s became case %s (category %s -> %s)", order.order_id,
             report.number, order.category_name, our_code or "classifier")  # fmt: skip
    return order, True


def _description(data: dict[str, Any]) -> str:
    title, content = (data.get("title") or "").strip(), data["content"].strip()
    return f"{title}：{content}" if title and title not in content else content


def _point(data: dict[str, Any]) -> tuple[float | None, float | None, str | None, str | None]:
    """(lat, lng, address, note): the order's point, or none when it lies outside the city
    (the order is kept: it waits for a dispatcher, located by its address)."""
    lat, lng, address = data.get("lat"), data.get("lng"), data.get("address")
    if lat is None or lng is None:
        return None, None, address, None
    try:
        regions.where(lat, lng, data["coord_sys"])
    except regions.OutsideCity:
        return None, None, address or "（工单坐标在本市范围外）", OUTSIDE_NOTE
    return lat, lng, address, None


# ---------------------------------------------------------------- every step out


def on_state_change(report: Report, action: str, before: ReportState, public: str | None) -> None:
    """reports.transitions' listener: a step of a 12345 case is queued for the platform."""
    if report.channel != Channel.HOTLINE:
        return
    if report.state == before and action not in PUSHED_WITHOUT_STATE_CHANGE:
        return
    order = db.session.scalar(select(HotlineOrder).where(HotlineOrder.report_id == report.id))
    if order is None:  # a call a dispatcher typed in, or the order is being created now
        return
    if report.state in ANSWER_STATES and order.answered_at is None:
        order.answered_at = utcnow()
    elif report.state not in ANSWER_STATES:
        order.answered_at = None  # back to work (returned, reworked, reopened): not answered
    enqueue_push(order, report, action, public)


def enqueue_push(order: HotlineOrder, report: Report, action: str, text: str | None) -> None:
    """An outbox row with the case as it stands now, numbered within the order."""
    order.push_seq += 1
    label = STEP_LABELS.get(action) or (ACTIONS[action].label if action in ACTIONS else action)
    payload = {
        "push_id": f"{order.platform}:{order.order_id}:{order.push_seq}",
        "order_id": order.order_id,
        "seq": order.push_seq,
        "case_number": report.number,
        "action": action,
        "action_label": label,
        "state": report.state.value,
        "state_label": report.state.label,
        "department": report.department.name if report.department else None,
        "text": text or label,
        "due_at": report.due_at.isoformat() if report.due_at else None,
        "at": utcnow().isoformat(),
    }
    db.session.add(OutboxMessage(kind=PUSH_KIND, status=OutboxStatus.PENDING,
                                 report_id=report.id, payload=payload))  # fmt: skip


# ---------------------------------------------------------------- the deadline


@dataclass(frozen=True)
class Deadline:
    """How an order stands against its reply deadline, as staff read it."""

    status: str  # answered | answered_late | open | near | overdue
    label: str

    @property
    def overdue(self) -> bool:
        return self.status in ("overdue", "answered_late")


def _span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{mins}分钟" if hours else f"{mins}分钟"


def deadline_of(order: HotlineOrder, now: datetime | None = None) -> Deadline:
    now = now or utcnow()
    if order.answered_at is not None:
        if order.answered_at > order.reply_deadline:
            late = _span(order.answered_at - order.reply_deadline)
            return Deadline("answered_late", f"已答复（超期{late}）")
        return Deadline("answered", "已按时答复")
    if now > order.reply_deadline:
        return Deadline("overdue", f"已超期{_span(now - order.reply_deadline)}")
    near = now + timedelta(hours=current_app.config["HOTLINE_NEAR_HOURS"])
    left = f"剩余{_span(order.reply_deadline - now)}"
    return Deadline("near" if order.reply_deadline <= near else "open", left)


PUSH_LABELS = {"none": "尚无推送", "sent": "已全部推送", "pending": "待推送", "failed": "推送失败"}


def push_status(report_id: int) -> dict[str, Any]:
    """The pushes of a case's order: counts by status, the last one sent, the last error."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count(), func.max(OutboxMessage.sent_at))
        .where(OutboxMessage.report_id == report_id, OutboxMessage.kind == PUSH_KIND)
        .group_by(OutboxMessage.status)
    ).all()  # fmt: skip
    counts = {status: count for status, count, _ in rows}
    last_sent = max((at for status, _, at in rows if at is not None), default=None)
    error = db.session.scalar(
        select(OutboxMessage.last_error)
        .where(OutboxMessage.report_id == report_id, OutboxMessage.kind == PUSH_KIND,
               OutboxMessage.last_error.is_not(None), OutboxMessage.status != OutboxStatus.SENT)
        .order_by(OutboxMessage.id.desc()).limit(1)
    )  # fmt: skip
    failed, pending = counts.get(OutboxStatus.FAILED, 0), counts.get(OutboxStatus.PENDING, 0)
    status = "failed" if failed else "pending" if pending else "sent" if counts else "none"
    label = PUSH_LABELS[status]
    if status in ("failed", "pending"):
        label += f"{failed or pending}条"
    return {"status": status, "label": label, "sent": counts.get(OutboxStatus.SENT, 0),
            "pending": pending, "failed": failed, "last_sent_at": last_sent,
            "last_error": error}  # fmt: skip


def order_view(order: HotlineOrder, now: datetime | None = None) -> dict[str, Any]:
    """An order as staff see it (the API's item and the pages' rows)."""
    report = order.report
    deadline = deadline_of(order, now)
    return {
        "order_id": order.order_id,
        "platform": order.platform,
        "case_number": report.number,
        "state": report.state.value,
        "state_label": report.state.label,
        "category_name": order.category_name,
        "mapped": order.mapped_code is not None,
        "reply_deadline": order.reply_deadline,
        "answered_at": order.answered_at,
        "deadline_status": deadline.status,
        "deadline_label": deadline.label,
        "overdue": deadline.overdue,
        "push": push_status(report.id),
    }


def order_for_case(number: str) -> HotlineOrder | None:
    """The 12345 order behind a case, if it came from the platform."""
    return db.session.scalar(
        select(HotlineOrder).join(Report, HotlineOrder.report_id == Report.id)
        .where(Report.number == number)
    )  # fmt: skip


def staff_orders(staff: StaffUser, due: str, page: int, per_page: int):
    """The orders of cases this account may see, filtered by deadline (``due``: all, open,
    near, overdue), soonest deadline first (all: newest first); (orders, total)."""
    now = utcnow()
    query = queries.scoped(
        select(HotlineOrder).join(Report, HotlineOrder.report_id == Report.id), staff
    )
    if due != "all":
        query = query.where(HotlineOrder.answered_at.is_(None))
    if due == "near":
        near = now + timedelta(hours=current_app.config["HOTLINE_NEAR_HOURS"])
        query = query.where(HotlineOrder.reply_deadline > now,
                            HotlineOrder.reply_deadline <= near)  # fmt: skip
    elif due == "overdue":
        query = query.where(HotlineOrder.reply_deadline < now)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    order = (HotlineOrder.id.desc(),) if due == "all" else (HotlineOrder.reply_deadline,
                                                            HotlineOrder.id)  # fmt: skip
    items = db.session.scalars(query.order_by(*order).limit(per_page)
                               .offset((page - 1) * per_page)).all()  # fmt: skip
    return list(items), total
