"""The blind test set (bench/data/blind_reports.csv) stays blind and says what it measures.

It was written by a session given only the category definitions (bench/data/BLIND_REPORTS.md).
These tests keep it that way: it covers the taxonomy, shares no near-duplicate with the training
rows (which would mean one was copied into the other), the training code never reads it, and the
shipped model's accuracy on it does not fall below what was measured (bench/classifier_blind.py,
docs/benchmarks.md)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from reports import classifier as clf
from tests.reports.test_classifier import model  # noqa: F401 - the session-trained model
from tests.reports.test_labelled_data import _grams

ROOT = Path(__file__).parents[2]
BLIND = ROOT / "bench" / "data" / "blind_reports.csv"
CATEGORIES = ROOT / "reports" / "data" / "categories.csv"
LEAK_JACCARD = 0.8  # as test_labelled_data: the same sentence with another address or number


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_blind_set_covers_every_category_a_citizen_can_report():
    blind = rows(BLIND)
    codes = {r["code"] for r in rows(CATEGORIES)}
    counts = Counter(r["code"] for r in blind)
    assert len(blind) >= 600 and len({r["text"] for r in blind}) == len(blind)
    assert set(counts) <= codes
    assert codes - set(counts) == set(clf.EXCLUDED_CODES)  # all but "other"
    assert min(counts.values()) >= 3
    short = [r for r in blind if len(r["text"]) <= 8]
    assert len(short) / len(blind) >= 0.1  # "井盖没了": the short messages citizens send


def test_no_blind_complaint_is_a_near_copy_of_a_training_row():
    training = [r["text"] for r in rows(clf.CSV_PATH)]
    index: dict[str, set[int]] = {}
    grams = [_grams(t) for t in training]
    for i, g in enumerate(grams):
        for gram in g:
            index.setdefault(gram, set()).add(i)
    leaks = []
    for row in rows(BLIND):
        mine = _grams(row["text"])
        candidates = set().union(*(index.get(g, set()) for g in mine)) if mine else set()
        for j in candidates:
            if len(mine & grams[j]) / len(mine | grams[j]) >= LEAK_JACCARD:
                leaks.append((row["text"], training[j]))
    # Writers who never saw each other's sentences still meet on a short stock phrase now and then
    # ("出租车停靠站的牌子倒了" was written by both); such training rows are removed when found
    # (LABELLED_DATA.md, fourth round), so the blind figures never count a sentence the model
    # was trained on.
    assert leaks == []


def test_the_training_code_never_reads_the_blind_set():
    for path in (ROOT / "reports").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "blind_reports" not in text and "bench/data" not in text, path


def test_the_shipped_model_meets_the_targets_on_the_blind_set(model):  # noqa: F811
    """Issue 14's targets: top-1 >= 90% and top-3 >= 97% with the full taxonomy (measured 93.0% and
    99.2% when the set was frozen; bench/classifier_blind.py prints the details)."""
    blind = rows(BLIND)
    texts, codes = [r["text"] for r in blind], [r["code"] for r in blind]
    suggestions = model.predict_many(texts, 3)
    top1 = sum(s[0].code == c for s, c in zip(suggestions, codes, strict=True)) / len(codes)
    top3 = sum(c in {x.code for x in s} for s, c in zip(suggestions, codes, strict=True))
    assert top1 >= 0.90 and top3 / len(codes) >= 0.97, (top1, top3 / len(codes))


def test_the_confidence_means_what_it_says_on_the_blind_set(model):  # noqa: F811
    """Issue 14's calibrated confidence: over the blind set, a confidence of c is right about c of
    the time (expected calibration error over 10 bands; 0.013 with the shipped temperature, 0.30
    without it: bench/classifier_calibrate.py). The temperature was chosen on the training data."""
    blind = rows(BLIND)
    best = [s[0] for s in model.predict_many([r["text"] for r in blind], 1)]
    hits = [s.code == r["code"] for s, r in zip(best, blind, strict=True)]
    error = 0.0
    for band in range(10):
        low, high = band / 10, (band + 1) / 10
        inside = [(s.confidence, hit) for s, hit in zip(best, hits, strict=True)
                  if low < s.confidence <= high or (band == 0 and s.confidence == 0)]  # fmt: skip
        if inside:
            mean_conf = sum(c for c, _ in inside) / len(inside)
            accuracy = sum(h for _, h in inside) / len(inside)
            error += len(inside) / len(best) * abs(mean_conf - accuracy)
    assert error <= 0.05, error
