"""SYNTHETIC labelled photos of Chinese licence plates for the plate OCR benchmark.

No real labelled plate photos are available offline, so this renders them: a random valid plate
of every kind and colour (reports.littering.plates grammar), drawn with Noto Sans CJK SC Bold
(real plates use the GA 36 plate typeface: narrower, squarer digits and simplified province
glyphs; the OCR sees a different font here), with its border and the dot after the first two
characters (new-energy plates have a gap instead, as real ones do), on a synthetic car rear in a
street scene (gradients, buildings, a car-body rectangle with lights and a rear window, shop-sign
and road-sign text that is NOT a plate), then perspective warp, rotation, scale, blur, noise,
lighting, night-like darkness and JPEG compression. About 1 in 20 photos has no plate at all.

Every row of labels.csv is marked synthetic=1. Deterministic by seed.
Usage: .venv/bin/python bench/plate_ocr_dataset.py --out /tmp/plates --n 300 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reports.littering import plates  # noqa: E402

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FONT_INDEX_SC = 2  # the collection's Simplified Chinese face

# (kind, colour, weight): roughly what a city street shows.
MIX = (
    ("ordinary", "blue", 34),
    ("ordinary", "yellow", 9),
    ("ordinary", "black", 3),
    ("new_energy_small", "green", 22),
    ("new_energy_large", "yellow_green", 8),
    ("trailer", "yellow", 7),
    ("coach", "yellow", 7),
    ("police", "white", 10),
)
# colour -> (background, text, border)
STYLES = {
    "blue": ((18, 62, 178), (245, 245, 245), (245, 245, 245)),
    "yellow": ((240, 186, 24), (15, 15, 15), (15, 15, 15)),
    "black": ((12, 12, 12), (240, 240, 240), (240, 240, 240)),
    "white": ((240, 240, 240), (15, 15, 15), (15, 15, 15)),
    "green": ((120, 205, 130), (10, 10, 10), (10, 10, 10)),
    "yellow_green": ((120, 205, 130), (10, 10, 10), (10, 10, 10)),
}
CAR_COLOURS = [
    (235, 235, 235),
    (170, 172, 176),
    (25, 25, 28),
    (160, 20, 25),
    (30, 60, 140),
    (90, 92, 95),
    (200, 190, 170),
]
# Text that is not a plate: shop signs, road signs, phone numbers, things with a province
# character or plate-like letters and digits in them.
CLUTTER = [
    "便利店",
    "停车场",
    "限速60",
    "湘菜馆",
    "粤式早茶",
    "京东快递",
    "川味小吃",
    "24小时营业",
    "出口 EXIT",
    "P 停车",
    "138 0000 1234",
    "ABC 1234",
    "No.88",
    "2024-05-01",
    "禁止停车",
    "公交站",
    "人民路",
    "A8出口",
    "K1234次",
    "鲁西南",
    "苏宁易购",
    "沪上阿姨",
    "10元",
    "ZHONGSHAN RD",
    "浙大",
    "云南米线",
    "新华书店",
    "中国石化",
    "福利彩票",
    "GATE 3",
]


@dataclass
class Sample:
    """One rendered photo's label and difficulty parameters."""

    file: str
    plate: str  # "" for a photo with no plate
    colour: str
    kind: str
    synthetic: int
    width: int
    height: int
    plate_width_frac: float
    plate_width_px: int
    rotation_deg: float
    perspective: float
    blur_sigma: float
    noise_sigma: float
    brightness: float
    night: int
    jpeg_quality: int


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size, index=FONT_INDEX_SC)


