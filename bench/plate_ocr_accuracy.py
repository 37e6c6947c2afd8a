"""Plate OCR benchmark: accuracy of reports.littering.ocr.suggest_plates on a labelled photo set.

Reads DIR/labels.csv (made by bench/plate_ocr_dataset.py: SYNTHETIC photos), runs suggest_plates
on each photo alone and prints, and writes to DIR/results.md: exact top-1 and top-3 accuracy,
character accuracy, wrong-suggestion and no-suggestion rates, false suggestions on the photos
without a plate, accuracy by plate width, blur, darkness and kind, and time per photo as a RATIO
to references measured in the same run (this VM's speed drifts; absolute times are not figures):
Pillow decoding + resizing the same photo, and one plain RapidOCR call on the same photo bytes.
Usage: .venv/bin/python bench/plate_ocr_accuracy.py /tmp/plates [--ref-every 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.littering import ocr  # noqa: E402


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def decode_resize(data: bytes) -> Image.Image:
    """Reference work: decode the photo and shrink it to the OCR's input size, nothing more."""
    with Image.open(io.BytesIO(data)) as im:
        img = im.convert("RGB")
    img.thumbnail((ocr.MAX_SIDE, ocr.MAX_SIDE), Image.Resampling.BILINEAR)
    return img


def plain_rapidocr(data: bytes) -> None:
    """Reference work: one RapidOCR call on the photo bytes as a naive caller would make it."""
    with ocr._lock:
        ocr._get_engine()(data)


def buckets(row: dict[str, str]) -> dict[str, str]:
    """The difficulty buckets a labelled photo falls in (either set's labels)."""
    if "plate_width_frac" not in row:  # bench/plate_ocr_independent_set.py
        frac, blur = float(row["width_frac"] or 0), float(row["blur"] or 0)
        return {
            "plate width (share of photo)": (
                "<20%" if frac < 0.20 else "20-30%" if frac < 0.30 else ">=30%"
            ),
            "blur (px at 1280)": "0" if blur == 0 else "<=2" if blur <= 2 else ">2",
            "light": "dark" if row["dark"] == "1" else "day",
            "kind": row["kind"],
        }
    frac, blur = float(row["plate_width_frac"]), float(row["blur_sigma"])
    px = int(row["plate_width_px"]) * min(
        1.0, ocr.MAX_SIDE / max(int(row["width"]), int(row["height"]))
    )
    return {
        "plate width (share of photo)": (
            "08-15%" if frac < 0.15 else "15-25%" if frac < 0.25 else "25-40%"
        ),
        "plate width at OCR size (px)": (
            "<150" if px < 150 else "150-300" if px < 300 else ">=300"
        ),
        "blur sigma": "0" if blur == 0 else "<1" if blur < 1 else "1-2.5",
        "light": "night" if row["night"] == "1" else "day",
        "kind": row["kind"],
    }


def pct(n: int, d: int) -> str:
    """n/d as a percentage with its counts."""
    return f"{100 * n / d:.1f}% ({n}/{d})" if d else "n/a"


def run(root: Path, ref_every: int) -> list[str]:
    """Evaluate every photo in root; the report as markdown lines."""
    rows = list(csv.DictReader((root / "labels.csv").open(encoding="utf-8")))
    started = time.perf_counter()
    ocr.warm()
    load_s = time.perf_counter() - started
    stats: dict[str, int] = defaultdict(int)
    chars: list[float] = []
    by: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    t_ours, t_dec, t_ours_sub, t_plain = [], [], [], []
    errors: list[str] = []
    for i, row in enumerate(rows):
        data = (root / row["file"]).read_bytes()
        t0 = time.perf_counter()
        decode_resize(data)
        t1 = time.perf_counter()
        got = [s.plate for s in ocr.suggest_plates([data], limit=3)]
        t2 = time.perf_counter()
        t_dec.append(t1 - t0)
        t_ours.append(t2 - t1)
        if i % ref_every == 0:
            t3 = time.perf_counter()
            plain_rapidocr(data)
            t_plain.append(time.perf_counter() - t3)
            t_ours_sub.append(t2 - t1)
        truth = row["plate"]
        if not truth:
            stats["none_total"] += 1
            stats["none_false"] += bool(got)
            continue
        stats["total"] += 1
        top1 = got[0] if got else ""
        stats["top1"] += top1 == truth
        stats["top3"] += truth in got
        stats["empty"] += not got
        stats["wrong"] += bool(got) and top1 != truth
        chars.append(1 - min(1.0, edit_distance(top1, truth) / len(truth)))
        for name, bucket in buckets(row).items():
            by[(name, bucket)][0] += top1 == truth
            by[(name, bucket)][1] += 1
        if top1 != truth and len(errors) < 12:
            errors.append(f"{row['file']}: {truth} -> {got}")
    n = stats["total"]
    lines = [
        f"photos: {len(rows)} ({n} with a plate, {stats['none_total']} without), "
        f"model load {load_s:.1f} s",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| exact top-1 | **{pct(stats['top1'], n)}** |",
        f"| exact top-3 | {pct(stats['top3'], n)} |",
        f"| character accuracy of top-1 (1 - edit distance / 7 or 8; none = 0) | "
        f"{100 * statistics.fmean(chars):.1f}% |",
        f"| wrong top-1 (a well-formed but wrong plate offered) | {pct(stats['wrong'], n)} |",
        f"| no suggestion on a photo with a plate | {pct(stats['empty'], n)} |",
        f"| false suggestion on a photo without a plate | "
        f"**{pct(stats['none_false'], stats['none_total'])}** |",
        "",
        "| bucket | value | exact top-1 |",
        "| --- | --- | --- |",
    ]
    for (name, bucket), (ok, total) in sorted(by.items()):
        lines.append(f"| {name} | {bucket} | {pct(ok, total)} |")
    med_ours, med_dec = statistics.median(t_ours), statistics.median(t_dec)
    lines += [
        "",
        "| time per photo, same run | ratio |",
        "| --- | --- |",
        f"| suggest_plates / Pillow decode + resize to {ocr.MAX_SIDE} (medians) | "
        f"**{med_ours / med_dec:.0f}x** |",
        f"| suggest_plates / one plain RapidOCR call on the photo bytes (sums over "
        f"{len(t_plain)} photos) | **{sum(t_ours_sub) / sum(t_plain):.2f}x** |",
        f"| p90 / median of suggest_plates | {_p90(t_ours) / med_ours:.2f} |",
        "",
        "First wrong or missing top-1 readings:",
        "",
        *[f"- {e}" for e in errors],
    ]
    return lines


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def main() -> None:
    """Command line: DIR [--ref-every N]."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument(
        "--ref-every",
        type=int,
        default=3,
        help="time a plain RapidOCR call on every Nth photo (it is as slow as ours)",
    )
    args = ap.parse_args()
    lines = run(args.dir, args.ref_every)
    text = "\n".join(lines) + "\n"
    print(text)
    (args.dir / "results.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
