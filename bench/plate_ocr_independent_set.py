"""Independent synthetic test set for the licence-plate OCR suggestion.

    .venv/bin/python bench/plate_ocr_independent_set.py --out /tmp/plate_independent --n 300 \
        --seed 4242

Written from the public definition of Chinese mainland plates only (not from the OCR code nor
from the other synthetic set).  Each photo is a scene of our own: sky, buildings, a shop sign with
a phone number, a road, and the rear of a car (body, rear window, tail lights, brand and model
badges, a dealer plate frame with its name and phone number).  The plate is drawn flat at
2 px/mm after the real layout (440x140 mm, 45x90 mm cells, a dot after the second character;
480 mm and eight cells for new-energy plates), with Noto Serif/Sans CJK for Chinese characters and
a narrow Latin face (DejaVu Sans Condensed, Liberation Sans Narrow) stretched into the cells.
The whole scene is then warped by one homography (rotation, shear, perspective) and degraded:
cast shadow, glare, dirt on the plate, low light, sensor noise, blur, JPEG 35-90.
Some photos carry no plate (empty holder, a card with a phone number, a shop-front view).

Output: ``DIR/ind_NNNN.jpg`` and ``DIR/labels.csv`` with
``file,plate,colour,kind,width_frac,blur,dark,synthetic`` (plate without the dot, empty when the
photo has none; blur is the Gaussian radius in output pixels, 0 when sharp; dark is 0/1).
Only Pillow and numpy.  Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O
DIGITS = "0123456789"

FONT_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts")]
CJK_CANDIDATES = [
    ("NotoSerifCJK-Bold.ttc", "Noto Serif CJK SC"),
    ("NotoSerifCJK-Regular.ttc", "Noto Serif CJK SC"),
    ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
]
LATIN_CANDIDATES = [
    "DejaVuSansCondensed-Bold.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "DejaVuSansCondensed.ttf",
]
SCENE_LATIN = ["DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "DejaVuSerif-Bold.ttf"]

BRANDS = ["TOYOTA", "HONDA", "VOLKSWAGEN", "BUICK", "NISSAN", "HAVAL", "GEELY", "CHERY", "BYD"]
MODELS = ["CAMRY", "ACCORD", "SAGITAR", "LAVIDA", "SYLPHY", "H6", "EMGRAND", "TIGGO 8", "QIN PLUS"]
BRANDS_ZH = ["比亚迪", "吉利汽车", "长安", "红旗", "五菱", "奇瑞", "哈弗", "荣威"]
DEALERS = ["广汽丰田4S店", "一汽大众汽车城", "上汽通用别克", "东风日产专营店", "比亚迪王朝网"]
SIGNS = ["老王汽修", "洗车美容", "便民超市", "兰州拉面", "五金建材", "快递驿站", "停车场"]
STICKERS = ["代驾", "实习", "挪车电话", "车内有宝宝", "新手上路"]

# Plate colours (RGB) and character colours.
BLUE = (16, 66, 178)
YELLOW = (242, 186, 24)
GREEN_TOP = (96, 196, 112)
GREEN_BOTTOM = (236, 248, 236)
WHITE_PLATE = (236, 238, 234)
WHITE_INK = (246, 246, 246)
BLACK_INK = (18, 18, 22)
RED_INK = (200, 24, 28)

MIX = [  # (colour, kind, count out of 275 plated photos)
    ("blue", "ordinary", 150),
    ("yellow", "ordinary", 35),
    ("green", "new_energy_small", 40),
    ("yellow_green", "new_energy_large", 20),
    ("yellow", "coach", 15),
    ("white", "police", 15),
]
NO_PLATE = 25


# --------------------------------------------------------------------------- fonts


def _find_font(name: str) -> Path | None:
    for d in FONT_DIRS:
        if d.exists():
            for p in d.rglob(name):
                return p
    return None


def _ttc_index(path: Path, family: str) -> int:
    for i in range(12):
        try:
            f = ImageFont.truetype(str(path), 40, index=i)
        except OSError:
            break
        if f.getname()[0] == family:
            return i
    return 0


@dataclass
class Fonts:
    cjk: list[tuple[str, int]]  # (path, ttc index)
    latin: list[str]
    scene_latin: list[str]


def load_fonts() -> Fonts:
    cjk = []
    for fname, family in CJK_CANDIDATES:
        p = _find_font(fname)
        if p:
            cjk.append((str(p), _ttc_index(p, family)))
    if not cjk:
        p = _find_font("NotoSansCJK-Bold.ttc")
        if not p:
            raise SystemExit("no CJK font found (install fonts-noto-cjk)")
        cjk.append((str(p), _ttc_index(p, "Noto Sans CJK SC")))
    latin = [str(p) for p in map(_find_font, LATIN_CANDIDATES) if p]
    scene = [str(p) for p in map(_find_font, SCENE_LATIN) if p]
    if not latin or not scene:
        raise SystemExit("no DejaVu/Liberation font found")
    return Fonts(cjk, latin, scene)


_FONT_CACHE: dict[tuple[str, int, int], ImageFont.FreeTypeFont] = {}


def font(path: str, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    key = (path, size, index)
    if key not in _FONT_CACHE:
        _FONT_CACHE[key] = ImageFont.truetype(path, size, index=index)
    return _FONT_CACHE[key]


# --------------------------------------------------------------------------- plate text


def make_plate_text(rng: random.Random, kind: str) -> list[str]:
    """Characters of the plate, without the separator."""
    prov = rng.choice(PROVINCES)
    auth = rng.choice(LETTERS[:8]) if rng.random() < 0.6 else rng.choice(LETTERS)
    if kind == "ordinary":
        serial = [rng.choice(DIGITS) for _ in range(5)]
        n_letters = rng.choices([0, 1, 2, 3], weights=[40, 35, 20, 5])[0]
        for pos in rng.sample(range(5), n_letters):
            serial[pos] = rng.choice(SERIAL_LETTERS)
        return [prov, auth, *serial]
    if kind == "new_energy_small":
        second = rng.choice(SERIAL_LETTERS) if rng.random() < 0.4 else rng.choice(DIGITS)
        return [prov, auth, rng.choice("DF"), second, *(rng.choice(DIGITS) for _ in range(4))]
    if kind == "new_energy_large":
        return [prov, auth, *(rng.choice(DIGITS) for _ in range(5)), rng.choice("DF")]
    if kind == "coach":
        serial = [rng.choice(DIGITS) for _ in range(4)]
        if rng.random() < 0.3:
            serial[rng.randrange(4)] = rng.choice(SERIAL_LETTERS)
        return [prov, auth, *serial, "学"]
    if kind == "police":
        return [prov, auth, *(rng.choice(DIGITS) for _ in range(4)), "警"]
    raise ValueError(kind)


# --------------------------------------------------------------------------- plate drawing

PX_PER_MM = 2


def _glyph_mask(ch: str, fpath: str, findex: int, cell_w: int, cell_h: int) -> Image.Image:
    """The glyph stretched into its cell, like the special plate typeface (tall and narrow)."""
    f = font(fpath, 220, findex)
    bbox = f.getbbox(ch)
    w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    canvas = Image.new("L", (w + 8, h + 8), 0)
    ImageDraw.Draw(canvas).text((4 - bbox[0], 4 - bbox[1]), ch, fill=255, font=f)
    canvas = canvas.crop(canvas.getbbox())
    w, h = canvas.size
    new_w = max(2, min(cell_w, round(w * cell_h / h * 0.92)))
    glyph = canvas.resize((new_w, cell_h), Image.LANCZOS)
    cell = Image.new("L", (cell_w, cell_h), 0)
    cell.paste(glyph, ((cell_w - new_w) // 2, 0))
    return cell


def _gradient(size: tuple[int, int], top: tuple, bottom: tuple, vertical: bool = True):
    w, h = size
    if vertical:
        t = np.linspace(0.0, 1.0, h)[:, None, None]
        arr = np.array(top)[None, None, :] * (1 - t) + np.array(bottom)[None, None, :] * t
        arr = np.broadcast_to(arr, (h, w, 3))
    else:
        t = np.linspace(0.0, 1.0, w)[None, :, None]
        arr = np.array(top)[None, None, :] * (1 - t) + np.array(bottom)[None, None, :] * t
        arr = np.broadcast_to(arr, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _jitter(rng: random.Random, c: tuple, amount: int = 14) -> tuple:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in c)


def draw_plate(rng: random.Random, fonts: Fonts, chars: list[str], colour: str, kind: str):
    """Return an RGBA image of the flat plate at PX_PER_MM."""
    eight = len(chars) == 8
    width_mm = 480 if eight else 440
    W, H = width_mm * PX_PER_MM, 140 * PX_PER_MM
    if colour == "blue":
        bg = Image.new("RGB", (W, H), _jitter(rng, BLUE))
        ink, border = WHITE_INK, WHITE_INK
    elif colour == "yellow":
        bg = Image.new("RGB", (W, H), _jitter(rng, YELLOW))
        ink, border = BLACK_INK, BLACK_INK
    elif colour == "white":
        bg = Image.new("RGB", (W, H), _jitter(rng, WHITE_PLATE, 8))
        ink, border = BLACK_INK, BLACK_INK
    elif colour == "green":
        bg = _gradient((W, H), _jitter(rng, GREEN_TOP), _jitter(rng, GREEN_BOTTOM, 6))
        ink, border = BLACK_INK, None
    elif colour == "yellow_green":
        split = int(W * rng.uniform(0.24, 0.3))
        bg = _gradient((W, H), _jitter(rng, GREEN_TOP), _jitter(rng, GREEN_BOTTOM, 6))
        bg.paste(Image.new("RGB", (split, H), _jitter(rng, YELLOW)), (0, 0))
        ink, border = BLACK_INK, None
    else:
        raise ValueError(colour)

    # Slight shading and paper-like texture on the plate itself.
    arr = np.asarray(bg, dtype=np.float32)
    shade = np.linspace(rng.uniform(0.9, 1.05), rng.uniform(0.9, 1.05), W)[None, :, None]
    arr = arr * shade + np.random.default_rng(rng.randrange(1 << 30)).normal(0, 3, arr.shape)
    plate = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").convert("RGBA")
    d = ImageDraw.Draw(plate)
    r = 5 * PX_PER_MM
    if border is not None:
        inset = 3 * PX_PER_MM
        d.rounded_rectangle(
            (inset, inset, W - inset, H - inset), r, outline=border, width=int(1.5 * PX_PER_MM)
        )
    else:
        d.rounded_rectangle((1, 1, W - 2, H - 2), r, outline=(60, 70, 60), width=2)

    # Layout in millimetres.
    if eight:
        cell_w, gap, big = 43, 9, 49
    else:
        cell_w, gap, big = 45, 12, 34
    n = len(chars)
    total = n * cell_w + (n - 2) * gap + big
    x = (width_mm - total) / 2
    top, cell_h = 25, 90
    cjk_path, cjk_idx = rng.choice(fonts.cjk)
    latin = rng.choice(fonts.latin)
    for i, ch in enumerate(chars):
        is_cjk = ch in PROVINCES or ch in "学警"
        fp, fi = (cjk_path, cjk_idx) if is_cjk else (latin, 0)
        mask = _glyph_mask(ch, fp, fi, cell_w * PX_PER_MM, cell_h * PX_PER_MM)
        colour_ch = RED_INK if ch == "警" else ink
        plate.paste(
            Image.new("RGBA", mask.size, colour_ch), (int(x * PX_PER_MM), top * PX_PER_MM), mask
        )
        x += cell_w
        if i == 1:
            cx = (x + big / 2) * PX_PER_MM
            cy = (top + cell_h / 2) * PX_PER_MM
            dr = 5 * PX_PER_MM
            d.ellipse((cx - dr, cy - dr, cx + dr, cy + dr), fill=ink)
            x += big
        elif i < n - 1:
            x += gap
    # Rivets.
    for rx in (0.25, 0.75) if rng.random() < 0.8 else ():
        cx, cy, rr = W * rx + rng.uniform(-10, 10), 12 * PX_PER_MM, 4 * PX_PER_MM
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=(200, 200, 200), outline=(90, 90, 90))

    # Rounded corners.
    mask = Image.new("L", (W, H), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, W - 1, H - 1), r, fill=255)
    plate.putalpha(mask)
    return plate


def add_dirt(rng: random.Random, plate: Image.Image) -> Image.Image:
    W, H = plate.size
    layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    for _ in range(rng.randint(4, 14)):
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        rx, ry = rng.uniform(8, W * 0.12), rng.uniform(5, H * 0.3)
        tone = (rng.randint(80, 130), rng.randint(65, 100), rng.randint(40, 70))
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(*tone, rng.randint(60, 170)))
    if rng.random() < 0.5:  # a splash band along the bottom, as from a wet road
        y0 = rng.uniform(0.6, 0.8) * H
        d.rectangle((0, y0, W, H), fill=(110, 90, 60, rng.randint(50, 120)))
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(3, 9)))
    alpha = plate.getchannel("A")
    out = Image.alpha_composite(plate, layer)
    out.putalpha(alpha)
    return out


# --------------------------------------------------------------------------- scene


def _text(draw, xy, s, f, fill, anchor="mm"):
    draw.text(xy, s, font=f, fill=fill, anchor=anchor)


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.6:
        n = "1" + rng.choice("3589") + "".join(rng.choice(DIGITS) for _ in range(9))
        return f"{n[:3]} {n[3:7]} {n[7:]}" if rng.random() < 0.5 else n
    return f"0{rng.randint(10, 999)}-{rng.randint(2000000, 89999999)}"


def draw_scene(rng: random.Random, fonts: Fonts, size: tuple[int, int], plate_w: float):
    """Draw the background and the car rear; return (image, plate centre)."""
    Wc, Hc = size
    img = Image.new("RGB", size)
    horizon = int(Hc * rng.uniform(0.3, 0.5))
    sky_top = _jitter(rng, (110, 160, 220), 30)
    sky_bottom = _jitter(rng, (200, 215, 230), 20)
    img.paste(_gradient((Wc, horizon), sky_top, sky_bottom), (0, 0))
    road = _jitter(rng, (95, 95, 100), 20)
    img.paste(_gradient((Wc, Hc - horizon), _jitter(rng, road, 10), road), (0, horizon))
    d = ImageDraw.Draw(img)
    cjk_scene = font(fonts.cjk[-1][0], 10, fonts.cjk[-1][1]).path
    cjk_idx = fonts.cjk[-1][1]

    # Buildings and a shop sign with text.
    x = -rng.randint(0, 200)
    while x < Wc:
        bw = rng.randint(Wc // 10, Wc // 4)
        bh = rng.randint(horizon // 3, horizon)
        col = _jitter(rng, (150, 145, 140), 40)
        d.rectangle((x, horizon - bh, x + bw, horizon), fill=col)
        for wy in range(horizon - bh + 10, horizon - 20, 28):
            for wx in range(x + 8, x + bw - 16, 24):
                d.rectangle((wx, wy, wx + 12, wy + 16), fill=_jitter(rng, (70, 90, 110), 20))
        x += bw + rng.randint(0, 40)
    sign_h = max(24, int(horizon * rng.uniform(0.1, 0.18)))
    sx = rng.randint(0, max(1, Wc - sign_h * 8))
    sy = horizon - sign_h - rng.randint(0, horizon // 3)
    sign_col = rng.choice([(180, 30, 30), (20, 90, 160), (240, 200, 40), (30, 120, 60)])
    d.rectangle((sx, sy, sx + sign_h * 8, sy + sign_h), fill=sign_col)
    fs = font(cjk_scene, int(sign_h * 0.55), cjk_idx)
    _text(d, (sx + sign_h * 2.2, sy + sign_h / 2), rng.choice(SIGNS), fs, (250, 250, 250))
    fsl = font(rng.choice(fonts.scene_latin), int(sign_h * 0.38))
    _text(d, (sx + sign_h * 5.8, sy + sign_h / 2), _phone(rng), fsl, (250, 250, 250))
    # Trees.
    for _ in range(rng.randint(0, 4)):
        tx, ty, tr = (
            rng.uniform(0, Wc),
            horizon - rng.uniform(0, horizon * 0.5),
            rng.uniform(20, 90),
        )
        d.ellipse((tx - tr, ty - tr, tx + tr, ty + tr), fill=_jitter(rng, (50, 110, 50), 25))

    # Car rear.  A plate is about a quarter of the car's width.
    car_w = plate_w * rng.uniform(3.6, 4.6)
    pcx = Wc / 2 + rng.uniform(-0.05, 0.05) * Wc
    pcy = Hc / 2 + rng.uniform(-0.05, 0.05) * Hc
    ph = plate_w * 140 / 440
    body = _jitter(
        rng,
        rng.choice([(230, 230, 232), (30, 30, 34), (160, 160, 165), (150, 20, 25), (30, 60, 120)]),
        12,
    )
    bumper_bottom = pcy + ph * rng.uniform(1.2, 1.9)
    trunk_top = pcy - ph * rng.uniform(2.2, 3.0)
    roof = trunk_top - car_w * rng.uniform(0.22, 0.3)
    left, right = pcx - car_w / 2, pcx + car_w / 2
    # Shadow under the car.
    d.ellipse(
        (left - car_w * 0.05, bumper_bottom - ph * 0.4, right + car_w * 0.05, bumper_bottom + ph),
        fill=(35, 35, 38),
    )
    # Tyres.
    for tx in (left + car_w * 0.06, right - car_w * 0.2):
        d.rounded_rectangle(
            (tx, bumper_bottom - ph * 0.6, tx + car_w * 0.14, bumper_bottom + ph * 0.5),
            int(ph * 0.2),
            fill=(20, 20, 20),
        )
    # Body, cabin and rear window.
    d.rounded_rectangle(
        (left, trunk_top, right, bumper_bottom), int(car_w * 0.06), fill=body, outline=None
    )
    cab_in = car_w * rng.uniform(0.08, 0.14)
    d.polygon(
        [
            (left + cab_in * 0.5, trunk_top + 2),
            (left + cab_in * 1.6, roof),
            (right - cab_in * 1.6, roof),
            (right - cab_in * 0.5, trunk_top + 2),
        ],
        fill=body,
    )
    win_in = cab_in * 1.2
    win_bottom = trunk_top - car_w * 0.03
    d.polygon(
        [
            (left + win_in, win_bottom),
            (left + win_in * 1.6, roof + car_w * 0.03),
            (right - win_in * 1.6, roof + car_w * 0.03),
            (right - win_in, win_bottom),
        ],
        fill=_jitter(rng, (40, 50, 60), 15),
    )
    # A sticker in the rear window, sometimes with a phone number.
    if rng.random() < 0.6:
        stw = car_w * 0.2
        stx = pcx + rng.uniform(-0.25, 0.05) * car_w
        sty = win_bottom - car_w * 0.09
        d.rectangle((stx, sty, stx + stw, sty + car_w * 0.06), fill=(245, 230, 60))
        fst = font(cjk_scene, max(8, int(car_w * 0.022)), cjk_idx)
        words = rng.choice(STICKERS)
        _text(d, (stx + stw / 2, sty + car_w * 0.018), words, fst, (20, 20, 20))
        fsp = font(rng.choice(fonts.scene_latin), max(7, int(car_w * 0.016)))
        _text(d, (stx + stw / 2, sty + car_w * 0.045), _phone(rng), fsp, (20, 20, 20))
    # Tail lights.
    tl_y = trunk_top + ph * rng.uniform(0.2, 0.5)
    for x0 in (left + car_w * 0.02, right - car_w * 0.2):
        d.rounded_rectangle(
            (x0, tl_y, x0 + car_w * 0.18, tl_y + ph * 0.9),
            int(ph * 0.2),
            fill=_jitter(rng, (170, 20, 25), 20),
            outline=(90, 10, 10),
            width=2,
        )
    # Bumper line.
    d.line((left + 4, pcy + ph * 0.9, right - 4, pcy + ph * 0.9), fill=(0, 0, 0), width=2)
    # Brand and model badges (not plates).
    fb = font(rng.choice(fonts.scene_latin), max(8, int(car_w * 0.035)))
    badge_y = pcy - ph * rng.uniform(1.1, 1.6)
    badge_ink = (40, 40, 40) if sum(body) > 380 else (220, 220, 220)
    if rng.random() < 0.7:
        _text(d, (pcx, badge_y), rng.choice(BRANDS), fb, badge_ink)
    else:
        fz = font(cjk_scene, max(8, int(car_w * 0.04)), cjk_idx)
        _text(d, (pcx, badge_y), rng.choice(BRANDS_ZH), fz, badge_ink)
    fm = font(rng.choice(fonts.scene_latin), max(7, int(car_w * 0.022)))
    _text(d, (right - car_w * 0.14, pcy - ph * 0.55), rng.choice(MODELS), fm, badge_ink)
    return img, (pcx, pcy)


def draw_frame(rng, fonts, img, centre, plate_w, ph):
    """Dealer plate frame: dark surround with the dealer's name and phone underneath."""
    d = ImageDraw.Draw(img)
    cx, cy = centre
    m = plate_w * 0.04
    d.rounded_rectangle(
        (cx - plate_w / 2 - m, cy - ph / 2 - m, cx + plate_w / 2 + m, cy + ph / 2 + m * 3.2),
        int(m),
        fill=(25, 25, 28),
    )
    if rng.random() < 0.7:
        fs = font(fonts.cjk[-1][0], max(7, int(m * 1.6)), fonts.cjk[-1][1])
        label = rng.choice(DEALERS) + " " + _phone(rng)
        _text(d, (cx, cy + ph / 2 + m * 1.6), label, fs, (215, 215, 215))