def random_plate(rng: random.Random, kind: str) -> str:
    """A random plate number of the kind, valid under the plates grammar."""
    prov = rng.choice(plates.PROVINCES)
    letter = rng.choice(plates.AUTHORITY_LETTERS.replace("I", "").replace("O", ""))
    digits = "0123456789"
    if kind == "new_energy_small":
        second = rng.choice(digits * 3 + plates.SERIAL_LETTERS)
        serial = rng.choice(plates.NEV_SMALL_FIRST[:2] * 3 + plates.NEV_SMALL_FIRST)
        serial += second + "".join(rng.choices(digits, k=4))
    elif kind == "new_energy_large":
        serial = "".join(rng.choices(digits, k=5)) + rng.choice("DF")
    elif kind in ("trailer", "coach", "police"):
        suffix = {"trailer": "挂", "coach": "学", "police": "警"}[kind]
        serial = "".join(rng.choices(digits, k=4)) + suffix
    else:
        # Mostly digits with up to two letters, as issued serials are.
        chars = [rng.choice(digits) for _ in range(5)]
        for pos in rng.sample(range(5), rng.choice((0, 1, 1, 2))):
            chars[pos] = rng.choice(plates.SERIAL_LETTERS)
        serial = "".join(chars)
    plate = prov + letter + serial
    assert plates.check_plate(plate).ok, plate
    return plate


def _glyph(ch: str, cell_w: int, cell_h: int, colour: tuple[int, int, int]) -> Image.Image:
    """One character stretched into its cell, as plate glyphs are taller than wide."""
    font = _font(cell_h)
    left, top, right, bottom = font.getbbox(ch)
    img = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(img).text((-left, -top), ch, font=font, fill=255)
    w = cell_w if ch.isascii() else int(cell_w * 1.05)
    mask = img.resize((max(1, w), cell_h), Image.Resampling.LANCZOS)
    out = Image.new("RGBA", mask.size, colour + (0,))
    out.putalpha(mask)
    return out


def _plate_background(colour: str, w: int, h: int) -> Image.Image:
    bg, _, _ = STYLES[colour]
    img = Image.new("RGB", (w, h), bg)
    if colour in ("green", "yellow_green"):
        # Gradient green: pale at the top, deeper at the bottom (GA 36-2018 NEV plates).
        top, bottom = np.array([235, 250, 235]), np.array([70, 190, 95])
        t = np.linspace(0, 1, h)[:, None, None]
        arr = (top * (1 - t) + bottom * t).repeat(w, axis=1).astype(np.uint8)
        img = Image.fromarray(arr)
        if colour == "yellow_green":
            # Large NEV: yellow under the province and letter, green under the serial.
            ImageDraw.Draw(img).rectangle((0, 0, int(w * 0.25), h), fill=(235, 190, 30))
    return img


def render_plate(plate: str, colour: str, scale: float = 1.0) -> Image.Image:
    """The plate face as an RGBA image, 440x140 (480x140 new-energy) times scale."""
    nev = len(plate) == 8
    w_mm, cw, gap, dot_gap = (480, 43, 9, 49) if nev else (440, 45, 12, 34)
    w, h = int(w_mm * scale), int(140 * scale)
    _, fg, border = STYLES[colour]
    img = _plate_background(colour, w, h).convert("RGBA")
    draw = ImageDraw.Draw(img)
    inset = max(2, int(5 * scale))
    draw.rounded_rectangle(
        (inset, inset, w - inset, h - inset),
        radius=int(10 * scale),
        outline=border,
        width=max(1, int(3 * scale)),
    )
    x = (w_mm - (len(plate) * cw + (len(plate) - 2) * gap + dot_gap)) / 2
    for i, ch in enumerate(plate):
        ink = (200, 20, 20) if ch == "警" else fg
        glyph = _glyph(ch, int(cw * scale), int(90 * scale), ink)
        img.alpha_composite(glyph, (int(x * scale), int(25 * scale)))
        x += cw + (dot_gap if i == 1 else gap)
        if i == 1 and not nev:
            cx, cy, r = (x - dot_gap / 2) * scale, 70 * scale, 5 * scale
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
    return img


