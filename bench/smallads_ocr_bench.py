"""Phone-number accuracy of the 牛皮癣 OCR (reports/smallads/ocr.py) on SYNTHETIC rendered ads.

No labelled photos of real small ads are available offline, so this renders them, deterministic
by seed: 1-3 ads per photo ("专业开锁", "办证 刻章", "疏通下水道", "高价回收" ... with random mobile
or landline numbers written the ways ads write them: 13912345678, 139 1234 5678, 139-1234-5678,
024-12345678), printed on coloured paper or sprayed straight on the surface, in the four Noto
CJK faces on this machine (Sans/Serif, Regular/Bold), rotated, on procedural textures that look
like the places ads are put (concrete, brick, a painted metal box, a tiled wall, a pole), with
distracting digits (24小时, 2024年, 80元), then blur, noise, lighting and JPEG compression.
The images are not stored: this file is the data set.

Reports exact-number recall (labelled numbers read exactly) and precision (numbers read that
are on the photo), and the OCR's median time per photo relative to a reference measured in the
same run: Pillow decoding the same JPEG and resizing it to the OCR's MAX_SIDE.

Usage: .venv/bin/python bench/smallads_ocr_bench.py [--n 100] [--seed 15]  (about 1.5 s of CPU per
photo on this 2-core machine: 100 photos keep the run near 3 minutes)
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.smallads import ocr  # noqa: E402

FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
]
FONT_INDEX_SC = 2  # the collections' Simplified Chinese face
W, H = 720, 540
TITLES = ["专业开锁", "办证 刻章", "疏通下水道", "高价回收", "搬家搬厂", "管道疏通", "贷款 急用钱",
          "招聘 日结", "家电维修", "空调移机", "代开发票", "防水补漏"]  # fmt: skip
FILLERS = ["24小时服务", "价格实惠", "随叫随到", "2024年新店", "上门服务80元起", "全市连锁",
           "诚信经营", "快速办理", "微信同号", "老师傅20年经验"]  # fmt: skip
PREFIXES = ["", "", "电话：", "电话 ", "Tel:", "热线："]
AREA_CODES = ["024", "010", "021", "0411", "0415", "0731"]
PAPERS = [(250, 250, 245), (255, 240, 120), (255, 200, 210), (200, 225, 255), (255, 255, 255)]
INKS = [(20, 20, 20), (200, 20, 20), (20, 40, 160), (10, 90, 30)]


@dataclass
class Sample:
    jpeg: bytes
    numbers: set[str]


def _font(rng: random.Random, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(rng.choice(FONTS), size, index=FONT_INDEX_SC)


def _number(rng: random.Random) -> tuple[str, str]:
    """(the stored form, how the ad writes it)."""
    if rng.random() < 0.8:
        digits = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        style = rng.random()
        if style < 0.45:
            written = digits
        elif style < 0.8:
            written = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
        else:
            written = f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
        return digits, written
    area = rng.choice(AREA_CODES)
    local_len = 8 if len(area) == 3 else rng.choice((7, 8))
    local = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(local_len - 1))
    return f"{area}-{local}", f"{area}-{local}"


def _noise(rng: np.random.Generator, scale: int) -> np.ndarray:
    small = rng.random((H // scale + 2, W // scale + 2)).astype(np.float32)
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((W, H), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 255.0


def _background(rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    kind = rng.choice(("concrete", "brick", "metal", "tile", "pole"))
    grain = 0.5 * _noise(nrng, 4) + 0.3 * _noise(nrng, 24) + 0.2 * _noise(nrng, 96)
    if kind == "brick":
        base = np.zeros((H, W, 3), np.float32)
        bh, bw = rng.randint(40, 60), rng.randint(90, 130)
        for row in range(H // bh + 1):
            off = (row % 2) * bw // 2
            for col in range(-1, W // bw + 2):
                tone = np.array([rng.randint(130, 180), rng.randint(55, 85), rng.randint(40, 65)])
                x0, y0 = col * bw + off, row * bh
                base[y0 + 3 : y0 + bh - 3, max(0, x0 + 3) : max(0, x0 + bw - 3)] = tone
        base[base.sum(axis=2) == 0] = (170, 165, 155)  # mortar
    else:
        colour = {"concrete": (150, 148, 142), "metal": (95, 130, 110), "tile": (215, 212, 205),
                  "pole": (120, 120, 125)}[kind]  # fmt: skip
        base = np.ones((H, W, 3), np.float32) * np.array(colour, np.float32)
        if kind == "tile":
            step = rng.randint(70, 110)
            base[::step, :] = base[:, ::step] = (150, 150, 150)
        if kind == "pole":
            x = np.linspace(-1, 1, W)
            base *= (1.0 - 0.45 * x**2)[None, :, None]
    img = base * (0.75 + 0.5 * grain[:, :, None])
    if rng.random() < 0.5:  # stains, old torn paper
        img *= (0.85 + 0.3 * _noise(nrng, 160))[:, :, None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _ad(rng: random.Random, numbers: list[str]) -> Image.Image:
    """One ad on paper (RGBA, transparent outside), or sprayed text with no paper."""
    sprayed = rng.random() < 0.2
    size = rng.randint(26, 40)
    lines = [(rng.choice(TITLES), int(size * 1.3))]
    if rng.random() < 0.7:
        lines.append((rng.choice(FILLERS), int(size * 0.8)))
    lines += [(rng.choice(PREFIXES) + n, size) for n in numbers]
    fonts = [_font(rng, s) for _, s in lines]
    widths = [f.getbbox(t)[2] for (t, _), f in zip(lines, fonts, strict=True)]
    pad = 14
    w = max(widths) + 2 * pad
    h = sum(int(s * 1.35) for _, s in lines) + 2 * pad
    paper = (0, 0, 0, 0) if sprayed else (*rng.choice(PAPERS), 255)
    img = Image.new("RGBA", (w, h), paper)
    draw = ImageDraw.Draw(img)
    ink = (200, 20, 20) if sprayed else rng.choice(INKS)
    y = pad
    for (text, s), font in zip(lines, fonts, strict=True):
        draw.text((pad, y), text, font=font, fill=(*ink, 255))
        y += int(s * 1.35)
    return img.rotate(rng.uniform(-12, 12), expand=True, resample=Image.Resampling.BICUBIC)


def make_sample(rng: random.Random) -> Sample:
    nrng = np.random.default_rng(rng.randrange(2**32))
    scene = _background(rng, nrng).convert("RGBA")
    labels: set[str] = set()
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        picked = [_number(rng) for _ in range(1 if rng.random() < 0.85 else 2)]
        ad = _ad(rng, [written for _, written in picked])
        if ad.width >= W - 10 or ad.height >= H - 10:
            continue
        for _ in range(20):
            x, y = rng.randint(5, W - ad.width - 5), rng.randint(5, H - ad.height - 5)
            box = (x, y, x + ad.width, y + ad.height)
            if all(box[2] < p[0] or box[0] > p[2] or box[3] < p[1] or box[1] > p[3]
                   for p in placed):  # fmt: skip
                placed.append(box)
                scene.alpha_composite(ad, (x, y))
                labels |= {stored for stored, _ in picked}
                break
    img = scene.convert("RGB")
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.4)))
    arr = np.asarray(img, np.float32) * rng.uniform(0.6, 1.15)
    arr += nrng.normal(0, rng.uniform(2, 9), arr.shape)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(55, 90))
    return Sample(buf.getvalue(), labels)


def samples(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    return [make_sample(rng) for _ in range(n)]


def reference_op(jpeg: bytes) -> None:
    """Pillow: decode the JPEG and resize it to the OCR's MAX_SIDE (the reference time)."""
    with Image.open(io.BytesIO(jpeg)) as im:
        img = im.convert("RGB")
    img.resize((ocr.MAX_SIDE, ocr.MAX_SIDE * img.height // img.width), Image.Resampling.BILINEAR)


def score(found: list[set[str]], truth: list[set[str]]) -> dict[str, float]:
    hits = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    labelled = sum(len(t) for t in truth)
    read = sum(len(f) for f in found)
    return {"recall": hits / labelled if labelled else 1.0,
            "precision": hits / read if read else 1.0,
            "labelled": labelled, "read": read, "hits": hits}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    data = samples(args.n, args.seed)
    generated = time.perf_counter() - started
    ocr.ocr_engine.warm()
    found, ocr_times, ref_times = [], [], []
    for s in data:
        t0 = time.perf_counter()
        reference_op(s.jpeg)
        ref_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found.append({x.number for x in ocr.suggest_numbers(s.jpeg)})
        ocr_times.append(time.perf_counter() - t0)
    result = score(found, [s.numbers for s in data])
    ocr_ms, ref_ms = statistics.median(ocr_times) * 1e3, statistics.median(ref_times) * 1e3
    mobile = score([{n for n in f if "-" not in n} for f in found],
                   [{n for n in s.numbers if "-" not in n} for s in data])  # fmt: skip
    land = score([{n for n in f if "-" in n} for f in found],
                 [{n for n in s.numbers if "-" in n} for s in data])  # fmt: skip
    print(f"{args.n} synthetic photos (seed {args.seed}), {result['labelled']} labelled numbers, "
          f"generated in {generated:.1f} s")  # fmt: skip
    print(f"exact-number recall    {result['recall']:.3f} ({result['hits']}/{result['labelled']})")
    print(f"exact-number precision {result['precision']:.3f} ({result['hits']}/{result['read']})")
    print(f"  mobiles:   recall {mobile['recall']:.3f}, precision {mobile['precision']:.3f}")
    print(f"  landlines: recall {land['recall']:.3f}, precision {land['precision']:.3f}")
    print(f"median per photo: OCR {ocr_ms:.0f} ms, reference (Pillow decode + resize to "
          f"{ocr.MAX_SIDE}) {ref_ms:.1f} ms, ratio {ocr_ms / ref_ms:.0f}x; "
          f"total {time.perf_counter() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
