"""Plate QR bench: qrcode's own rendering against our path, and all 50,366 labels end to end.

    .venv/bin/python bench/qr_bench.py [--labels 50366] [--sample 2000] [--workers 2]

Same run, same machine, synthetic labels (random codes, Chinese names, the uppercase plate URL
of a real-looking host). qrcode's path is ``qrcode.make(url).save(png)`` (picks the mask by laying
the symbol out nine times, draws with PIL); ours is ``app.qr`` (one layout, masks scored with
numpy) plus PNG, SVG and the vector PDF label, in worker processes.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode  # noqa: E402

from shops import codes, qr  # noqa: E402
from shops.printsheet import DEFAULT_FONT, Label, write_all  # noqa: E402

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


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished children)."""
    t0, c0 = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - t0, _cpu() - c0


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def qrcode_own(urls: list[str]) -> None:
    """qrcode's own image rendering: make + save PNG."""
    for url in urls:
        qrcode.make(url, error_correction=qr.ERROR_CORRECTION).save(io.BytesIO())


def ours_png(urls: list[str]) -> None:
    """Our matrix and PNG, one process."""
    for modules in qr.matrices(urls):
        qr.png_bytes(modules)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=50_366)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    labels = make_labels(args.labels)
    sample = [lb.url for lb in labels[: args.sample]]
    print(f"cores={os.cpu_count()} load_before={os.getloadavg()[0]:.2f} labels={len(labels)}")
    wall, cpu = timed(lambda: qrcode_own(sample))
    own_ms = cpu / len(sample) * 1000
    print(f"qrcode.make().save(png), 1 process: {wall / len(sample) * 1000:.2f} ms/code wall, "
          f"{own_ms:.2f} ms CPU -> {own_ms * len(labels) / 1000:.0f} s CPU "
          f"for {len(labels)}, >= {own_ms * len(labels) / 2000:.0f} s on 2 cores")  # fmt: skip
    wall, cpu = timed(lambda: ours_png(sample))
    ours_ms = cpu / len(sample) * 1000
    print(f"app.qr matrix + png_bytes, 1 process: {wall / len(sample) * 1000:.2f} ms/code wall, "
          f"{ours_ms:.2f} ms CPU ({own_ms / ours_ms:.1f}x less CPU)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out, pdf = Path(tmp) / "qr", Path(tmp) / "labels.pdf"
        wall, cpu = timed(
            lambda: write_all(labels, out, pdf, font=Path(DEFAULT_FONT), workers=args.workers)
        )
        files = len(list(out.glob("*.png"))) + len(list(out.glob("*.svg")))
        print(f"ALL {len(labels)} labels (PNG + SVG + A4 PDF, {args.workers} workers): "
              f"{wall:.1f} s wall, {cpu:.1f} s CPU; {files} files, "
              f"PDF {pdf.stat().st_size / 1e6:.1f} MB")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        out, pdf = Path(tmp) / "qr", Path(tmp) / "labels.pdf"
        wall, cpu = timed(lambda: write_all(labels, out, pdf, font=Path(DEFAULT_FONT),
                                            workers=args.workers, zip_images=True))  # fmt: skip
        size = (out / "qr-images.zip").stat().st_size / 1e6
        print(f"ALL {len(labels)} labels (PNG + SVG in one zip ({size:.0f} MB) + A4 PDF, "
              f"{args.workers} workers): {wall:.1f} s wall, {cpu:.1f} s CPU")  # fmt: skip
    print(f"load_after={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