def _scene(rng: random.Random, w: int, h: int) -> Image.Image:
    """Sky-to-road gradient, buildings and sign text."""
    top = np.array([rng.randint(120, 220), rng.randint(150, 220), rng.randint(170, 250)])
    bottom = np.array([rng.randint(60, 120)] * 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = Image.fromarray((top * (1 - t) + bottom * t).repeat(w, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 6)):
        bx, bw = rng.randint(0, w), rng.randint(w // 8, w // 3)
        by = rng.randint(0, h // 3)
        draw.rectangle(
            (bx, by, bx + bw, h // 2 + rng.randint(0, h // 6)),
            fill=tuple(rng.randint(60, 200) for _ in range(3)),
        )
    for _ in range(rng.randint(2, 5)):
        text = rng.choice(CLUTTER)
        size = rng.randint(max(12, h // 40), max(14, h // 12))
        x, y = rng.randint(0, max(1, w - size * 4)), rng.randint(0, h - size - 1)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.6:
            pad = size // 4
            tw = int(_font(size).getlength(text))
            draw.rectangle(
                (x - pad, y - pad, x + tw + pad, y + size + pad * 2),
                fill=tuple(255 - c for c in fill),
            )
        draw.text((x, y), text, font=_font(size), fill=fill)
    return img


def _car(rng: random.Random, img: Image.Image, cx: float, cy: float, plate_w: float) -> None:
    """A car rear around the plate position: body, rear window, lights, bumper."""
    draw = ImageDraw.Draw(img)
    body = rng.choice(CAR_COLOURS)
    cw, ch = plate_w * rng.uniform(3.6, 4.6), plate_w * rng.uniform(1.9, 2.4)
    x0, y0 = cx - cw / 2, cy - ch * 0.62
    draw.rounded_rectangle((x0, y0, x0 + cw, y0 + ch), radius=int(cw * 0.06), fill=body)
    glass = tuple(int(c * 0.25) + 20 for c in body)
    draw.rounded_rectangle(
        (x0 + cw * 0.12, y0 - ch * 0.38, x0 + cw * 0.88, y0 + ch * 0.05),
        radius=int(cw * 0.04),
        fill=glass,
    )
    for lx in (x0 + cw * 0.03, x0 + cw * 0.79):
        draw.rectangle((lx, y0 + ch * 0.12, lx + cw * 0.18, y0 + ch * 0.28), fill=(190, 20, 25))
    draw.rectangle((x0, y0 + ch * 0.82, x0 + cw, y0 + ch), fill=(35, 35, 38))
    if rng.random() < 0.5:  # a model badge: text that is not a plate
        badge = rng.choice(["SUV", "2.0T", "HYBRID", "4MATIC", "EV", "LX"])
        size = max(8, int(plate_w * 0.08))
        draw.text((x0 + cw * 0.7, y0 + ch * 0.45), badge, font=_font(size), fill=(200, 200, 200))


def _paste_warped(img: np.ndarray, face: Image.Image, quad: np.ndarray) -> np.ndarray:
    """Composite the plate face onto the photo, mapped onto the destination quadrilateral."""
    fw, fh = face.size
    src = np.float32([[0, 0], [fw, 0], [fw, fh], [0, fh]])
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    rgba = np.asarray(face)
    size = (img.shape[1], img.shape[0])
    warped = cv2.warpPerspective(rgba, m, size, flags=cv2.INTER_LINEAR)
    alpha = warped[:, :, 3:4].astype(np.float32) / 255.0
    return (img * (1 - alpha) + warped[:, :, :3] * alpha).astype(np.uint8)


def _plate_quad(
    rng: random.Random, cx: float, cy: float, pw: float, ph: float, rot: float, persp: float
) -> np.ndarray:
    pts = np.array([[-pw / 2, -ph / 2], [pw / 2, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
    # Perspective: one side shorter than the other, as when the photo is taken from the side.
    side = 1 if rng.random() < 0.5 else -1
    pts[:, 1] *= 1 + side * persp * np.sign(pts[:, 0])
    pts += rng.uniform(-persp, persp) * ph * np.array([[1, 0], [1, 0], [-1, 0], [-1, 0]])
    a = np.deg2rad(rot)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ r.T + np.array([cx, cy])


def _degrade(rng: random.Random, img: Image.Image, s: Sample) -> bytes:
    """Lighting, darkness, blur, noise and JPEG: the photo as a phone would send it."""
    if s.blur_sigma > 0:
        img = img.filter(ImageFilter.GaussianBlur(s.blur_sigma))
    arr = np.asarray(img).astype(np.float32)
    h, w = arr.shape[:2]
    shade = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.8, 1.15), w)[None, :, None]
    arr = arr * s.brightness * shade
    if s.night:
        arr = arr * np.array([0.85, 0.9, 1.1])  # sodium lamps off, a bluish cast
    nrng = np.random.default_rng(rng.randrange(2**32))
    arr += nrng.normal(0, s.noise_sigma, arr.shape)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=s.jpeg_quality)
    return buf.getvalue()


def render_sample(
    rng: random.Random, name: str, plate: str, colour: str, kind: str, *, easy: bool = False
) -> tuple[bytes, Sample]:
    """One photo (JPEG bytes) and its label; easy=True gives a large, sharp, level plate."""
    w = rng.choice((1280, 1600, 1920)) if not easy else 1280
    h = int(w * rng.choice((0.75, 0.5625, 1.333))) if not easy else 960
    night = int(not easy and rng.random() < 0.15)
    frac = rng.uniform(0.25, 0.35) if easy else rng.uniform(0.08, 0.40)
    s = Sample(
        file=name,
        plate=plate,
        colour=colour,
        kind=kind,
        synthetic=1,
        width=w,
        height=h,
        plate_width_frac=round(frac, 3),
        plate_width_px=int(frac * w),
        rotation_deg=round(0 if easy else rng.uniform(-10, 10), 1),
        perspective=round(0 if easy else rng.uniform(0, 0.15), 3),
        blur_sigma=round(0 if easy else rng.choice((0, 0, rng.uniform(0.3, 2.5))), 2),
        noise_sigma=round(2 if easy else rng.uniform(0, 12), 1),
        brightness=round(
            1.0 if easy else (rng.uniform(0.25, 0.45) if night else rng.uniform(0.7, 1.25)), 2
        ),
        night=night,
        jpeg_quality=90 if easy else rng.randint(40, 90),
    )
    img = _scene(rng, w, h)
    pw = s.plate_width_px
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.55, 0.75) * h
    _car(rng, img, cx, cy, pw)
    arr = np.asarray(img.convert("RGB"))
    if plate:
        face = render_plate(plate, colour, scale=max(0.5, pw / 440))
        ph = pw * face.size[1] / face.size[0]
        arr = _paste_warped(
            arr, face, _plate_quad(rng, cx, cy, pw, ph, s.rotation_deg, s.perspective)
        )
    return _degrade(rng, Image.fromarray(arr), s), s


def render_example(plate: str, colour: str, *, seed: int = 0) -> bytes:
    """A clear photo of the plate (large, level, sharp, daylight) as JPEG bytes: for tests."""
    kind = plates.check_plate(plate).kind or ""
    return render_sample(random.Random(seed), "example.jpg", plate, colour, kind, easy=True)[0]


def render_no_plate(*, seed: int = 0) -> bytes:
    """A clear daylight street photo with a car and sign text but no plate: for tests."""
    return render_sample(random.Random(seed), "none.jpg", "", "", "", easy=True)[0]


def build(out: Path, n: int, seed: int) -> list[Sample]:
    """Render n photos into out/ and write out/labels.csv."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    kinds = [(k, c) for k, c, _ in MIX]
    weights = [wt for _, _, wt in MIX]
    samples = []
    for i in range(n):
        name = f"{i:04d}.jpg"
        if i % 20 == 19:  # one photo in twenty has no plate: no suggestion is expected
            kind, colour, plate = "", "", ""
        else:
            kind, colour = rng.choices(kinds, weights)[0]
            plate = random_plate(rng, kind)
        data, sample = render_sample(rng, name, plate, colour, kind)
        (out / name).write_bytes(data)
        samples.append(sample)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(samples[0])))
        writer.writeheader()
        writer.writerows(asdict(s) for s in samples)
    return samples


def main() -> None:
    """Command line: --out DIR --n N --seed S."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    samples = build(args.out, args.n, args.seed)
    print(f"{len(samples)} SYNTHETIC photos in {args.out} (seed {args.seed}), labels.csv written")


if __name__ == "__main__":
    main()
