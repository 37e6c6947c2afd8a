"""The generated demo facilities of the demo city."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.extensions import db
from app.geo import coords
from app.geo import shapes as geo
from app.geo.demo import load_districts
from services_nearby.generate import KINDS, generate_facilities, seed_generated_facilities
from services_nearby.models import Facility


def test_generated_points_lie_in_their_districts_with_every_kind():
    rows = generate_facilities(scale=0.05)
    shapes = {d.code: d.shape for d in load_districts()}
    assert all(geo.contains(shapes[r["district_code"]], r["lat"], r["lng"]) for r in rows)
    assert set(Counter(r["kind"] for r in rows)) == set(KINDS)
    parking = [r for r in rows if r["kind"] == "parking"]
    assert all(0 <= r["free_spaces"] <= r["capacity"] for r in parking)
    assert generate_facilities(scale=0.05) == rows  # seeded: the same demo every time


def test_seeded_once_labelled_generated_and_searchable(client, kinds):
    inserted = seed_generated_facilities(scale=0.05)
    assert inserted > 0 and seed_generated_facilities(scale=0.05) == 0
    facilities = list(db.session.scalars(select(Facility)))
    assert {f.source for f in facilities} == {"generated"}
    f = next(f for f in facilities if f.kind.code == "toilet")
    back = coords.convert(f.wgs_lat, f.wgs_lng, "wgs84", "gcj02")
    assert coords.haversine_m(*back, f.lat, f.lng) < 0.5
    query = {"kind": "toilet", "lat": f.lat, "lng": f.lng, "coord_sys": "gcj02"}
    resp = client.get("/api/v1/nearby", query_string=query)
    assert resp.get_json()["items"][0]["id"] == f.id
    assert resp.get_json()["items"][0]["distance_m"] < 0.1
