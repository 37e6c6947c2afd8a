"""The 牛皮癣 OCR on a few of the benchmark's synthetic rendered ads (bench/smallads_ocr_bench.py
renders them; docs/benchmarks.md has the full run): exact phone numbers, above a floor."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from reports.smallads import ocr

BENCH = Path(__file__).resolve().parents[3] / "bench" / "smallads_ocr_bench.py"
N, SEED = 4, 2026
RECALL_FLOOR, PRECISION_FLOOR = 0.75, 0.85  # the full run: see docs/benchmarks.md


def _bench():
    spec = importlib.util.spec_from_file_location("smallads_ocr_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_numbers_read_on_rendered_ads_are_exact_and_most_are_found():
    bench = _bench()
    data = bench.samples(N, SEED)
    found = [{s.number for s in ocr.suggest_numbers(x.jpeg)} for x in data]
    result = bench.score(found, [x.numbers for x in data])
    assert result["labelled"] >= N
    assert result["recall"] >= RECALL_FLOOR, (result, found, [x.numbers for x in data])
    assert result["precision"] >= PRECISION_FLOOR, (result, found, [x.numbers for x in data])


def test_an_unreadable_upload_suggests_nothing():
    assert ocr.suggest_numbers(b"not an image") == []
