"""Calibrate the report classifier's confidence (temperature scaling) and choose the triage
threshold, on out-of-fold predictions of the TRAINING data only; then say what both give on the
blind set (bench/data/blind_reports.csv), which is never used to choose anything.

With 142 classes a multinomial logistic regression spreads its probability thin: on the blind set
a top-1 confidence of 0.25 was right 85% of the time. Temperature scaling (Guo et al., 2017)
divides the log-probabilities by one number T and renormalises: the ranking of classes within a
report is unchanged (top-1 and top-3 stay the same), only the confidences move. T is the value
that minimises the negative log-likelihood of the out-of-fold predictions.

Usage: .venv/bin/python bench/classifier_calibrate.py [--folds 5] [--json figures.json]

Prints T, the expected calibration error (ECE, 10 equal-width bands) before and after, on the
out-of-fold predictions and on the blind set, a threshold table on each, and the threshold whose
out-of-fold precision of automatic routing is closest to the shipped operating point's (95.6%).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.classifier_blind import read_blind  # noqa: E402
from reports import classifier as clf  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
TARGET_PRECISION = 0.956  # the out-of-fold precision at the old operating point (0.30 raw)


def scaled(proba: np.ndarray, t: float) -> np.ndarray:
    return clf.temperature_scale(proba, t)


def nll(proba: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(truth)), truth], 1e-12, 1))))


def fit_temperature(proba: np.ndarray, truth: np.ndarray) -> float:
    """The T minimising NLL: a coarse grid, then a finer one around the best."""
    grid = np.arange(0.10, 2.01, 0.05)
    best = min(grid, key=lambda t: nll(scaled(proba, t), truth))
    fine = np.arange(max(0.02, best - 0.05), best + 0.05, 0.005)
    return round(float(min(fine, key=lambda t: nll(scaled(proba, t), truth))), 3)


def ece(conf: np.ndarray, hit: np.ndarray, bands: int = 10) -> float:
    edges = np.linspace(0, 1, bands + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(conf[inside].mean() - hit[inside].mean())
    return round(float(total), 4)


def threshold_table(conf: np.ndarray, hit: np.ndarray) -> list[dict]:
    rows = []
    for t in THRESHOLDS:
        routed = conf >= t
        rows.append(
            {
                "threshold": t,
                "routed": round(float(routed.mean()), 4),
                "precision": round(float(hit[routed].mean()), 4) if routed.any() else None,
            }
        )
    return rows


def bands(conf: np.ndarray, hit: np.ndarray) -> list[dict]:
    out = []
    for lo, hi in ((0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01)):
        inside = (conf >= lo) & (conf < hi)
        if inside.any():
            out.append(
                {
                    "band": f"{lo:.1f}-{min(hi, 1):.1f}",
                    "n": int(inside.sum()),
                    "confidence": round(float(conf[inside].mean()), 3),
                    "accuracy": round(float(hit[inside].mean()), 3),
                }
            )
    return out


def oof_proba(texts: list[str], codes: list[str], folds: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities over the classes of a model trained on everything."""
    classes = sorted(set(codes))
    index = {c: i for i, c in enumerate(classes)}
    x, y = np.array(texts, dtype=object), np.array(codes)
    proba = np.zeros((len(texts), len(classes)))
    for n, (tr, va) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y)):
        started = time.perf_counter()
        model = clf.fit(list(x[tr]), list(y[tr]))
        part = model.pipeline.predict_proba(list(x[va]))
        cols = [index[c] for c in model.pipeline.classes_]
        proba[np.ix_(va, cols)] = part
        print(f"  fold {n + 1}/{folds}: {time.perf_counter() - started:.0f} s", flush=True)
    return proba, np.array([index[c] for c in codes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    texts, codes = clf.read_examples(clf.CSV_PATH)
    print(f"training rows: {len(texts)}; {args.folds}-fold out-of-fold predictions ...")
    proba, truth = oof_proba(texts, codes, args.folds)
    t = fit_temperature(proba, truth)
    figures: dict = {"temperature": t, "rows": len(texts)}
    for name, p in (("raw", proba), ("calibrated", scaled(proba, t))):
        conf, hit = p.max(axis=1), p.argmax(axis=1) == truth
        figures[f"oof_{name}"] = {
            "nll": round(nll(p, truth), 4),
            "ece": ece(conf, hit),
            "thresholds": threshold_table(conf, hit),
            "bands": bands(conf, hit),
        }
    conf = scaled(proba, t).max(axis=1)
    hit = scaled(proba, t).argmax(axis=1) == truth
    candidates = [x for x in np.arange(0.30, 0.95, 0.01) if (conf >= x).any()]
    chosen = min(candidates, key=lambda x: abs(float(hit[conf >= x].mean()) - TARGET_PRECISION))
    figures["chosen_threshold"] = round(float(chosen), 2)

    print("training on all rows, then the blind set ...")
    model = clf.fit(texts, codes)
    blind_texts, blind_codes = read_blind()
    raw = model.pipeline.predict_proba(blind_texts)
    classes = list(model.pipeline.classes_)
    known = np.array([c in classes for c in blind_codes])
    truth_b = np.array([classes.index(c) if c in classes else -1 for c in blind_codes])
    for name, p in (("raw", raw), ("calibrated", scaled(raw, t))):
        conf_b, hit_b = p.max(axis=1), (p.argmax(axis=1) == truth_b) & known
        figures[f"blind_{name}"] = {
            "ece": ece(conf_b, hit_b),
            "top1": round(float(hit_b.mean()), 4),
            "thresholds": threshold_table(conf_b, hit_b),
            "bands": bands(conf_b, hit_b),
        }
    cal = scaled(raw, t).max(axis=1)
    hit_b = (scaled(raw, t).argmax(axis=1) == truth_b) & known
    routed = cal >= chosen
    figures["blind_at_chosen"] = {
        "routed": round(float(routed.mean()), 4),
        "precision": round(float(hit_b[routed].mean()), 4),
        "triage": round(float(1 - routed.mean()), 4),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
