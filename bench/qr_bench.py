"""Plate QR bench: qrcode's own rendering against our path, and all 50,366 labels end to end.

    .venv/bin/python bench/qr_bench.py [--labels 50366] [--sample 2000] [--workers 2] [--profile]

Same run, same machine, synthetic labels (random codes, Chinese names, the uppercase plate URL
of a real-looking host). The reference is plain ``qrcode``: ``qrcode.make(url).save(png)`` (it
lays the symbol out nine times to pick the mask, draws with PIL), timed on ``--sample`` codes in
one process and scaled to all labels. Ours is ``app.qr`` plus the label sheet: each step per code
in one process, then ``shops.printsheet.write_all`` as ``flask shops qr`` runs it (PNG + SVG
files and the A4 PDF, ``--workers`` processes), with the CPU of the main process (the PDF) and
of the workers (QR, images, files) apart. ``--profile`` prints cProfile's top entries of one
process doing the same for ``--sample`` labels.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode  # noqa: E402

from app import qr  # noqa: E402
from shops import codes  # noqa: E402
from shops.printsheet import CHUNK, DEFAULT_FONT, Label, LabelSheet, write_all  # noqa: E402

BASE = "HTTPS://CG.SHENYANG.GOV.CN/S/"
NAMES = ["老边饺子馆", "李记五金建材商行", "鑫鑫汽车修理厂", "丽人美发造型", "东北大骨头麻辣烫",
         "便民超市", "兴顺烟酒商店", "回头客烧烤"]  # fmt: skip
DISTRICTS = ["和平区", "沈河区", "大东区", "皇姑区", "铁西区", "浑南区", "于洪区", "沈北新区"]


def make_labels(n: int) -> list[Label]:
    """Synthetic labels with distinct random codes."""
    rng = random.Random(4)
    seen: set[str] = set()
    while len(seen) < n:
        seen.add(codes.random_code())
    return [
        Label(i, c, f"{rng.choice(NAMES)}（{i}号店）", rng.choice(DISTRICTS), BASE + c)
        for i, c in enumerate(sorted(seen))
    ]


def _cpu() -> tuple[float, float]:
    """(CPU seconds of this process, of its finished children)."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def timed(fn) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process, of its children) of ``fn()``."""
    t0, (s0, c0) = time.perf_counter(), _cpu()
    fn()
    s1, c1 = _cpu()
    return time.perf_counter() - t0, s1 - s0, c1 - c0


def qrcode_own(urls: list[str]) -> None:
    """The reference: qrcode's own image rendering, make + save PNG."""
    for url in urls:
        qrcode.make(url, error_correction=qr.ERROR_CORRECTION).save(io.BytesIO())


def steps(labels: list[Label]) -> None:
    """Each step of our path in one process, per code (CPU)."""
    urls = [lb.url for lb in labels]
    mats: list = []
    sheet = LabelSheet(Path(DEFAULT_FONT))
    drawn: list = []
    parts = [
        ("QR matrix (app.qr.matrices)", lambda: mats.extend(qr.matrices(urls))),
        ("PNG (app.qr.png_bytes)", lambda: [qr.png_bytes(m) for m in mats]),
        ("SVG + PDF operators (app.qr.drawings)", lambda: drawn.extend(qr.drawings(mats))),
        ("label on the A4 sheet (LabelSheet.add)", lambda: [
            sheet.add(lb, m.shape[0], d[1]) for lb, m, d in zip(labels, mats, drawn, strict=True)
        ]),
        ("PDF output (LabelSheet.save)", lambda: sheet.save(Path(tempfile.mkdtemp()) / "l.pdf")),
    ]  # fmt: skip
    for name, fn in parts:
        _, cpu, _ = timed(fn)
        print(f"  {name:<40} {cpu / len(labels) * 1000:6.3f} ms CPU a code")


def profile(labels: list[Label]) -> None:
    """cProfile top entries (CPU time) of ``write_all`` in one process, images to a temp folder."""
    with tempfile.TemporaryDirectory() as tmp:
        prof = cProfile.Profile(time.process_time)  # CPU time: steady on a busy machine
        prof.runcall(write_all, labels, Path(tmp) / "qr", Path(tmp) / "l.pdf",
                     font=Path(DEFAULT_FONT), workers=0)  # fmt: skip
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=50_366)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    labels = make_labels(args.labels)
    sample = labels[: args.sample]
    if args.profile:
        profile(sample)
        return
    n = len(labels)
    print(f"cores={os.cpu_count()} load_before={os.getloadavg()[0]:.2f} labels={n}")
    wall, cpu, _ = timed(lambda: qrcode_own([lb.url for lb in sample]))
    ref = cpu / len(sample)
    print(f"reference: qrcode.make().save(png), 1 process: {ref * 1000:.2f} ms CPU a code "
          f"({wall / len(sample) * 1000:.2f} ms wall) -> {ref * n:.0f} s CPU for {n}, "
          f"{ref * n / 2:.0f} s on 2 cores (PNG only)")  # fmt: skip
    print(f"our steps, 1 process, {len(sample)} codes:")
    steps(sample)
    with tempfile.TemporaryDirectory() as tmp:
        out, pdf = Path(tmp) / "qr", Path(tmp) / "labels.pdf"
        wall, main_cpu, workers_cpu = timed(
            lambda: write_all(labels, out, pdf, font=Path(DEFAULT_FONT), workers=args.workers)
        )
        files = len(list(out.glob("*.png"))) + len(list(out.glob("*.svg")))
        print(f"ALL {n} labels (PNG + SVG files + A4 PDF, {args.workers} workers, chunks of "
              f"{CHUNK}): {wall:.1f} s wall, {main_cpu + workers_cpu:.1f} s CPU (main "
              f"{main_cpu:.1f} s, workers {workers_cpu:.1f} s); {files} files, PDF "
              f"{pdf.stat().st_size / 1e6:.1f} MB; {ref * n / 2 / wall:.1f}x faster than the "
              f"reference's PNGs alone on 2 cores")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out, pdf = Path(tmp) / "qr", Path(tmp) / "labels.pdf"
        wall, main_cpu, workers_cpu = timed(lambda: write_all(
            labels, out, pdf, font=Path(DEFAULT_FONT), workers=args.workers, zip_images=True
        ))  # fmt: skip
        size = (out / "qr-images.zip").stat().st_size / 1e6
        print(f"ALL {n} labels (PNG + SVG in one zip ({size:.0f} MB) + A4 PDF, "
              f"{args.workers} workers): {wall:.1f} s wall, {main_cpu + workers_cpu:.1f} s CPU "
              f"(main {main_cpu:.1f} s, workers {workers_cpu:.1f} s)")  # fmt: skip
    print(f"load_after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
