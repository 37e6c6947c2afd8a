"""The in-memory nearest-search index against the brute-force scan, without a database.

Every answer of :meth:`Index.nearest` must equal :func:`brute_force` exactly: the same ids in the
same order and the same distances to the last bit, ties (equal distances) broken by id, whatever
the trees' leaf size (one facility per leaf: the deepest trees, the most pruning; one leaf: a plain
scan), and for facilities written since the build (the per-kind ``extra`` trees, views and hours
edited in place, hidden positions of :meth:`Index.apply`). The API's items, written in C by
:meth:`Found.json`, must equal the Python rendering of those hits byte for byte.

Positions are WGS-84. The main properties keep longitudes in [-20, 155]; the last test puts
facilities on both sides of the antimeridian or all over the world.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from datetime import UTC, datetime
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.geo import coords
from services_nearby import _nearby
from services_nearby import hours as hours_mod
from services_nearby import index as index_mod
from services_nearby.index import Entry, Found, Hit, Index, brute_force, distances_m, unit_vectors

SHENYANG = (41.79, 123.40)
STEP = 1e-4  # lattice step in degrees (about 11 m): shared steps make equal positions and ties
FAR_AWAY = (
    (48.8566, 2.3522),  # Paris
    (55.7558, 37.6173),  # Moscow
    (1.2903, 103.8519),  # Singapore
    (-33.8688, 151.2093),  # Sydney
    (-33.9249, 18.4241),  # Cape Town
    (35.6762, 139.6503),  # Tokyo
)
FAR_QUERIES = (*FAR_AWAY, (0.0, 0.0), (85.0, 100.0), (-60.0, 60.0), (41.79, 150.0), (10.0, 123.4))
KINDS = (1, 2, 3)
CODES = {1: "toilet", 2: "park", 3: "parking", 4: "charging"}
HOURS = ("", "24/7", "06:00-22:00", "22:00-02:00", "Mo-Fr 08:00-18:00", "off")
# Patched module settings: the trees as built, one facility per leaf (deep trees: the pruning at
# work on small data), three per leaf, a single leaf (no pruning at all).
MODES = {
    "default": {},
    "leaf 1": {"LEAF_SIZE": 1},
    "leaf 3": {"LEAF_SIZE": 3},
    "one leaf": {"LEAF_SIZE": 10**6},
}
SYSTEMS = tuple(coords.CoordSys)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def entry(fid, kind, lat, lng, hours="", version=0) -> Entry:
    view = b'{"id":%d}' % fid if not version else b'{"id":%d,"v":%d}' % (fid, version)
    return Entry(fid, kind, lat, lng, lat, lng, hours, view)


def lattice(i: int, j: int) -> tuple[float, float]:
    return SHENYANG[0] + i * STEP, SHENYANG[1] + j * STEP


@contextlib.contextmanager
def mode(name: str):
    with contextlib.ExitStack() as stack:
        for attr, value in MODES[name].items():
            stack.enter_context(mock.patch.object(index_mod, attr, value))
        yield


class SpyIndex(Index):
    """An Index counting what its searches met: answers, facilities written since the build
    (a second tree), hidden positions, views edited in place."""

    def __init__(self, seen: Counter) -> None:
        super().__init__()
        self.seen = seen

    def find(self, kind_id, *args, **kwargs) -> Found:
        found = super().find(kind_id, *args, **kwargs)
        ki = self.kinds.get(kind_id)
        if found.ranked:
            self.seen["answered"] += 1
        if ki is not None:
            self.seen["extra"] += len(ki.sources) > 1
            self.seen["hidden"] += ki.alive is not None
            self.seen["edited"] += bool(ki.views)
        return found


# ---------------------------------------------------------------- strategies


def position(rnd: random.Random, centres: list[tuple[int, int]], spread: int) -> tuple[float, ...]:
    """A cluster point on the lattice (within ``spread`` steps of a centre), a point spread over
    half a degree, or, rarely, one far away."""
    how = rnd.random()
    if how < 0.7:
        ci, cj = rnd.choice(centres)
        return lattice(ci + rnd.randint(-spread, spread), cj + rnd.randint(-spread, spread))
    if how < 0.98:
        return SHENYANG[0] + rnd.uniform(-0.25, 0.25), SHENYANG[1] + rnd.uniform(-0.25, 0.25)
    lat, lng = rnd.choice(FAR_AWAY)
    return lat + rnd.choice((0.0, 0.01, -0.3)), lng


lattice_centres = st.lists(
    st.tuples(st.integers(-2500, 2500), st.integers(-2500, 2500)), min_size=1, max_size=3
)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def facility_sets(draw, max_size: int = 400) -> list[Entry]:
    """Up to ``max_size`` facilities of several kinds: clusters on a lattice (many equal
    positions), points spread over half a degree, a few far away, and exact duplicates.

    Hypothesis draws the shape (sizes, centres, how tight the clusters are); a seeded generator
    places the points (drawing each of 400 points through Hypothesis is ten times slower)."""
    centres = draw(lattice_centres)
    spread = draw(st.sampled_from((0, 2, 12, 40)))
    n = draw(st.integers(0, max_size))
    n_far = draw(st.integers(0, min(3, n)))
    n_dup = draw(st.integers(0, min(60, n // 2)))
    rnd = random.Random(draw(seeds))
    points = [position(rnd, centres, spread) for _ in range(n - n_far - n_dup)]
    points += [rnd.choice(FAR_AWAY) for _ in range(n_far)]
    kinds = [rnd.choice((1, 1, 1, 2, 3)) for _ in points]
    for _ in range(n_dup if points else 0):
        i = rnd.randrange(len(points))
        points.append(points[i])
        kinds.append(kinds[i])
    ids = rnd.sample(range(1, 3 * len(points) + 2), len(points))
    return [entry(fid, kind, lat, lng, rnd.choice(HOURS))
            for fid, kind, (lat, lng) in zip(ids, kinds, points, strict=True)]  # fmt: skip


@st.composite
def query_points(draw, entries: list[Entry]) -> tuple[float, float]:
    """On a facility, on the lattice, inside or on the edge of the data's box, just outside it,
    or far away."""
    hows = ["lattice", "far"] + (["facility", "inside", "edge", "outside"] if entries else [])
    how = draw(st.sampled_from(hows))
    if how == "lattice":
        return lattice(draw(st.integers(-2600, 2600)), draw(st.integers(-2600, 2600)))
    if how == "far":
        return draw(st.sampled_from(FAR_QUERIES))
    if how == "facility":
        e = draw(st.sampled_from(entries))
        return e.wgs_lat, e.wgs_lng
    lats, lngs = [e.wgs_lat for e in entries], [e.wgs_lng for e in entries]
    lat0, lat1, lng0, lng1 = min(lats), max(lats), min(lngs), max(lngs)
    if how == "inside":
        u = st.floats(0, 1)
        return lat0 + draw(u) * (lat1 - lat0), lng0 + draw(u) * (lng1 - lng0)
    if how == "edge":  # a corner, or the middle of a side
        return (draw(st.sampled_from((lat0, lat1, (lat0 + lat1) / 2))),
                draw(st.sampled_from((lng0, lng1, (lng0 + lng1) / 2))))  # fmt: skip
    off = st.sampled_from((1e-6, 0.001, 0.05, 1.0))
    lat = draw(st.sampled_from((lat0 - draw(off), lat1 + draw(off), (lat0 + lat1) / 2)))
    lng = draw(st.sampled_from((lng0 - draw(off), lng1 + draw(off))))
    return max(-89.0, min(89.0, lat)), max(-20.0, min(155.0, lng))


times = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.builds(
        datetime, st.just(2026), st.integers(1, 12), st.integers(1, 28),
        st.sampled_from((0, 1, 2, 5, 6, 7, 8, 12, 17, 18, 21, 22, 23)), st.sampled_from((0, 59)),
    ),  # on and around the hours' boundaries
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                 timezones=st.just(UTC)),
)  # fmt: skip


@st.composite
def queries(draw, entries: list[Entry]) -> dict:
    """The arguments of one nearest search (without the kind)."""
    lat, lng = draw(query_points(entries))
    radius = draw(st.sampled_from(("none", "none", "metres", "a distance")))
    if radius == "none":
        radius_m = None
    elif radius == "metres" or not entries:
        radius_m = draw(st.floats(1.0, 3e6))
    else:  # exactly some facility's distance (inclusive), or a hair inside it
        e = draw(st.sampled_from(entries))
        radius_m = float(distance(lat, lng, e))
        if draw(st.booleans()):
            radius_m = float(np.nextafter(radius_m, 0.0))
    return {"wgs_lat": lat, "wgs_lng": lng, "limit": draw(st.integers(1, 30)),
            "radius_m": radius_m, "at": draw(times), "open_only": draw(st.booleans())}  # fmt: skip


def distance(lat: float, lng: float, e: Entry) -> float:
    return float(distances_m(lat, lng, unit_vectors([e.wgs_lat], [e.wgs_lng]))[0])


def mirrored(entries: list[Entry], lat: float, lng: float, rnd) -> list[Entry]:
    """Copies of some facilities mirrored across the query's meridian: (nearly) the same
    distance, a different id."""
    picked = rnd.sample(entries, min(len(entries), 20))
    top = max((e.id for e in entries), default=0)
    return [entry(top + 1 + i, e.kind_id, e.wgs_lat, 2 * lng - e.wgs_lng, e.hours)
            for i, e in enumerate(picked) if -20 <= 2 * lng - e.wgs_lng <= 155]  # fmt: skip


# ---------------------------------------------------------------- checking


def check(index: Index, entries: list[Entry], kind_id: int, q: dict) -> list[Hit]:
    """The index's answer equals the scan's, each hit shows its facility as it is now, and the
    API's items are those hits."""
    found = index.find(kind_id, **q)
    hits = found.hits()
    expected = brute_force(entries, kind_id, **q)
    assert [(h.distance_m, h.id) for h in hits] == expected
    by_id = {e.id: e for e in entries}
    for h in hits:
        e = by_id[h.id]
        assert (h.wgs_lat, h.wgs_lng, h.lat, h.lng, h.view) == (
            e.wgs_lat, e.wgs_lng, e.lat, e.lng, e.view)  # fmt: skip
        opened = None if q["at"] is None else hours_mod.compiled(e.hours).is_open(q["at"])
        assert h.open_now is opened
    for system in SYSTEMS:
        assert found.json(system) == items_json(hits, system)
    return hits


