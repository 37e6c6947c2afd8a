"""What the nearby index's freshness check costs per query, and an announcement per commit.

    .venv/bin/python bench/nearby_freshness_bench.py [--calls 2000000] [--rounds 3]

Before every nearest query, ``services_nearby.nearest.Freshness.ensure`` reads the facilities
topic's count announced on this host (``app.changes.announced``: a mapped file) and the clock;
only when the count moved or ``NEARBY_SYNC_SECONDS`` passed does it ask the database. This times
that fast path (nothing changed, the common case), the mapped read alone, and the committing
side's ``app.changes.announce`` (open, lock, read and write one slot, close), in process, without
a database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from app import changes  # noqa: E402
from services_nearby.index import Index  # noqa: E402
from services_nearby.models import FACILITIES_TOPIC  # noqa: E402
from services_nearby.nearest import Freshness  # noqa: E402


def per_call_ns(fn, calls: int) -> float:
    return timeit.timeit(fn, number=calls) / calls * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    app = Flask(__name__)
    app.config["CHANGES_FILE"] = str(Path(tempfile.mkdtemp()) / "changes.bin")
    read = changes.announced(FACILITIES_TOPIC, app)
    fresh = Freshness(Index(), 3600.0, read)
    fresh.heard, fresh.polled = read(), time.monotonic()  # as after a load: nothing changed
    print(f"# nearby freshness bench {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("| round | Freshness.ensure ns | announced() read ns | announce() per commit us |")
    print("| --- | --- | --- | --- |")
    with app.app_context():
        for n in range(1, args.rounds + 1):
            ensure = per_call_ns(fresh.ensure, args.calls)
            alone = per_call_ns(read, args.calls)
            commit = per_call_ns(lambda: changes.announce([FACILITIES_TOPIC]), 20_000) / 1000
            fresh.heard = read()  # the announcements above were "heard": fast path again
            print(f"| {n} | {ensure:.0f} | {alone:.0f} | {commit:.1f} |")


if __name__ == "__main__":
    main()
