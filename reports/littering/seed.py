"""Demo 车窗抛物 data: a few hundred GENERATED reports over the last months in every state, with
rewards accrued, batched and paid (offline, in the past), so every console page has something to
show. Nothing here is real: citizens are "演示市民", plates are random, photos are drawn.

Rewards paid in the demo were paid offline (a voucher reference), never through WeChat Pay: the
WeChat Pay emulator knows no bill the seed did not make through it, and reconciliation would
rightly list such bills as differences. The demo leaves rewards accrued and a prepared batch, so
finance can release it and watch the worker pay through the emulator.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta

from flask import current_app
from PIL import Image, ImageDraw
from sqlalchemy import delete, select

from app.auth import service as auth_service
from app.auth.models import StaffUser, WechatApp
from app.db import utcnow
from app.extensions import db
from app.geo import regions, shapes
from app.media import service as media_service
from reports.littering import ledger, payouts, rules
from reports.littering.models import (
    INVALID_REASONS,
    Channel,
    EntryState,
    Evidence,
    Lead,
    LeadState,
    LitteringNumberSequence,
    LitteringReport,
    LitteringState,
    Payout,
    RewardEntry,
)
from reports.models import OutboxMessage
from reports.numbers import next_report_number

SEED = 20210601
PROVINCE_LETTERS = ("辽A", "辽A", "辽A", "辽H", "辽B", "吉A", "京N", "湘C")
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
CAR_COLOURS = ((200, 30, 30), (30, 30, 30), (230, 230, 230), (40, 70, 160), (150, 150, 150))


def _photo(rng: random.Random, plate: str) -> bytes:
    """A drawn car rear with a blue plate (no text rendering needed to be useful as evidence)."""
    img = Image.new("RGB", (320, 240), (rng.randrange(90, 160),) * 3)
    draw = ImageDraw.Draw(img)
    body = rng.choice(CAR_COLOURS)
    x0, y0 = rng.randrange(20, 80), rng.randrange(40, 90)
    draw.rectangle((x0, y0, x0 + 200, y0 + 120), fill=body)
    draw.rectangle((x0 + 70, y0 + 80, x0 + 130, y0 + 100), fill=(20, 60, 190))
    for i, _ch in enumerate(plate):
        draw.rectangle((x0 + 73 + i * 7, y0 + 84, x0 + 77 + i * 7, y0 + 96), fill=(240, 240, 240))
    draw.ellipse((x0 + 150, y0 + 20, x0 + 190, y0 + 60), fill=(rng.randrange(256), 200, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _points(rng: random.Random, n: int) -> list[tuple[float, float, int, str | None]]:
    """Random points inside the demo districts: (lat, lng, region id, district code)."""
    districts = [r for r in regions.region_shapes() if r.level == "district"]
    out = []
    while districts and len(out) < n:
        region = rng.choice(districts)
        min_lat, min_lng, max_lat, max_lng = region.shape.bbox
        lat, lng = rng.uniform(min_lat, max_lat), rng.uniform(min_lng, max_lng)
        if shapes.contains(region.shape, lat, lng):
            out.append((lat, lng, region.id, region.code))
    return out


def _plate(rng: random.Random) -> str:
    return rng.choice(PROVINCE_LETTERS) + "".join(
        rng.choice(LETTERS[:24] + "0123456789") for _ in range(5)
    )


def seed_demo_littering(n: int = 300) -> int:
    """Seed once (skipped when any littering report exists); returns the reports made."""
    if db.session.scalar(select(LitteringReport.id).limit(1)):
        return 0
    rng = random.Random(SEED)
    rule = rules.current_rule()
    app_id = _mini_app_id()
    citizens = [
        auth_service.citizen_from_wechat(WechatApp.MINIPROGRAM, app_id, f"demo-citizen-{i:03d}")[0]
        for i in range(40)
    ]
    for i, citizen in enumerate(citizens):
        citizen.nickname = f"演示市民{i + 1}"
    reviewer = db.session.scalar(select(StaffUser).where(StaffUser.username == "reviewer"))
    finance = db.session.scalar(select(StaffUser).where(StaffUser.username == "finance"))
    points = _points(rng, n)
    now = utcnow()
    made = []
    for i, (lat, lng, region_id, district) in enumerate(points):
        created = now - timedelta(days=rng.uniform(0.1, 180))
        plate = _plate(rng)
        citizen = rng.choice(citizens)
        report = LitteringReport(
            number=next_report_number(created, sequence=LitteringNumberSequence, prefix="CC"),
            reporter=citizen,
            plate=plate,
            plate_colour="blue",
            vehicle_type="car",
            occurred_at=created - timedelta(minutes=rng.randrange(5, 600)),
            lat=lat,
            lng=lng,
            region_id=region_id,
            district_code=district,
            address=None,
            description="行驶中从车窗扔出饮料瓶" if i % 3 else "车窗抛出烟头和纸巾",
            state=LitteringState.PENDING,
            created_at=created,
            signals=[],
            ocr_suggestions=[],
        )
        for pos in range(2):
            media = media_service.store_upload(_photo(rng, plate), citizen)
            report.evidence.append(Evidence(media=media, position=pos))
        db.session.add(report)
        made.append(report)
    db.session.flush()
    for report in made:
        _decide(rng, report, rule, reviewer)
    _pay_some(rng, finance)
    # The demo's history is not news: nobody is told today about rewards paid months ago.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.payload["path"].is_not(None)))
    db.session.flush()
    return len(made)


def _mini_app_id() -> str:
    return current_app.config["WECHAT_MINI_APP_ID"]


def _decide(rng: random.Random, report: LitteringReport, rule, reviewer) -> None:
    """Most reports are reviewed; recent ones may still wait."""
    age = utcnow() - report.created_at
    if age < timedelta(days=3) and rng.random() < 0.6:
        return  # 待审核
    report.reviewed_by, report.rule_version = reviewer, rule.version
    report.reviewed_at = report.created_at + timedelta(hours=rng.uniform(2, 60))
    roll = rng.random()
    if roll < 0.22:
        report.state = LitteringState.INVALID
        report.invalid_reason = rng.choice(list(INVALID_REASONS)[:5])
        return
    db.session.add(
        Lead(
            report=report,
            plate=report.plate,
            occurred_at=report.occurred_at,
            district_code=report.district_code,
            state=rng.choice(list(LeadState)),
        )
    )
    if roll < 0.30:
        report.state, report.reward_note = (
            LitteringState.DUPLICATE,
            "他人已先举报同一车辆，不重复奖励",
        )
        return
    report.state = LitteringState.VALID
    entry = RewardEntry(
        report=report,
        user_id=report.reporter_id,
        amount_fen=rule.reward_fen,
        rule_version=rule.version,
        state=EntryState.ACCRUED,
        budget_period=rules.period_key(report.reviewed_at, rule.budget_period),
        accrued_at=report.reviewed_at,
        created_at=report.reviewed_at,
    )
    report.reward_note = f"奖励{rules.yuan(rule.reward_fen)}元"
    db.session.add(entry)


def _pay_some(rng: random.Random, finance) -> None:
    """Rewards older than a week were paid offline (released by the admin); a few newer ones
    wait in a prepared batch; the rest are accrued."""
    db.session.flush()
    admin = db.session.scalar(select(StaffUser).where(StaffUser.username == "admin"))
    entries = db.session.scalars(select(RewardEntry).order_by(RewardEntry.id)).all()
    week_ago = utcnow() - timedelta(days=7)
    old = [e for e in entries if e.accrued_at < week_ago]
    recent = [e for e in entries if e.accrued_at >= week_ago]
    if old and finance is not None and admin is not None:
        batch = payouts.prepare_batch(
            finance, Channel.OFFLINE, [e.id for e in old], note="演示：历史线下发放"
        )
        payouts.release_batch(batch, admin)
        for payout in db.session.scalars(select(Payout).where(Payout.batch_id == batch.id)):
            payouts.record_offline(payout, finance, f"DEMO-{payout.id:06d}", None)
    if len(recent) > 3 and finance is not None:
        payouts.prepare_batch(
            finance,
            Channel.WECHAT,
            [e.id for e in recent[: len(recent) // 2]],
            note="演示：待放行批次",
        )
    db.session.flush()
    result = ledger.check()
    if not result.ok:  # the demo must balance like real data
        raise RuntimeError(f"demo ledger does not balance: {result.problems}")