def items_json(hits: list[Hit], system: coords.CoordSys) -> bytes:
    """The API's items as the route wrote them in Python before they were written in C."""
    items = []
    for h in hits:
        lat, lng = {coords.CoordSys.WGS84: (h.wgs_lat, h.wgs_lng),
                    coords.CoordSys.GCJ02: (h.lat, h.lng)}.get(system) or coords.convert(
            h.lat, h.lng, coords.CoordSys.GCJ02, system)  # fmt: skip
        shown = {True: b"true", False: b"false", None: b"null"}[h.open_now]
        items.append(b'{"distance_m":%.1f,"open_now":%s,"location":{"lat":%.7f,"lng":%.7f},%s'
                     % (h.distance_m, shown, lat, lng, h.view[1:]))  # fmt: skip
    return b"[" + b",".join(items) + b"]"


def loaded(entries: list[Entry], seen: Counter | None = None, seq: int = 1) -> Index:
    index = SpyIndex(seen if seen is not None else Counter())
    index.load(entries, seq, CODES)
    return index


# ---------------------------------------------------------------- properties


def test_nearest_equals_the_brute_force_scan():
    seen: Counter = Counter()

    @SETTINGS
    @given(data=st.data(), entries=facility_sets(), how=st.sampled_from(sorted(MODES)))
    def prop(data, entries, how):
        lat, lng = data.draw(query_points(entries))
        entries = entries + mirrored(entries, lat, lng, data.draw(st.randoms()))
        asked = [{**data.draw(queries(entries)), "wgs_lat": lat, "wgs_lng": lng}]
        asked += data.draw(st.lists(queries(entries), min_size=1, max_size=3))
        with mode(how):
            index = loaded(entries, seen)
            for q in asked:
                for kind_id in (*KINDS, 4):
                    check(index, entries, kind_id, q)

    prop()
    assert seen["answered"] > 300, seen