# --------------------------------------------------------------------------- geometry


def homography(points_src, points_dst) -> np.ndarray:
    A, b = [], []
    for (x, y), (u, v) in zip(points_src, points_dst, strict=True):
        A.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        A.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    h = np.linalg.solve(np.array(A, float), np.array(b, float))
    return np.append(h, 1.0).reshape(3, 3)


def apply_h(H: np.ndarray, pts) -> np.ndarray:
    p = np.hstack([np.asarray(pts, float), np.ones((len(pts), 1))]) @ H.T
    return p[:, :2] / p[:, 2:3]


# --------------------------------------------------------------------------- photo


def degrade(rng: random.Random, img: Image.Image, plate_quad, blur: float, dark: bool):
    Wo, Ho = img.size
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    arr = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:Ho, 0:Wo].astype(np.float32)
    # Cast shadow (tree/building edge) across part of the frame.
    if rng.random() < 0.35:
        a = rng.uniform(0, math.pi)
        if plate_quad is not None:
            c = plate_quad.mean(axis=0) + nrng.normal(0, Wo * 0.05, 2)
        else:
            c = np.array([Wo / 2, Ho / 2])
        side = (xx - c[0]) * math.cos(a) + (yy - c[1]) * math.sin(a)
        soft = rng.uniform(2, 25)
        k = rng.uniform(0.45, 0.75)
        m = 1 / (1 + np.exp(-side / soft))
        arr *= (k + (1 - k) * m)[..., None]
    # Glare: a bright spot, often on or near the plate.
    if rng.random() < 0.25:
        if plate_quad is not None and rng.random() < 0.8:
            pts = plate_quad
            t = rng.uniform(0.1, 0.9)
            g = pts[0] * (1 - t) + pts[1] * t + (pts[3] - pts[0]) * rng.uniform(0.1, 0.9)
            rad = np.linalg.norm(pts[1] - pts[0]) * rng.uniform(0.1, 0.35)
        else:
            g = np.array([rng.uniform(0, Wo), rng.uniform(0, Ho)])
            rad = Wo * rng.uniform(0.05, 0.15)
        dist2 = ((xx - g[0]) ** 2 + ((yy - g[1]) * rng.uniform(1.0, 2.5)) ** 2) / rad**2
        arr += (rng.uniform(120, 230) * np.exp(-dist2))[..., None]
    # Low light: darker, warmer, noisier; or a normal exposure with a little noise.
    if dark:
        gain = rng.uniform(0.22, 0.45)
        arr = 255 * (np.clip(arr, 0, 255) / 255) ** rng.uniform(1.1, 1.5) * gain
        arr *= np.array([1.05, 1.0, 0.85])[None, None, :]
        noise = rng.uniform(4, 10)
    else:
        arr *= rng.uniform(0.85, 1.15)
        noise = rng.uniform(0.5, 4.5)
    arr += nrng.normal(0, noise, arr.shape)
    out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if blur > 0:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    return out


