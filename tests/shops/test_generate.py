"""The GENERATED demo registry: exactly 50,366 shops, inside Shenyang, deterministic, idempotent."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.extensions import db
from app.geo import demo, shapes
from shops import credit_code, generate
from shops.models import Shop


def test_full_set_is_50366_valid_shops_inside_their_districts():
    rows = generate.generate_shops()
    assert len(rows) == generate.SHENYANG_SHOPS == 50_366
    districts = {d.code: d for d in demo.load_districts()}
    assert all(
        shapes.contains(districts[r["district_code"]].shape, r["lat"], r["lng"]) for r in rows
    )
    codes = [r["credit_code"] for r in rows]
    assert len(set(codes)) == len(codes)
    assert all(credit_code.is_valid(c) for c in codes[::97])
    assert all(c[2:8] == r["district_code"] for c, r in zip(codes, rows, strict=True))
    per_district = Counter(r["district_code"] for r in rows)
    urban = sum(per_district[c] for c in demo.URBAN)
    assert urban > 0.5 * len(rows)  # denser in 和平/沈河/铁西/皇姑/大东
    assert min(per_district[c] for c in demo.URBAN) > max(
        per_district[c] for c in ("210123", "210124", "210115")
    )


def test_generation_is_deterministic():
    assert generate.generate_shops(400) == generate.generate_shops(400)
    assert generate.generate_shops(400) != generate.generate_shops(400, seed=1)
    assert sum(demo.district_counts(50_366).values()) == 50_366


def test_seed_inserts_once_labelled_generated(industries, shenyang_regions):
    assert generate.seed_generated_shops(total=300) == 300
    assert generate.seed_generated_shops(total=300) == 0  # shops exist: skipped
    rows = db.session.execute(select(Shop.source, Shop.district_code, func.count())
                              .group_by(Shop.source, Shop.district_code)).all()  # fmt: skip
    assert {r.source for r in rows} == {"generated"}
    assert sum(r[2] for r in rows) == 300 and all(r.district_code for r in rows)