OPS = ("add", "edit", "edit", "move", "move", "kind", "remove", "restore", "ghost", "touch")


@st.composite
def histories(draw):
    """A facility set, then batches of writes as :meth:`Index.apply` receives them (entry,
    active; each facility once per batch, as the database holds it then), with the active
    facilities after each batch. Hypothesis draws the operations, a seeded generator the rest."""
    entries = draw(facility_sets(max_size=150))
    batches = draw(st.lists(st.lists(st.sampled_from(OPS), min_size=1, max_size=25),
                            min_size=1, max_size=6))  # fmt: skip
    rnd = random.Random(draw(seeds))
    centres = draw(lattice_centres)
    current = {e.id: e for e in entries}
    built = dict(current)
    removed: dict[int, Entry] = {}
    next_id = max(current, default=0) + 1
    steps, version = [], 0
    for ops in batches:
        batch: dict[int, tuple[Entry, bool]] = {}
        for op in ops:
            version += 1
            if op in ("edit", "move", "kind", "remove", "touch") and not current:
                op = "add"
            if op == "restore" and not removed:
                op = "ghost"
            if op in ("add", "ghost"):
                lat, lng = position(rnd, centres, 12)
                if current and rnd.random() < 0.5:  # on top of another facility
                    other = current[rnd.choice(sorted(current))]
                    lat, lng = other.wgs_lat, other.wgs_lng
                e = entry(next_id, rnd.choice((1, 2, 3, 4)), lat, lng, rnd.choice(HOURS), version)
                next_id += 1
                if op == "add":
                    current[e.id] = e
                batch[e.id] = (e, op == "add")  # a ghost: written and removed in between
                continue
            if op == "restore":
                e = removed.pop(rnd.choice(sorted(removed)))
                if rnd.random() < 0.5:
                    e = entry(e.id, e.kind_id, *position(rnd, centres, 12), e.hours, version)
                current[e.id] = e
                batch[e.id] = (e, True)
                continue
            old = current[rnd.choice(sorted(current))]
            if op == "remove":
                removed[old.id] = current.pop(old.id)
                batch[old.id] = (old, False)
                continue
            lat, lng, kind, hours = old.wgs_lat, old.wgs_lng, old.kind_id, old.hours
            if op == "edit":
                hours = rnd.choice(HOURS)
            elif op == "move":
                where = rnd.choice(("new", "other", "back"))
                if where == "new":
                    lat, lng = position(rnd, centres, 12)
                elif where == "other":
                    other = current[rnd.choice(sorted(current))]
                    lat, lng = other.wgs_lat, other.wgs_lng
                else:  # back where it was built (stays put if it was added later)
                    first = built.get(old.id, old)
                    lat, lng = first.wgs_lat, first.wgs_lng
            elif op == "kind":
                kind = rnd.choice([k for k in (1, 2, 3, 4) if k != old.kind_id])
            e = old if op == "touch" else entry(old.id, kind, lat, lng, hours, version)
            current[e.id] = e
            batch[e.id] = (e, True)
        steps.append((list(batch.values()), list(current.values())))
    return entries, steps


