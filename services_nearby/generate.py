"""A GENERATED demo set of public facilities inside the real Shenyang districts (``source =
"generated"``): invented names on the demo roads, plausible opening hours, fees and capacities.
It is for the demo city only; real data comes from `flask nearby import` (OSM, CSV, GeoJSON)."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, insert, select

from app.db import utcnow
from app.extensions import db
from app.geo import coords
from app.geo.demo import district_counts, load_districts, sample_point
from services_nearby import service
from services_nearby.models import Facility, FacilityKind, FacilityStatus

SOURCE = "generated"
SEED = 20_261_121

# kind: (how many in the demo city, name pattern, opening-hours choices, fee choices, capacity)
KINDS: dict[str, tuple[int, str, tuple[str, ...], tuple[str, ...], tuple[int, int] | None]] = {
    "toilet": (1_600, "{road}公厕", ("24/7", "24/7", "05:30-22:30", "06:00-22:00"), ("免费",),
               (4, 24)),
    "park": (420, "{road}{n}号口袋公园", ("24/7", "Apr-Oct 05:00-21:00; Nov-Mar 06:00-19:00"),
             ("免费",), None),
    "parking": (900, "{road}公共停车场", ("24/7", "07:00-22:00"),
                ("首小时5元，之后每小时2元", "每小时3元", "路内泊位 每半小时1元"), (20, 400)),
    "bus_stop": (3_000, "{road}站", ("",), ("",), None),
    "bike": (600, "{road}公共自行车点", ("06:00-21:00", "24/7"), ("首小时免费",), (10, 40)),
    "market": (150, "{road}农贸市场", ("05:30-18:00", "Mo-Su 06:00-19:00"), ("",), (40, 300)),
    "square": (60, "{road}广场", ("24/7",), ("免费",), None),
    "gas_payment": (120, "{road}燃气缴费点", ("Mo-Fr 08:30-17:00; Sa 09:00-12:00",), ("",), None),
}  # fmt: skip


def generate_facilities(seed: int = SEED, scale: float = 1.0) -> list[dict[str, Any]]:
    """Rows of the demo set: kind code, name, GCJ-02 point, district, hours, fee, capacity."""
    rng = random.Random(seed)
    districts = load_districts()
    by_code = {d.code: d for d in districts}
    rows = []
    for kind, (count, pattern, hours, fees, capacity) in KINDS.items():
        for code, n in district_counts(max(1, int(count * scale))).items():
            district = by_code[code]
            for i in range(n):
                lat, lng = sample_point(rng, district)
                cap = rng.randint(*capacity) if capacity else None
                rows.append({
                    "kind": kind, "district_code": code, "lat": lat, "lng": lng,
                    "name": pattern.format(road=rng.choice(district.roads), n=i % 9 + 1),
                    "address": f"沈阳市{district.name}{rng.choice(district.roads)}",
                    "opening_hours": rng.choice(hours), "fee": rng.choice(fees),
                    "accessible": rng.random() < 0.6 if kind == "toilet" else None,
                    "capacity": cap,
                    "free_spaces": rng.randint(0, cap) if kind == "parking" and cap else None,
                })  # fmt: skip
    return rows


def seed_generated_facilities(seed: int = SEED, scale: float = 1.0) -> int:
    """Insert the demo set unless any facility exists; how many were inserted. Flushes."""
    if db.session.scalar(select(func.count()).select_from(Facility)):
        return 0
    service.seed_kinds()
    kind_ids = {
        code: kid for code, kid in db.session.execute(select(FacilityKind.code, FacilityKind.id))
    }
    seq, now = service.next_seq(), utcnow()
    rows = []
    for n, f in enumerate(generate_facilities(seed, scale)):
        wgs_lat, wgs_lng = coords.convert(f["lat"], f["lng"], "gcj02", "wgs84")
        rows.append({
            "kind_id": kind_ids[f.pop("kind")], **f, "wgs_lat": wgs_lat, "wgs_lng": wgs_lng,
            "coord_sys_in": "gcj02", "status": FacilityStatus.ACTIVE, "source": SOURCE,
            "external_id": f"demo-{n}", "seq": seq, "created_at": now, "updated_at": now,
            "free_spaces_at": now if f["free_spaces"] is not None else None, "version": 1,
        })  # fmt: skip
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(Facility.__table__), rows[start : start + 2000])
    return len(rows)
