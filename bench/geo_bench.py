"""Time per call of app.geo conversions and district lookup, beside a no-op reference.

Usage: .venv/bin/python bench/geo_bench.py [--calls N] [--seed S]
Prints a Markdown table of p50 / p99 / mean in microseconds per call. Every call is timed on its
own with perf_counter_ns, so each figure includes the timer overhead that the no-op row shows.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.geo import (  # noqa: E402
    CoordSys,
    boundary_path,
    convert,
    haversine_m,
    load_feature_collection,
    smallest_containing,
)

Point = tuple[float, float]


def noop(lat: float, lng: float) -> tuple[float, float]:
    """The reference: a Python call that does nothing."""
    return lat, lng


def time_calls(func: Callable[[float, float], object], points: Sequence[Point]) -> list[float]:
    """Microseconds per call, one timing per point."""
    timings = []
    clock = time.perf_counter_ns
    for lat, lng in points:
        start = clock()
        func(lat, lng)
        timings.append((clock() - start) / 1000.0)
    return timings


def summarise(name: str, timings: list[float]) -> str:
    """One Markdown table row: name, p50, p99, mean."""
    ordered = sorted(timings)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"| {name} | {p50:.2f} | {p99:.2f} | {statistics.fmean(ordered):.2f} |"


def main() -> None:
    """Run every case over the same random points in and around Shenyang."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shapes = [(p["name"], s) for p, s in load_feature_collection(boundary_path("shenyang"))]
    min_lat, min_lng, max_lat, max_lng = shapes[0][1].bbox
    rng = np.random.default_rng(args.seed)
    points = list(
        zip(
            rng.uniform(min_lat, max_lat, args.calls).tolist(),
            rng.uniform(min_lng, max_lng, args.calls).tolist(),
            strict=True,
        )
    )
    urban = [(41.75 + (lat - min_lat) * 0.1, 123.3 + (lng - min_lng) * 0.1) for lat, lng in points]
    w, g, b = CoordSys.WGS84, CoordSys.GCJ02, CoordSys.BD09
    cases: list[tuple[str, Callable[[float, float], object], Sequence[Point]]] = [
        ("no-op function call (reference)", noop, points),
        ("haversine_m to a fixed point", lambda la, lo: haversine_m(la, lo, 41.8, 123.4), points),
    ]
    for src, dst in [(w, g), (g, w), (g, b), (b, g), (w, b), (b, w)]:
        cases.append((f"convert {src.value} -> {dst.value}", _converter(src, dst), points))
    cases.append(
        ("convert, point outside China", _converter(w, g), [(37.57, 126.98)] * len(points))
    )
    lookup = lambda la, lo: smallest_containing(shapes, la, lo)  # noqa: E731
    cases.append(("smallest_containing, 14 features, city bbox", lookup, points))
    cases.append(("smallest_containing, 14 features, urban core", lookup, urban))
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {args.calls} calls each")
    print("\n| case | p50 µs | p99 µs | mean µs |\n| --- | --- | --- | --- |")
    for name, func, pts in cases:
        time_calls(func, pts[:500])  # warm up
        print(summarise(name, time_calls(func, pts)))


def _converter(src: CoordSys, dst: CoordSys) -> Callable[[float, float], object]:
    return lambda lat, lng: convert(lat, lng, src, dst)


if __name__ == "__main__":
    main()