def test_changes_applied_in_place_equal_the_brute_force_scan():
    seen: Counter = Counter()

    @SETTINGS
    @given(data=st.data(), history=histories(), how=st.sampled_from(sorted(MODES)))
    def prop(data, history, how):
        entries, steps = history
        with mode(how):
            index = loaded(entries, seen)
            for seq, (batch, state) in enumerate(steps, start=2):
                index.apply(batch, seq)
                assert index.applied == seq
                for q in data.draw(st.lists(queries(state), min_size=1, max_size=3)):
                    for kind_id in (1, 2, 3, 4):
                        check(index, state, kind_id, q)

    prop()
    assert all(seen[what] > 100 for what in ("answered", "extra", "hidden", "edited")), seen


# ---------------------------------------------------------------- the search's work

CLUSTER = [entry(i + 1, 1, *lattice(i % 20, i // 20)) for i in range(400)]
INSIDE = {"wgs_lat": lattice(10, 10)[0] + 3e-5, "wgs_lng": lattice(10, 10)[1] - 2e-5, "limit": 10}


def examined(index: Index, kind_id: int, q: dict) -> int:
    """How many facilities the search looked at for this query."""
    stats: list[int] = []
    _nearby.nearest(index.kinds[kind_id].sources, q["wgs_lat"], q["wgs_lng"], q["limit"],
                    q.get("radius_m"), None, stats)  # fmt: skip
    return stats[0]


def test_a_query_looks_at_few_facilities():
    rnd = random.Random(5)
    entries = [entry(i, 1, *lattice(rnd.randint(0, 2000), rnd.randint(0, 2000)))
               for i in range(1, 50_001)]  # fmt: skip
    index = loaded(entries)
    for lat, lng in [lattice(1000, 1000), lattice(0, 0), lattice(-500, 3000), FAR_AWAY[0]]:
        q = {"wgs_lat": lat, "wgs_lng": lng, "limit": 10, "radius_m": None, "at": None}
        check(index, entries, 1, q)
        assert examined(index, 1, q) < 200
    q = {**q, "radius_m": 1.0}  # nothing within a metre of Paris: the root box is enough
    assert check(index, entries, 1, q) == [] and examined(index, 1, q) == 0


def test_far_from_the_data_every_limit():
    entries = CLUSTER + [entry(1000, 1, *FAR_AWAY[0])]
    index = loaded(entries)
    for limit in (1, 5, 50, 401, 500):
        hits = check(index, entries, 1, {"wgs_lat": 35.0, "wgs_lng": 80.0, "limit": limit,
                                         "radius_m": None, "at": None})  # fmt: skip
        assert len(hits) == min(limit, 401)


def test_queries_at_the_antipodes():
    """Near the antipode metres flatten out at half the circumference: ties stay exact."""
    entries = CLUSTER + [entry(1000 + i, 1, -lat, lng - 180.0) for i, (lat, lng) in
                         enumerate(FAR_AWAY)]  # fmt: skip
    index = loaded(entries)
    for lat, lng in [lattice(10, 10), lattice(0, 0), SHENYANG, FAR_AWAY[1]]:
        for limit in (1, 10, 400):
            check(index, entries, 1, {"wgs_lat": -lat, "wgs_lng": lng - 180.0, "limit": limit,
                                      "radius_m": None, "at": None})  # fmt: skip


def test_the_distance_is_the_great_circle_distance():
    rnd = random.Random(3)
    assert _nearby.EARTH_RADIUS_M == coords.EARTH_RADIUS_M
    for _ in range(2000):
        a = (rnd.uniform(-90, 90), rnd.uniform(-180, 180))
        b = (a[0] + rnd.choice((1e-5, 0.01, 1.0, 60.0)) * rnd.uniform(-1, 1),
             a[1] + rnd.choice((1e-5, 0.01, 1.0, 60.0)) * rnd.uniform(-1, 1))  # fmt: skip
        b = (max(-90.0, min(90.0, b[0])), b[1])
        got = float(distances_m(*a, unit_vectors([b[0]], [b[1]]))[0])
        assert got == pytest.approx(coords.haversine_m(*a, *b), rel=1e-9, abs=1e-6)


def test_the_kernel_refuses_arrays_that_do_not_fit():
    index = loaded(CLUSTER)
    xyz, order, boxes, depth, ids, alive, hours = index.kinds[1].sources[0]
    for bad in ((xyz[:-1], order, boxes, depth, ids, alive, hours),
                (xyz, order, boxes, depth + 1, ids, alive, hours),
                (xyz, order, boxes, depth, ids[:-1], alive, hours),
                (xyz, order, boxes, depth, ids, np.ones(3, dtype=bool), hours),
                (xyz, order, boxes, depth, ids, alive, hours.astype(np.int64))):  # fmt: skip
        with pytest.raises(ValueError):
            _nearby.nearest((bad,), *SHENYANG, 10, None, None)
    with pytest.raises(ValueError):
        _nearby.nearest(index.kinds[1].sources, float("nan"), 0.0, 10, None, None)
    with pytest.raises(ValueError):
        _nearby.items([(1.0, 0)], index.kinds[1].shown[True][:1] + ((xyz,) * 6,), None, None)
    with pytest.raises(IndexError):
        _nearby.items([(1.0, len(CLUSTER))], index.kinds[1].shown[True], None, None)


# ---------------------------------------------------------------- edge cases


def ask(index: Index, entries: list[Entry], kind_id: int = 1, lat=SHENYANG[0], lng=SHENYANG[1],
        limit=10, radius_m=None, at=None, open_only=False) -> list[Hit]:  # fmt: skip
    q = {"wgs_lat": lat, "wgs_lng": lng, "limit": limit, "radius_m": radius_m, "at": at,
         "open_only": open_only}  # fmt: skip
    return check(index, entries, kind_id, q)


def test_an_empty_index():
    assert Index().nearest(1, *SHENYANG, 10) == []
    index = loaded([])
    assert ask(index, []) == [] and index.kinds == {} and index.pending() == 0
    index.apply([(entry(5, 1, *SHENYANG), False)], 2)  # removed before it was ever seen
    assert ask(index, []) == [] and index.pending() == 0


def test_unknown_kind_and_no_limit():
    entries = [entry(1, 1, *SHENYANG)]
    index = loaded(entries)
    assert ask(index, entries, kind_id=2) == []
    assert index.nearest(1, *SHENYANG, 0) == [] and index.nearest(1, *SHENYANG, -1) == []


def test_a_kind_with_one_facility():
    entries = [entry(7, 2, 41.80, 123.41, "24/7"), entry(8, 1, 41.7901, 123.4001)]
    index = loaded(entries)
    (hit,) = ask(index, entries, kind_id=2, limit=5)
    assert hit.id == 7 and hit.distance_m == pytest.approx(1387.0, abs=0.1)
    assert ask(index, entries, kind_id=2, radius_m=hit.distance_m) == [hit]
    assert ask(index, entries, kind_id=2, radius_m=hit.distance_m - 1e-6) == []
    (hit,) = ask(index, entries, kind_id=2, at=datetime(2026, 11, 21, 3, 0), open_only=True)
    assert hit.open_now is True


def test_limit_larger_than_the_count():
    entries = [entry(i, 1, *lattice(i, -i)) for i in range(1, 8)]
    hits = ask(loaded(entries), entries, lat=lattice(0, 0)[0], lng=lattice(0, 0)[1], limit=30)
    assert [h.id for h in hits] == list(range(1, 8))


def test_a_query_exactly_on_facilities():
    entries = [entry(9, 1, 41.8, 123.4), entry(4, 1, 41.8, 123.4), entry(6, 1, 41.8001, 123.4)]
    hits = ask(loaded(entries), entries, lat=41.8, lng=123.4)
    assert [(h.distance_m, h.id) for h in hits[:2]] == [(0.0, 4), (0.0, 9)]
    assert hits[2].id == 6 and hits[2].distance_m > 0
    zero = ask(loaded(entries), entries, lat=41.8, lng=123.4, radius_m=0.0)
    assert [h.id for h in zero] == [4, 9]


def test_far_away_facilities_rank_last_and_answer_far_away_queries():
    paris = entry(1, 1, *FAR_AWAY[0])
    entries = [paris] + [entry(i, 1, *lattice(i, i)) for i in range(2, 60)]
    index = loaded(entries)
    hits = ask(index, entries, limit=30)
    assert paris.id not in [h.id for h in hits]
    assert ask(index, entries, limit=59)[-1].id == paris.id
    from_paris = ask(index, entries, lat=48.85, lng=2.35, limit=3)
    assert from_paris[0].id == paris.id and from_paris[1].distance_m > 7e6
    ask(index, entries, lat=-33.8688, lng=151.2093, limit=5)  # Sydney: Shenyang is nearer
    assert ask(index, entries, lat=48.85, lng=2.35, radius_m=50_000) == [from_paris[0]]


def test_all_facilities_at_one_point():
    entries = [entry(fid, 1, 41.8, 123.4, HOURS[fid % len(HOURS)]) for fid in range(100, 0, -3)]
    index = loaded(entries)
    ids = sorted(e.id for e in entries)
    assert [h.id for h in ask(index, entries, limit=10)] == ids[:10]
    assert len({h.distance_m for h in ask(index, entries, limit=30)}) == 1
    on_it = ask(index, entries, lat=41.8, lng=123.4, limit=30)
    assert [h.distance_m for h in on_it] == [0.0] * 30
    night = datetime(2026, 11, 21, 23, 30)
    for kept in (ask(index, entries, limit=30, at=night, open_only=True),
                 ask(index, entries, lat=41.8, lng=123.4, at=night, open_only=True)):  # fmt: skip
        assert kept and all(h.open_now is not False for h in kept)


def test_hours_edited_in_place_change_the_open_filter():
    night = datetime(2026, 11, 21, 23, 30)  # a Saturday, 23:30 in Shenyang
    near, far = entry(1, 1, 41.7901, 123.4, "24/7"), entry(2, 1, 41.8, 123.4, "24/7")
    index = loaded([near, far])
    assert [h.id for h in ask(index, [near, far], at=night, open_only=True)] == [1, 2]
    edited = entry(1, 1, near.wgs_lat, near.wgs_lng, "06:00-22:00", version=1)
    index.apply([(edited, True)], 2)
    assert index.pending() == 0  # in place: still in the tree
    assert [h.id for h in ask(index, [edited, far], at=night, open_only=True)] == [2]
    (first, _) = ask(index, [edited, far], at=night)
    assert first.id == 1 and first.open_now is False and first.view == edited.view
    reopened = entry(1, 1, near.wgs_lat, near.wgs_lng, "22:00-02:00", version=2)
    index.apply([(reopened, True)], 3)
    hits = ask(index, [reopened, far], at=night, open_only=True)
    assert [h.id for h in hits] == [1, 2] and hits[0].view == reopened.view


def test_moves_kind_changes_and_removals():
    entries = [entry(i, 1, *lattice(i, 0)) for i in range(1, 30)]
    index = loaded(entries)
    moved = entry(20, 1, *lattice(0, 0), version=1)  # from 20 steps north onto the query
    to_park = entry(1, 2, entries[0].wgs_lat, entries[0].wgs_lng, version=1)
    index.apply([(moved, True), (to_park, True), (entries[1], False)], 2)
    state = [moved] + [e for e in entries if e.id not in (1, 2, 20)]
    assert index.pending() == 2
    hits = ask(index, state, lat=lattice(0, 0)[0], lng=lattice(0, 0)[1], limit=3)
    assert [h.id for h in hits] == [20, 3, 4]
    assert [h.id for h in ask(index, [to_park], kind_id=2)] == [1]
    back = entry(20, 1, *lattice(20, 0), version=2)  # moved back where it was built
    index.apply([(back, True), (entry(2, 1, *lattice(2, 0), version=2), True)], 3)
    state = [back, entry(2, 1, *lattice(2, 0), version=2)] + state[1:]
    ask(index, state, lat=lattice(0, 0)[0], lng=lattice(0, 0)[1], limit=30)
    index.apply([(to_park, False)], 4)
    assert ask(index, [], kind_id=2) == []


# ---------------------------------------------------------------- beyond the antimeridian


@SETTINGS
@given(data=st.data(), seed=seeds, n=st.integers(1, 300))
def test_facilities_around_the_antimeridian_or_around_the_world(data, seed, n):
    """Longitudes wrap at ±180°: data on both sides of it (or spread over more than half the
    world) is answered exactly too (the k-d tree works on the sphere)."""
    rnd = random.Random(seed)
    wide = data.draw(st.booleans())
    entries = []
    for fid in range(1, n + 1):
        if wide:
            lat, lng = rnd.uniform(-80, 80), rnd.uniform(-180, 180)
        else:  # Chukotka, Fiji, the Aleutians
            lat, lng = rnd.uniform(-20, 66), rnd.choice((1, -1)) * rnd.uniform(170, 180)
        entries.append(entry(fid, rnd.choice((1, 2)), lat, lng, rnd.choice(HOURS)))
    index = loaded(entries)
    for _ in range(3):
        q = data.draw(queries(entries))
        q["wgs_lng"] = data.draw(st.sampled_from((q["wgs_lng"], 179.99, -179.99, 180.0, -175.0)))
        for kind_id in (1, 2):
            check(index, entries, kind_id, q)
