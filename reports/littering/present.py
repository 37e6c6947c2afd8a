"""What each audience sees of a littering report, a reward, a batch, a payout and a lead.

The citizen sees their own report (their plate, their evidence) and the reward's progress with
what WeChat needs to confirm receipt; staff see the evidence, OCR, signals and the same car's
other reports. Reporters are shown to staff by masked nickname and phone only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app

from app.extensions import db
from app.media import service as media_service
from app.media.models import Media
from reports.littering import ledger, plates, rules, service
from reports.littering.models import (
    CHANNEL_LABELS,
    INVALID_REASONS,
    LEAD_LABELS,
    BatchState,
    Lead,
    LitteringReport,
    Payout,
    PayoutBatch,
    PayoutState,
    RewardEntry,
)
from reports.littering.payouts import CONFIRM_WINDOW
from reports.littering.plates import PLATE_COLOURS
from wechat.pay import transfer_client


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def media_view(media: Media) -> dict[str, Any]:
    """A photo or video with a short-lived URL (and the video's poster)."""
    out = {
        "id": media.public_id,
        "kind": media.kind,
        "url": media_service.signed_url(media).url,
        "width": media.width,
        "height": media.height,
    }
    if media.kind == "video":
        out["duration_ms"] = media.duration_ms
        poster = db.session.get(Media, media.poster_id) if media.poster_id else None
        out["poster_url"] = media_service.signed_url(poster).url if poster else None
    return out


def reward_view(entry: RewardEntry | None, *, citizen: bool) -> dict[str, Any] | None:
    """A reward's amount and progress; the citizen also gets what confirming receipt needs."""
    if entry is None:
        return None
    live = ledger.live_payout(entry)
    out = {
        "amount_fen": entry.amount_fen,
        "amount_yuan": rules.yuan(entry.amount_fen),
        "state": entry.state.value,
        "state_label": entry.state_label,
        "paid_at": _iso(entry.paid_at),
    }
    if live is not None and live.state == PayoutState.WAIT_CONFIRM and live.package_info:
        out["confirm"] = transfer_client().confirm_params(live.package_info, live.appid) | {
            "out_bill_no": live.out_bill_no,
            "expires_at": _iso(live.sent_at + CONFIRM_WINDOW) if live.sent_at else None,
            "emulator_url": _emulator_confirm_url(live.package_info),
        }
    if not citizen:
        out["id"] = entry.id
        out["payouts"] = [payout_view(p) for p in entry.payouts]
    return out


def _emulator_confirm_url(package: str) -> str | None:
    """The emulator's confirm page (embedded mode), standing in for WeChat's own sheet."""
    if not current_app.config.get("WECHATPAY_EMULATOR"):
        return None
    return f"{current_app.config['PUBLIC_BASE_URL']}/_wechatpay/confirm?package={quote(package)}"


def citizen_view(report: LitteringReport, *, detail: bool = True) -> dict[str, Any]:
    """One of the citizen's own reports."""
    code, label = service.citizen_status(report)
    out = {
        "number": report.number,
        "status": code,
        "status_label": label,
        "plate": report.plate,
        "plate_colour": report.plate_colour,
        "plate_colour_label": PLATE_COLOURS.get(report.plate_colour, report.plate_colour),
        "occurred_at": _iso(report.occurred_at),
        "created_at": _iso(report.created_at),
        "address": report.address,
        "invalid_reason": INVALID_REASONS.get(report.invalid_reason or "") or None,
        "reward_note": report.reward_note,
        "reward": reward_view(report.entry, citizen=True),
    }
    if detail:
        out |= {
            "vehicle_type": report.vehicle_type,
            "vehicle_colour": report.vehicle_colour,
            "description": report.description,
            "evidence": [media_view(e.media) for e in report.evidence],
            "plate_suggestions": report.ocr_suggestions or [],
        }
    return out


def staff_item(report: LitteringReport) -> dict[str, Any]:
    """A row of the review queue."""
    return {
        "number": report.number,
        "state": report.state.value,
        "state_label": report.state_label,
        "plate": report.plate,
        "plate_colour": report.plate_colour,
        "occurred_at": _iso(report.occurred_at),
        "created_at": _iso(report.created_at),
        "district_code": report.district_code,
        "address": report.address,
        "signals": len(report.signals or []),
        "evidence": len(report.evidence),
        "version": report.version,
    }


def staff_view(report: LitteringReport) -> dict[str, Any]:
    """A report for the reviewer: evidence, OCR, signals and the same car's other reports."""
    others = service.same_car_reports(report)
    reporter = report.reporter
    out = staff_item(report) | {
        "vehicle_type": report.vehicle_type,
        "vehicle_colour": report.vehicle_colour,
        "lat": report.lat,
        "lng": report.lng,
        "description": report.description,
        "reporter": {
            "id": reporter.id,
            "nickname": _mask_name(reporter.nickname),
            "phone": _mask_phone(reporter.phone),
        },
        "evidence": [
            media_view(e.media) | {"captured_at": _iso(e.media.captured_at)}
            for e in report.evidence
        ],
        "plate_suggestions": report.ocr_suggestions or [],
        "signals": report.signals or [],
        "same_car": [
            staff_item(r)
            | {
                "distance": service.distance_label(r, report),
                "evidence_urls": [media_view(e.media)["url"] for e in r.evidence[:3]],
            }
            for r in others
        ],
        "invalid_reason": report.invalid_reason,
        "invalid_reason_label": INVALID_REASONS.get(report.invalid_reason or ""),
        "review_note": report.review_note,
        "reward_note": report.reward_note,
        "rule_version": report.rule_version,
        "reviewed_at": _iso(report.reviewed_at),
        "reviewed_by": report.reviewed_by.display_name if report.reviewed_by else None,
        "duplicate_of": _number(report.duplicate_of_id),
        "reward": reward_view(report.entry, citizen=False),
        "lead": lead_view(report.lead) if report.lead else None,
    }
    return out


def _number(report_id: int | None) -> str | None:
    if report_id is None:
        return None
    other = db.session.get(LitteringReport, report_id)
    return other.number if other else None


def _mask_name(name: str | None) -> str:
    if not name:
        return "微信用户"
    return name[0] + "*" * max(1, len(name) - 1)


def _mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def entry_item(entry: RewardEntry) -> dict[str, Any]:
    """A row of the finance list of rewards."""
    live = ledger.live_payout(entry)
    last = entry.payouts[-1] if entry.payouts else None
    return {
        "id": entry.id,
        "report": entry.report.number,
        "user_id": entry.user_id,
        "plate": plates.mask_plate(entry.report.plate),
        "amount_fen": entry.amount_fen,
        "amount_yuan": rules.yuan(entry.amount_fen),
        "state": entry.state.value,
        "state_label": entry.state_label,
        "rule_version": entry.rule_version,
        "budget_period": entry.budget_period,
        "batch_id": entry.batch_id,
        "note": entry.cancel_reason,
        "accrued_at": _iso(entry.accrued_at),
        "paid_at": _iso(entry.paid_at),
        "payout": payout_view(live or last) if (live or last) else None,
        "version": entry.version,
    }


def batch_view(batch: PayoutBatch, *, entries: bool = False) -> dict[str, Any]:
    """A payout batch and who prepared and released it."""
    out = {
        "number": batch.number,
        "channel": batch.channel.value,
        "channel_label": CHANNEL_LABELS[batch.channel],
        "state": batch.state.value,
        "state_label": {
            BatchState.PREPARED: "待放行",
            BatchState.RELEASED: "已放行",
            BatchState.CANCELLED: "已撤销",
        }[batch.state],
        "count": batch.count,
        "total_fen": batch.total_fen,
        "total_yuan": rules.yuan(batch.total_fen),
        "note": batch.note,
        "prepared_by": batch.prepared_by.display_name,
        "prepared_by_id": batch.prepared_by_id,
        "prepared_at": _iso(batch.prepared_at),
        "released_by": batch.released_by.display_name if batch.released_by else None,
        "released_at": _iso(batch.released_at),
        "version": batch.version,
    }
    if entries:
        out["entries"] = [entry_item(e) for e in sorted(batch.entries, key=lambda e: e.id)]
    return out


def payout_view(payout: Payout) -> dict[str, Any]:
    """One transfer attempt, for finance."""
    return {
        "out_bill_no": payout.out_bill_no,
        "channel": payout.channel.value,
        "state": payout.state.value,
        "state_label": payout.state_label,
        "wechat_state": payout.wechat_state,
        "amount_fen": payout.amount_fen,
        "fail_reason": payout.fail_reason,
        "last_error": payout.last_error,
        "calls": payout.calls,
        "sent_at": _iso(payout.sent_at),
        "finished_at": _iso(payout.finished_at),
        "reference": payout.offline_reference,
        "previous": payout.previous_id is not None,
    }


def lead_view(lead: Lead) -> dict[str, Any]:
    """A violation lead for the enforcement unit."""
    report = lead.report
    return {
        "id": lead.id,
        "report": report.number,
        "plate": lead.plate,
        "occurred_at": _iso(lead.occurred_at),
        "address": report.address,
        "lat": report.lat,
        "lng": report.lng,
        "district_code": lead.district_code,
        "state": lead.state.value,
        "state_label": LEAD_LABELS[lead.state],
        "case_number": lead.case_number,
        "penalty_fen": lead.penalty_fen,
        "note": lead.note,
        "evidence": len(report.evidence),
        "version": lead.version,
    }
