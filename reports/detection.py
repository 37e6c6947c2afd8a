"""Detection devices (路长慧眼): the algorithm catalogue, the cool-down, and each algorithm's
precision as dispatchers judge it.

- The catalogue is data (``data/detection_algorithms.csv``, seeded by ``seed_algorithms`` with the
  other reference data, then edited by admins): each algorithm names the category its detections
  become, the confidence at or above which a detection is registered and dispatched without a
  dispatcher, and a cool-down (seconds, metres).
- Every detection a device posts with an algorithm is one ``DetectionEvent``. The first one at a
  place opens a case (``is_repeat`` false: the case's origin). A detection by the same device
  and algorithm within the cool-down radius of an origin and within its cool-down seconds after
  that origin opens no case: it is kept as a repeat of the origin's case. Repeat counts and the
  last sighting are queries over these rows, never counters.
- A false positive is a machine case a dispatcher judged not to be a problem: 不予立案 for any
  reason but 重复上报, or 作废. A confirmed detection is a case that was dispatched (by the
  system or a dispatcher) and not later rejected, voided or merged. 重复上报 rejections and merges
  are duplicates: the detection was right but redundant, so they count in neither. Precision =
  confirmed / (confirmed + false positives), over origins detected in the period.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.audit import record
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from app.geo import coords
from reports import reference
from reports.models import Category, IngestDevice, Report, ReportState
from reports.stats import SHANGHAI, StatsQuery, percent

ALGORITHMS_CSV = Path(__file__).parent / "data" / "detection_algorithms.csv"
_FIELDS = ("name", "threshold", "cooldown_seconds", "cooldown_radius_m", "description")
DUPLICATE_REASON = "duplicate"  # reports.workflow.REJECT_REASONS: 重复上报


class DetectionAlgorithm(db.Model):
    """One algorithm the cameras run: what its detections become and how they are routed."""

    __tablename__ = "detection_algorithms"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    # A detection at or above this confidence is registered and dispatched without a dispatcher.
    threshold: Mapped[float] = mapped_column(Double)
    cooldown_seconds: Mapped[int] = mapped_column(Integer)
    cooldown_radius_m: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[Category] = relationship()


class DetectionEvent(db.Model):
    """One detection a device posted with an algorithm: a case's origin or a repeat of it."""

    __tablename__ = "detection_events"
    __table_args__ = (
        UniqueConstraint("device_id", "event_id", name="uq_detection_events_device_event"),
        # The cool-down looks up this device's recent origins of one algorithm.
        Index("ix_detection_events_cooldown", "device_id", "algorithm_id", "is_repeat",
              "detected_at"),
        # Precision: origins of a period, per algorithm.
        Index("ix_detection_events_period", "is_repeat", "detected_at", "algorithm_id"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("ingest_devices.id"))
    algorithm_id: Mapped[int] = mapped_column(ForeignKey("detection_algorithms.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)  # GCJ-02
    lng: Mapped[float | None] = mapped_column(Double)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_repeat: Mapped[bool] = mapped_column(default=False)

    algorithm: Mapped[DetectionAlgorithm] = relationship()
    device: Mapped[IngestDevice] = relationship()
    report: Mapped[Report] = relationship()


# -- the catalogue -------------------------------------------------------------------------------


def _row_values(row: dict[str, str]) -> dict[str, Any]:
    return {
        "name": row["name"].strip(),
        "threshold": float(row["threshold"]),
        "cooldown_seconds": int(row["cooldown_seconds"]),
        "cooldown_radius_m": int(row["cooldown_radius_m"]),
        "description": row.get("description", "").strip() or None,
    }


def seed_algorithms(path: Path = ALGORITHMS_CSV, *, keep_existing: bool = False) -> dict[str, int]:
    """Upsert algorithms by code from the CSV (the categories must be seeded first); counts of
    created, updated, unchanged rows. ``is_active`` is set on creation only (an admin's choice
    stays); with ``keep_existing`` existing rows are left as they are."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    categories = {c.code: c.id for c in db.session.scalars(select(Category))}
    existing = {a.code: a for a in db.session.scalars(select(DetectionAlgorithm))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        code = row["code"].strip()
        category_id = categories.get(row["category_code"].strip())
        if category_id is None:
            raise ValueError(f"{path.name}: {code} names unknown category {row['category_code']}")
        values = _row_values(row) | {"category_id": category_id}
        algorithm = existing.get(code)
        if algorithm is None:
            db.session.add(DetectionAlgorithm(code=code, is_active=row["active"].strip() == "1",
                                              **values))  # fmt: skip
            counts["created"] += 1
        elif keep_existing or all(getattr(algorithm, k) == v for k, v in values.items()):
            counts["unchanged"] += 1
        else:
            for key, value in values.items():
                setattr(algorithm, key, value)
            counts["updated"] += 1
    db.session.flush()
    return counts


def list_algorithms() -> list[DetectionAlgorithm]:
    """Every algorithm, inactive ones included, by code."""
    return list(db.session.scalars(select(DetectionAlgorithm).order_by(DetectionAlgorithm.code)))


def algorithm_by_code(code: str, *, active: bool = True) -> DetectionAlgorithm | None:
    """An algorithm by its code (only an active one unless ``active`` is false)."""
    query = select(DetectionAlgorithm).where(DetectionAlgorithm.code == code)
    if active:
        query = query.where(DetectionAlgorithm.is_active.is_(True))
    return db.session.scalar(query)


def _category_id(code: str) -> int:
    category = reference.category_by_code(code)
    if category is None:
        raise ValidationFailed(fields={"category": [f"问题类别不存在或已停用：{code}"]})
    return category.id


def create_algorithm(body: dict[str, Any], staff) -> DetectionAlgorithm:
    """Add an algorithm (409 if its code exists); audited."""
    if algorithm_by_code(body["code"], active=False) is not None:
        raise Conflict(f"算法编码已存在：{body['code']}", code="algorithm_exists")
    algorithm = DetectionAlgorithm(
        code=body["code"], category_id=_category_id(body["category"]),
        is_active=body.get("is_active", True),
        **{k: body.get(k) for k in _FIELDS},
    )  # fmt: skip
    db.session.add(algorithm)
    db.session.flush()
    record("detection_algorithm.create", "detection_algorithm", algorithm.code, actor=staff)
    return algorithm


def update_algorithm(code: str, body: dict[str, Any], staff) -> DetectionAlgorithm:
    """Change an algorithm's name, category, threshold, cool-down or active flag; audited."""
    algorithm = algorithm_by_code(code, active=False)
    if algorithm is None:
        raise NotFound(f"没有这个识别算法：{code}", code="algorithm_not_found")
    changes = {k: v for k, v in body.items() if k in (*_FIELDS, "is_active")}
    if "category" in body:
        changes["category_id"] = _category_id(body["category"])
    for key, value in changes.items():
        setattr(algorithm, key, value)
    db.session.flush()
    record("detection_algorithm.update", "detection_algorithm", code, actor=staff,
           fields=sorted(changes))  # fmt: skip
    return algorithm


# -- detections and the cool-down ----------------------------------------------------------------


def event_by_id(device: IngestDevice, event_id: str) -> DetectionEvent | None:
    """The detection this device already posted under ``event_id`` (a retry), if any."""
    return db.session.scalar(
        select(DetectionEvent).where(
            DetectionEvent.device_id == device.id, DetectionEvent.event_id == event_id
        )
    )


def cooling_origin(
    device: IngestDevice,
    algorithm: DetectionAlgorithm,
    lat: float | None,
    lng: float | None,
    now: datetime | None = None,
) -> DetectionEvent | None:
    """The origin whose cool-down this detection falls in: the newest case this device opened
    with this algorithm within ``cooldown_seconds`` before ``now`` and ``cooldown_radius_m`` of
    the point; None without a point or a cool-down. The caller holds the device's row lock
    (``ingest_api.current_device``), so detections of one device are judged one at a time."""
    if lat is None or lng is None or algorithm.cooldown_seconds <= 0:
        return None
    since = (now or utcnow()) - timedelta(seconds=algorithm.cooldown_seconds)
    radius = max(algorithm.cooldown_radius_m, 0)
    dlat = radius / 111_320
    dlng = radius / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    candidates = db.session.scalars(
        select(DetectionEvent)
        .where(
            DetectionEvent.device_id == device.id,
            DetectionEvent.algorithm_id == algorithm.id,
            DetectionEvent.is_repeat.is_(False),
            DetectionEvent.detected_at >= since,
            DetectionEvent.lat.between(lat - dlat, lat + dlat),
            DetectionEvent.lng.between(lng - dlng, lng + dlng),
        )
        .order_by(DetectionEvent.detected_at.desc(), DetectionEvent.id.desc())
    )
    for event in candidates:
        if coords.haversine_m(lat, lng, event.lat, event.lng) <= radius:
            return event
    return None


def record_event(device: IngestDevice, algorithm: DetectionAlgorithm, report: Report,
                 event_id: str, confidence: float, lat: float | None, lng: float | None, *,
                 repeat: bool) -> DetectionEvent:  # fmt: skip
    """Keep one detection: the origin of ``report`` or a repeat of it."""
    event = DetectionEvent(device_id=device.id, algorithm_id=algorithm.id, report_id=report.id,
                           event_id=event_id, confidence=confidence, lat=lat, lng=lng,
                           is_repeat=repeat)  # fmt: skip
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class Sightings:
    """How often the devices saw a case's problem: repeats after the first, and the last time."""

    repeats: int
    last_seen_at: datetime | None


def sightings(report_id: int) -> Sightings:
    """Repeats of a case and its last sighting, counted from the detections."""
    count, last = db.session.execute(
        select(func.count(DetectionEvent.id), func.max(DetectionEvent.detected_at)).where(
            DetectionEvent.report_id == report_id, DetectionEvent.is_repeat.is_(True)
        )
    ).one()
    return Sightings(int(count or 0), last)


def repeat_ordinal(event: DetectionEvent) -> int:
    """Which repeat of its case ``event`` is (1 for the first): the repeats kept up to it. The
    device's row lock orders one device's detections, and only that device's detections repeat
    its cases, so the number does not change when later repeats commit."""
    return int(
        db.session.scalar(
            select(func.count(DetectionEvent.id)).where(
                DetectionEvent.report_id == event.report_id,
                DetectionEvent.is_repeat.is_(True),
                DetectionEvent.id <= event.id,
            )
        )
        or 0
    )


def case_detection(number: str) -> dict[str, Any] | None:
    """What the staff case page shows of a machine case: the algorithm, confidence, device,
    repeats; None if the case did not come from a catalogue algorithm."""
    row = db.session.execute(
        select(DetectionEvent, Report.id)
        .join(Report, Report.id == DetectionEvent.report_id)
        .where(Report.number == number, DetectionEvent.is_repeat.is_(False))
    ).first()
    if row is None:
        return None
    event = row[0]
    seen = sightings(event.report_id)
    return {
        "algorithm_code": event.algorithm.code,
        "algorithm": event.algorithm.name,
        "threshold": event.algorithm.threshold,
        "confidence": event.confidence,
        "device": event.device.name,
        "repeats": seen.repeats,
        "last_seen_at": seen.last_seen_at,
    }


# -- precision -----------------------------------------------------------------------------------


def _false_positive():
    return or_(
        Report.state == ReportState.VOIDED,
        and_(Report.state == ReportState.REJECTED,
             or_(Report.close_reason.is_(None), Report.close_reason != DUPLICATE_REASON)),
    )  # fmt: skip


def _duplicate():
    return or_(
        Report.state == ReportState.MERGED,
        and_(Report.state == ReportState.REJECTED, Report.close_reason == DUPLICATE_REASON),
    )


def _confirmed():
    ended = (ReportState.REJECTED, ReportState.VOIDED, ReportState.MERGED)
    return and_(Report.dispatched_at.is_not(None), Report.state.not_in(ended))


def _sum(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


def precision(first_day: date, last_day: date,
              department_ids: tuple[int, ...] | None = None) -> dict[str, Any]:  # fmt: skip
    """Per algorithm, over the cases its detections opened in the period (Asia/Shanghai local
    days, both inclusive): detections (cases opened), repeats suppressed by the cool-down,
    confirmed, false positives, duplicates, pending, and precision (percent, 2 decimals; null
    when nothing was judged yet). Every active algorithm is listed, with zeros if idle.
    ``department_ids``: only cases of these departments (the statistics' scope rule)."""
    start, end = StatsQuery(first_day, last_day).bounds()
    origins = (
        select(
            DetectionEvent.algorithm_id.label("algorithm_id"),
            func.count().label("detections"),
            _sum(_confirmed()).label("confirmed"),
            _sum(_false_positive()).label("false_positives"),
            _sum(_duplicate()).label("duplicates"),
        )
        .join(Report, Report.id == DetectionEvent.report_id)
        .where(
            DetectionEvent.is_repeat.is_(False),
            DetectionEvent.detected_at >= start,
            DetectionEvent.detected_at < end,
        )  # fmt: skip
        .group_by(DetectionEvent.algorithm_id)
    )
    repeats = (
        select(DetectionEvent.algorithm_id, func.count().label("repeats"))
        .join(Report, Report.id == DetectionEvent.report_id)
        .where(
            DetectionEvent.is_repeat.is_(True),
            DetectionEvent.detected_at >= start,
            DetectionEvent.detected_at < end,
        )  # fmt: skip
        .group_by(DetectionEvent.algorithm_id)
    )
    if department_ids is not None:
        origins = origins.where(Report.department_id.in_(department_ids))
        repeats = repeats.where(Report.department_id.in_(department_ids))
    counts = {row.algorithm_id: row for row in db.session.execute(origins)}
    repeated = {row[0]: row[1] for row in db.session.execute(repeats)}
    items = []
    for algorithm in list_algorithms():
        row = counts.get(algorithm.id)
        if row is None and not algorithm.is_active:
            continue
        detections = int(row.detections) if row else 0
        confirmed = int(row.confirmed or 0) if row else 0
        false_positives = int(row.false_positives or 0) if row else 0
        duplicates = int(row.duplicates or 0) if row else 0
        items.append({
            "code": algorithm.code, "name": algorithm.name,
            "category": algorithm.category.name, "threshold": algorithm.threshold,
            "is_active": algorithm.is_active, "detections": detections,
            "repeats": int(repeated.get(algorithm.id, 0)), "confirmed": confirmed,
            "false_positives": false_positives, "duplicates": duplicates,
            "pending": detections - confirmed - false_positives - duplicates,
            "precision": percent(confirmed, confirmed + false_positives),
        })  # fmt: skip
    items.sort(key=lambda i: (-i["detections"], i["code"]))
    return {
        "period": {"from": first_day.isoformat(), "to": last_day.isoformat(),
                   "timezone": "Asia/Shanghai", "start": start.astimezone(SHANGHAI).isoformat(),
                   "end": end.astimezone(SHANGHAI).isoformat()},
        "algorithms": items,
        "definitions": DEFINITIONS,
    }  # fmt: skip


DEFINITIONS = {
    "detections": "统计期内该算法识别产生的案件数（冷却期内的重复识别不另立案件）",
    "repeats": "冷却期内同一设备、同一算法在同一地点的重复识别次数，已并入原案件",
    "confirmed": "已派遣处置（系统自动或人工派遣）且未被作废、不予立案或合并的案件数",
    "false_positives": "误报：被调度员不予立案（重复上报除外）或作废的案件数",
    "duplicates": "重复：因重复上报不予立案或被合并的案件数，不计入准确率",
    "pending": "尚未判定：待分拨、待派遣的案件数",
    "precision": "准确率 = 确认数 ÷（确认数 + 误报数），百分数保留两位小数；无判定时为空",
}