def turn_plate(rng: random.Random, plate: Image.Image):
    """The car stands at an angle: one side of the plate is farther (shorter and foreshortened)."""
    w, h = plate.size
    yaw = rng.uniform(-0.22, 0.22) if rng.random() < 0.7 else 0.0
    tilt = rng.uniform(-0.1, 0.1) if rng.random() < 0.4 else 0.0  # seen from above or below
    far = abs(yaw) / 2
    quad = np.array([(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)])
    side = 0 if yaw > 0 else 1  # index of the far edge: left (0, 3) or right (1, 2)
    a, b = (0, 3) if side == 0 else (1, 2)
    quad[a, 1] += h * far
    quad[b, 1] -= h * far
    shift = w * abs(yaw) * 0.4 * (1 if side == 0 else -1)
    quad[[a, b], 0] += shift
    quad[[0, 1], 0] += np.array([1, -1]) * w * max(tilt, 0) / 2
    quad[[3, 2], 0] += np.array([1, -1]) * w * max(-tilt, 0) / 2
    if yaw == 0 and tilt == 0:
        return plate, quad
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    Hinv = homography(quad, src)
    out = plate.transform((w, h), Image.PERSPECTIVE, tuple(Hinv.flatten()[:8]), Image.BICUBIC)
    return out, quad


