"""Report classifier benchmark: held-out accuracy, baselines, confusions, timings, model size.

Protocol: a fixed-seed stratified 80/20 split of reports/data/labelled_reports.csv. The 20% test
part is used only for the figures printed under "held-out". The confidence threshold is read from
out-of-fold predictions of a 5-fold cross-validation on the 80% part (never the test part).
Usage: .venv/bin/python bench/classifier_accuracy.py
"""

from __future__ import annotations

import collections
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports import classifier as clf  # noqa: E402

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)
OFF_TOPIC = ["今天天气不错", "asdfgh", "你好", "请问怎么办理护照", "我想买个手机", "哈哈哈哈"]


def keyword_baseline(train_x: list[str], train_y: list[str]) -> dict[str, str]:
    """Keyword -> code: each code's name (from categories.csv) and its 2-char pieces."""
    keywords: dict[str, str] = {}
    names = clf.DATA_DIR / "categories.csv"
    for line in names.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.split(",")
        code, name = parts[0], parts[5]
        if code in set(train_y):
            keywords[name] = code
            for i in range(len(name) - 1):
                keywords.setdefault(name[i : i + 2], code)
    return keywords


def keyword_predict(keywords: dict[str, str], text: str, fallback: str) -> str:
    """The code of the longest keyword found in the text, else the fallback."""
    found = [k for k in keywords if k in text]
    return keywords[max(found, key=len)] if found else fallback


def out_of_fold(train_x: list[str], train_y: list[str]) -> list[tuple[float, bool]]:
    """(top-1 confidence, correct) for each training row, from 5-fold CV on the training part."""
    x, y = np.array(train_x, dtype=object), np.array(train_y)
    pairs: list[tuple[float, bool]] = []
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        model = clf.fit(list(x[tr]), list(y[tr]))
        for sug, code in zip(model.predict_many(list(x[va]), 1), y[va], strict=True):
            pairs.append((sug[0].confidence, sug[0].code == code))
    return pairs


def print_thresholds(pairs: list[tuple[float, bool]], title: str) -> None:
    """Coverage (share routed automatically) and precision of those, per threshold."""
    print(f"\n{title}")
    for th in THRESHOLDS:
        kept = [ok for conf, ok in pairs if conf >= th]
        prec = sum(kept) / len(kept) if kept else float("nan")
        print(
            f"  threshold {th:.2f}: coverage {len(kept) / len(pairs):6.1%}  precision {prec:6.1%}"
        )


def print_errors(model: clf.Model, test_x: list[str], test_y: list[str]) -> None:
    """Per-class worst recall and the most frequent confusion pairs on the test part."""
    preds = [s[0].code for s in model.predict_many(test_x, 1)]
    total = collections.Counter(test_y)
    wrong = collections.Counter(y for y, p in zip(test_y, preds, strict=True) if y != p)
    print("\nworst classes (recall on held-out):")
    for code, n in wrong.most_common(8):
        print(f"  {code}: {total[code] - n}/{total[code]}")
    pairs = collections.Counter((y, p) for y, p in zip(test_y, preds, strict=True) if y != p)
    print("confusion pairs (true -> predicted):")
    for (y, p), n in pairs.most_common(10):
        print(f"  {y} -> {p}: {n}")


def print_latency(model: clf.Model, texts: list[str]) -> None:
    """p50/p99 latency of single-text predictions."""
    times = []
    for text in texts:
        started = time.perf_counter()
        model.predict(text)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"\nlatency per text: p50 {statistics.median(times):.2f} ms, p99 {p99:.2f} ms")


def main() -> None:
    """Run the whole benchmark and print it."""
    texts, codes = clf.read_examples(clf.CSV_PATH)
    train_x, test_x, train_y, test_y = clf.holdout_split(texts, codes)
    print(
        f"examples {len(texts)}, classes {len(set(codes))},"
        f" train {len(train_x)}, test {len(test_x)}"
    )

    majority = collections.Counter(train_y).most_common(1)[0][0]
    print(f"majority-class baseline: top-1 {sum(y == majority for y in test_y) / len(test_y):.1%}")
    keywords = keyword_baseline(train_x, train_y)
    hits = sum(
        keyword_predict(keywords, x, majority) == y for x, y in zip(test_x, test_y, strict=True)
    )
    print(f"keyword baseline (category names): top-1 {hits / len(test_y):.1%}")

    started = time.perf_counter()
    model = clf.fit(train_x, train_y)
    print(f"\ntraining on {len(train_x)} rows: {time.perf_counter() - started:.1f} s")
    for k in (1, 3, 5):
        print(f"held-out top-{k}: {clf.top_k_accuracy(model, test_x, test_y, k):.1%}")
    print_errors(model, test_x, test_y)
    test_pairs = [
        (s[0].confidence, s[0].code == y)
        for s, y in zip(model.predict_many(test_x, 1), test_y, strict=True)
    ]
    print_thresholds(out_of_fold(train_x, train_y), "threshold choice (5-fold OOF on train part):")
    print_thresholds(test_pairs, "same thresholds on held-out (reported, not tuned on):")
    off = [s[0].confidence for s in model.predict_many(OFF_TOPIC, 1)]
    print(f"\noff-topic max confidence: {max(off):.3f} ({len(OFF_TOPIC)} texts)")
    print_latency(model, test_x)

    started = time.perf_counter()
    full = clf.train(clf.CSV_PATH)
    print(f"\ntraining on all {full.n_examples} rows: {time.perf_counter() - started:.1f} s")
    print(f"model file size: {len(pickle.dumps(full, pickle.HIGHEST_PROTOCOL)) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
