"""What the citizen is told, through the outbox (delivered by `flask worker` after the commit):
the review result, a reward accrued after waiting for budget, a transfer to confirm, money
received, and a transfer that expired unconfirmed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reports.littering.models import INVALID_REASONS, LitteringState
from reports.littering.rules import yuan
from reports.notify import enqueue_notice

if TYPE_CHECKING:
    from reports.littering.models import LitteringReport, Payout, RewardEntry


def _send(report: LitteringReport, state: str, text: str) -> None:
    enqueue_notice(
        report.reporter_id,
        report.number,
        state,
        text,
        page=f"pages/littering/detail?number={report.number}",
        path=f"/h5/littering/{report.number}",
    )


def review_result(report: LitteringReport) -> None:
    """The reviewer's decision."""
    if report.state == LitteringState.INVALID:
        reason = INVALID_REASONS.get(report.invalid_reason or "", "")
        _send(report, "无效", f"举报经审核无效：{reason}")
    elif report.state == LitteringState.DUPLICATE:
        _send(report, "重复", "他人已先举报该车辆，本次不重复奖励")
    elif report.entry is not None:
        _send(report, "有效", f"举报有效，奖励{yuan(report.entry.amount_fen)}元待发放")
    else:
        _send(report, "有效", report.reward_note or "举报经审核有效")


def reward_accrued(entry: RewardEntry) -> None:
    """A reward that waited for the next budget is now owed."""
    _send(entry.report, "有效", f"奖励{yuan(entry.amount_fen)}元已进入发放流程")


def to_confirm(payout: Payout) -> None:
    """A WeChat transfer waits for the citizen's confirmation (24 h)."""
    _send(
        payout.entry.report,
        "奖励待领取",
        f"奖励{yuan(payout.amount_fen)}元待领取，请24小时内确认收款",
    )


def paid(payout: Payout) -> None:
    """The money arrived (WeChat) or was handed over (offline)."""
    _send(payout.entry.report, "已到账", f"奖励{yuan(payout.amount_fen)}元已到账")


def expired(payout: Payout) -> None:
    """The transfer was not confirmed in 24 h: the reward goes back to be paid again."""
    _send(payout.entry.report, "待重新发放", "奖励未在24小时内确认收款，已退回，将重新发放")