SIZES = [(1280, 960), (1600, 1200), (1024, 768), (1920, 1080), (960, 1280), (1080, 1440)]


def make_photo(rng: random.Random, fonts: Fonts, kind: str | None, colour: str | None):
    Wo, Ho = rng.choice(SIZES)
    pad = 2.0
    Ws, Hs = int(Wo * pad), int(Ho * pad)
    target_frac = rng.uniform(0.105, 0.44)
    plate_w = target_frac * Wo
    eight = kind in ("new_energy_small", "new_energy_large")
    car_scale = plate_w * 440 / 480 if eight else plate_w  # NEV plates are 4 cm wider
    scene, centre = draw_scene(rng, fonts, (Ws, Hs), car_scale)
    chars = None
    ph = plate_w * 140 / (480 if eight else 440)
    cx, cy = centre
    hw, hh = plate_w / 2, ph / 2
    quad = np.array(
        [(cx - hw, cy - hh), (cx + hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh)]
    )
    if kind is not None:
        if rng.random() < 0.6:
            draw_frame(rng, fonts, scene, centre, plate_w, ph)
        chars = make_plate_text(rng, kind)
        plate = draw_plate(rng, fonts, chars, colour, kind)
        if rng.random() < 0.3:
            plate = add_dirt(rng, plate)
        plate = plate.resize((max(8, round(plate_w)), max(3, round(ph))), Image.LANCZOS)
        plate, pq = turn_plate(rng, plate)
        ox, oy = round(cx - plate_w / 2), round(cy - ph / 2)
        scene.paste(plate, (ox, oy), plate)
        quad = pq + np.array([ox, oy])
    else:
        style = rng.choice(["empty", "card", "frame"])
        d = ImageDraw.Draw(scene)
        box = (cx - plate_w / 2, cy - ph / 2, cx + plate_w / 2, cy + ph / 2)
        if style == "empty":
            d.rounded_rectangle(box, int(ph * 0.1), fill=(45, 45, 48))
            for rx in (0.25, 0.75):
                x = box[0] + plate_w * rx
                d.ellipse(
                    (x - 4, cy - ph * 0.3 - 4, x + 4, cy - ph * 0.3 + 4), fill=(140, 140, 140)
                )
        elif style == "card":
            d.rectangle(box, fill=(245, 245, 240))
            f1 = font(fonts.cjk[-1][0], max(8, int(ph * 0.32)), fonts.cjk[-1][1])
            _text(
                d,
                (cx, cy - ph * 0.2),
                rng.choice(["临时停车", "挪车请拨", "车辆待售"]),
                f1,
                RED_INK,
            )
            f2 = font(rng.choice(fonts.scene_latin), max(8, int(ph * 0.28)))
            _text(d, (cx, cy + ph * 0.22), _phone(rng), f2, BLACK_INK)
        else:
            draw_frame(rng, fonts, scene, centre, plate_w, ph)

    # One homography for the whole scene, about the plate centre: shear, rotation and a mild
    # camera perspective whose strength is relative to the photo (not to the plate).
    rot = math.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.15, 0.15) if rng.random() < 0.5 else 0.0
    g = rng.uniform(-0.15, 0.15) * 2 / Wo
    h = rng.uniform(-0.08, 0.08) * 2 / Ho
    c, s = math.cos(rot), math.sin(rot)
    M = (
        np.array([[1, 0, 0], [0, 1, 0], [g, h, 1]])
        @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        @ np.array([[1, shear, 0], [0, 1, 0], [0, 0, 1]])
        @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    )
    local = apply_h(M, quad)
    # Place the plate so that its whole quad is inside the photo.
    lo, hi = local.min(axis=0), local.max(axis=0)
    mx, my = Wo * 0.03, Ho * 0.03
    tx = rng.uniform(mx - lo[0], max(mx - lo[0] + 1, Wo - mx - hi[0]))
    ty = rng.uniform(my - lo[1], max(my - lo[1] + 1, Ho - my - hi[1]))
    H = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]) @ M
    dst = apply_h(H, quad)
    Hinv = np.linalg.inv(H)
    Hinv /= Hinv[2, 2]
    photo = scene.transform(
        (Wo, Ho),
        Image.PERSPECTIVE,
        tuple(Hinv.flatten()[:8]),
        Image.BICUBIC,
        fillcolor=(90, 90, 90),
    )
    top_len = np.linalg.norm(dst[1] - dst[0])
    bottom_len = np.linalg.norm(dst[2] - dst[3])
    width_frac = (top_len + bottom_len) / 2 / Wo

    blur = 0.0 if rng.random() < 0.5 else round(rng.uniform(0.6, 2.6) * Wo / 1280, 1)
    dark = rng.random() < 0.2
    photo = degrade(rng, photo, dst if kind else None, blur, dark)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=rng.randint(35, 90))
    label = "".join(chars) if chars else ""
    return buf.getvalue(), label, (width_frac if kind else 0.0), blur, int(dark)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=4242)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    fonts = load_fonts()
    n_plated = sum(c for _, _, c in MIX)
    n_none = round(args.n * NO_PLATE / (n_plated + NO_PLATE))
    plan: list[tuple[str | None, str | None]] = []
    for colour, kind, count in MIX:
        k = round(count * (args.n - n_none) / n_plated)
        plan += [(colour, kind)] * k
    plan = plan[: args.n - n_none]
    while len(plan) < args.n - n_none:
        plan.append(("blue", "ordinary"))
    plan += [(None, None)] * n_none
    rng.shuffle(plan)

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "plate", "colour", "kind", "width_frac", "blur", "dark", "synthetic"])
        for i, (colour, kind) in enumerate(plan, 1):
            prng = random.Random(rng.randrange(1 << 62))
            data, label, frac, blur, dark = make_photo(prng, fonts, kind, colour)
            name = f"ind_{i:04d}.jpg"
            (args.out / name).write_bytes(data)
            w.writerow([name, label, colour or "", kind or "", f"{frac:.3f}", blur, dark, 1])
    print(f"wrote {len(plan)} photos ({n_none} without a plate) to {args.out}")


if __name__ == "__main__":
    main()
