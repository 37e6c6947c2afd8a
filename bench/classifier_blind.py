"""Report classifier on the BLIND set: complaints by someone who never saw the training data.

bench/data/blind_reports.csv was written by a separate session given only the category definitions
(bench/data/BLIND_REPORTS.md says how). It is never used for training, nor for choosing training
sentences; this script only reads it to report figures:

- top-1 and top-3 accuracy of the model trained on ALL of reports/data/labelled_reports.csv (what
  `flask reports train-classifier` ships), overall, for short texts and per category;
- calibration: accuracy by confidence band (is a confidence of 0.6 right about 60% of the time?);
- the triage threshold: for each candidate threshold, the share of reports routed automatically,
  how many of those are right, and the share sent to a dispatcher's triage queue. The threshold
  is CHOSEN on out-of-fold predictions of the training data (bench/classifier_accuracy.py does the
  same), and the blind set only reports what that choice gives; choosing it on the blind set would
  leak the test into the model.

Usage: .venv/bin/python bench/classifier_blind.py [--json figures.json]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reports import classifier as clf  # noqa: E402

BLIND = ROOT / "bench" / "data" / "blind_reports.csv"
BANDS = ((0.0, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (0.6, 0.8), (0.8, 1.01))
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.95)  # calibrated scale (TEMPERATURE)
SHORT = 8  # characters: "井盖没了"


def read_blind(path: Path = BLIND) -> tuple[list[str], list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = [(r["text"].strip(), r["code"].strip()) for r in csv.DictReader(fh)]
    rows = [(t, c) for t, c in rows if t and c]
    return [t for t, _ in rows], [c for _, c in rows]


def evaluate(model: clf.Model, texts: list[str], codes: list[str]) -> dict:
    started = time.perf_counter()
    top3 = model.predict_many(texts, 3)
    per_text_ms = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
    known = set(model.codes)
    hits1 = [s[0].code == c for s, c in zip(top3, codes, strict=True)]
    hits3 = [c in {x.code for x in s} for s, c in zip(top3, codes, strict=True)]
    conf = [s[0].confidence for s in top3]
    by_code: dict[str, list[bool]] = collections.defaultdict(list)
    for hit, code in zip(hits1, codes, strict=True):
        by_code[code].append(hit)
    short = [i for i, t in enumerate(texts) if len(t) <= SHORT]
    trained = [i for i, c in enumerate(codes) if c in known]
    confusions = collections.Counter(
        (c, s[0].code) for s, c in zip(top3, codes, strict=True) if s[0].code != c
    )
    bands = []
    for low, high in BANDS:
        idx = [i for i, x in enumerate(conf) if low <= x < high]
        if idx:
            bands.append({"band": f"{low:.1f}-{min(high, 1):.1f}", "n": len(idx),
                          "mean_confidence": sum(conf[i] for i in idx) / len(idx),
                          "accuracy": sum(hits1[i] for i in idx) / len(idx)})  # fmt: skip
    thresholds = []
    for t in THRESHOLDS:
        routed = [i for i, x in enumerate(conf) if x >= t]
        thresholds.append({"threshold": t, "routed_share": len(routed) / len(texts),
                           "routed_precision": (sum(hits1[i] for i in routed) / len(routed))
                           if routed else None,
                           "triage_share": 1 - len(routed) / len(texts)})  # fmt: skip
    return {
        "n": len(texts),
        "categories": len(by_code),
        "top1": sum(hits1) / len(texts),
        "top3": sum(hits3) / len(texts),
        "trained_n": len(trained),
        "trained_top1": (sum(hits1[i] for i in trained) / len(trained)) if trained else None,
        "trained_top3": (sum(hits3[i] for i in trained) / len(trained)) if trained else None,
        "short_n": len(short),
        "short_top1": (sum(hits1[i] for i in short) / len(short)) if short else None,
        "unknown_to_model": sorted({c for c in codes if c not in known}),
        "per_category": {c: (sum(h) / len(h), len(h)) for c, h in sorted(by_code.items())},
        "confusions": confusions.most_common(15),
        "bands": bands,
        "thresholds": thresholds,
        "ms_per_text": per_text_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()
    texts, codes = read_blind()
    train_x, train_y = clf.read_examples(clf.CSV_PATH)
    started = time.perf_counter()
    model = clf.fit(train_x, train_y)
    fit_s = time.perf_counter() - started
    figures = evaluate(model, texts, codes)
    figures["training_rows"] = len(train_x)
    figures["training_categories"] = len(set(train_y))
    figures["fit_seconds"] = fit_s
    figures["shipped_threshold"] = clf.CONFIDENCE_THRESHOLD

    print(f"blind set: {figures['n']} complaints, {figures['categories']} categories; "
          f"training: {len(train_x)} rows, {figures['training_categories']} categories "
          f"(fit {fit_s:.1f} s)")  # fmt: skip
    print(
        f"top-1 {figures['top1']:.1%}   top-3 {figures['top3']:.1%}   "
        f"short (<= {SHORT} chars, n={figures['short_n']}): top-1 {figures['short_top1']:.1%}"
    )
    if figures["unknown_to_model"]:
        untrained, n = len(figures["unknown_to_model"]), figures["trained_n"]
        print(
            f"{untrained} categories have no training rows; on the {n} complaints of the "
            f"others: top-1 {figures['trained_top1']:.1%}, top-3 {figures['trained_top3']:.1%}"
        )
    print("\ncalibration (top-1 confidence band -> accuracy):")
    for b in figures["bands"]:
        print(
            f"  {b['band']:>8}  n={b['n']:4d}  mean conf {b['mean_confidence']:.2f}  "
            f"accuracy {b['accuracy']:.1%}"
        )
    print("\nthreshold -> routed automatically (precision) / sent to triage:")
    for t in figures["thresholds"]:
        precision = "-" if t["routed_precision"] is None else f"{t['routed_precision']:.1%}"
        mark = "  <- shipped" if abs(t["threshold"] - clf.CONFIDENCE_THRESHOLD) < 1e-9 else ""
        print(
            f"  {t['threshold']:.2f}  routed {t['routed_share']:.1%} ({precision})  "
            f"triage {t['triage_share']:.1%}{mark}"
        )
    worst = sorted(figures["per_category"].items(), key=lambda kv: kv[1][0])[:15]
    print("\nweakest categories (top-1, n):")
    for code, (acc, n) in worst:
        print(f"  {code}  {acc:.0%}  n={n}")
    print("\nmost frequent confusions (true -> predicted):")
    for (true, pred), n in figures["confusions"]:
        print(f"  {true} -> {pred}  x{n}")
    print(f"\n{figures['ms_per_text']:.2f} ms per complaint (batch prediction)")
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
