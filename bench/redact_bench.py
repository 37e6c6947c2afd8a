"""Recall, false positives and time of the photo redaction (app/media/redact.py) on a labelled set.

The set is SYNTHETIC, every photo labelled as such (docs/privacy.md, docs/benchmarks.md):

- Plates: a random valid plate of every kind and colour rendered with Noto Sans CJK onto a car
  rear in a street scene (bench/plate_ocr_dataset.py: perspective, rotation, blur, noise, night,
  JPEG), the label being the plate's quadrilateral.
- Faces: the two photographs of people that ship in scikit-image's data (``skimage.data``):
  ``astronaut`` (Eileen Collins, NASA, public domain) and ``camera`` (a cameraman in profile,
  CC0 by the photographer Lav Varshney). A crop around each face is pasted, scaled (faces from
  about 25 to 220 pixels tall), mirrored, darkened or brightened and blurred, onto the same
  street scenes; the label is the face's box. Two people only: the recall measures how the
  detectors hold up over size, lighting and blur, not over the variety of real faces.
- Negatives: street scenes with cars, signs and shop text but no plate and no face.

A target counts as found when the blurred boxes cover COVER of its labelled box. Time per photo
is reported against a reference measured on the same photo in the same run: Pillow decoding it,
resizing it to the public size and encoding a JPEG (what making any copy costs).

Usage: .venv/bin/python bench/redact_bench.py [--n 60] [--seed 11] [--ocr]
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import plate_ocr_dataset as plates_set  # noqa: E402

from app.media import redact  # noqa: E402

COVER = 0.7  # share of a labelled box the blurred boxes must cover
# (crop box in the source, face box in the source), in skimage.data's 512 x 512 pixels.
FACES = {
    "astronaut": ((130, 20, 330, 240), (180, 62, 275, 172)),
    "camera": ((110, 40, 300, 240), (160, 70, 255, 198)),
}


@dataclass
class Sample:
    """One synthetic photo: JPEG bytes and its labelled boxes (x0, y0, x1, y1)."""

    name: str
    kind: str  # plate | face | none
    data: bytes
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    text: str = ""  # the plate number, for the OCR check
    synthetic: bool = True


def face_sources() -> dict[str, Image.Image]:
    """The people in scikit-image's bundled photos (see the module docstring for licences)."""
    from skimage import data  # the test extra's package: only the benchmark needs it

    return {
        "astronaut": Image.fromarray(data.astronaut()),
        "camera": Image.fromarray(data.camera()).convert("RGB"),
    }


def _size(rng: random.Random) -> tuple[int, int]:
    w = rng.choice((1280, 1600, 1920))
    return w, int(w * rng.choice((0.75, 0.5625)))


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def plate_sample(rng: random.Random, name: str) -> Sample:
    """A car rear with a plate; the label is the plate's outline."""
    kinds = [(k, c) for k, c, _ in plates_set.MIX]
    kind, colour = rng.choices(kinds, [w for _, _, w in plates_set.MIX])[0]
    plate = plates_set.random_plate(rng, kind)
    w, h = _size(rng)
    img = plates_set._scene(rng, w, h)
    pw = int(rng.uniform(0.06, 0.3) * w)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.55, 0.75) * h
    plates_set._car(rng, img, cx, cy, pw)
    face = plates_set.render_plate(plate, colour, scale=max(0.4, pw / 440))
    ph = pw * face.size[1] / face.size[0]
    quad = plates_set._plate_quad(rng, cx, cy, pw, ph, rng.uniform(-8, 8), rng.uniform(0, 0.12))
    arr = plates_set._paste_warped(np.asarray(img.convert("RGB")), face, quad)
    photo = Image.fromarray(arr)
    photo = ImageEnhance.Brightness(photo).enhance(rng.uniform(0.5, 1.2))
    if rng.random() < 0.3:
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    box = (int(x0), int(y0), int(x1), int(y1))
    return Sample(name, "plate", _jpeg(photo, rng.randint(50, 90)), [box], plate)


def face_sample(rng: random.Random, name: str, sources: dict[str, Image.Image]) -> Sample:
    """A person's head pasted onto a street scene; the label is the face."""
    who = rng.choice(sorted(FACES))
    crop_box, face_box = FACES[who]
    crop = sources[who].crop(crop_box)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        cw = crop_box[2] - crop_box[0]
        fx0, fx1 = cw - (face_box[2] - crop_box[0]), cw - (face_box[0] - crop_box[0])
    else:
        fx0, fx1 = face_box[0] - crop_box[0], face_box[2] - crop_box[0]
    fy0, fy1 = face_box[1] - crop_box[1], face_box[3] - crop_box[1]
    w, h = _size(rng)
    face_h = rng.uniform(25, 220) * w / 1920
    scale = face_h / (fy1 - fy0)
    crop = crop.resize((max(1, int(crop.width * scale)), max(1, int(crop.height * scale))),
                       Image.Resampling.LANCZOS)  # fmt: skip
    crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(0.6, 1.25))
    img = plates_set._scene(rng, w, h)
    x, y = rng.randint(0, w - crop.width), rng.randint(0, h - crop.height)
    img.paste(crop, (x, y))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    box = (x + int(fx0 * scale), y + int(fy0 * scale), x + int(fx1 * scale), y + int(fy1 * scale))
    return Sample(name, "face", _jpeg(img, rng.randint(60, 92)), [box])


def negative_sample(rng: random.Random, name: str) -> Sample:
    """A street with a car, signs and shop text: nothing to blur."""
    w, h = _size(rng)
    img = plates_set._scene(rng, w, h)
    plates_set._car(rng, img, w * rng.uniform(0.3, 0.7), h * 0.65, w * rng.uniform(0.08, 0.25))
    return Sample(name, "none", _jpeg(img, rng.randint(60, 92)))


def build(n: int, seed: int) -> list[Sample]:
    """n photos: 45% plates, 35% faces, 20% negatives, deterministic by seed."""
    rng, sources = random.Random(seed), face_sources()
    out = []
    for i in range(n):
        roll = i % 20
        if roll < 9:
            out.append(plate_sample(rng, f"plate-{i:03d}"))
        elif roll < 16:
            out.append(face_sample(rng, f"face-{i:03d}", sources))
        else:
            out.append(negative_sample(rng, f"none-{i:03d}"))
    return out


def covered(box: tuple[int, int, int, int], found: list[redact.Box]) -> float:
    """The share of a labelled box that the found boxes cover."""
    x0, y0, x1, y1 = box
    mask = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), dtype=bool)
    for b in found:
        ax0, ay0 = max(x0, b.x) - x0, max(y0, b.y) - y0
        ax1, ay1 = min(x1, b.x + b.w) - x0, min(y1, b.y + b.h) - y0
        if ax1 > ax0 and ay1 > ay0:
            mask[ay0:ay1, ax0:ax1] = True
    return float(mask.mean())


@dataclass
class Result:
    found: dict[str, int] = field(default_factory=lambda: {"plate": 0, "face": 0})
    total: dict[str, int] = field(default_factory=lambda: {"plate": 0, "face": 0})
    negatives: int = 0
    negatives_flagged: int = 0
    false_boxes: dict[str, int] = field(default_factory=lambda: {"plate": 0, "face": 0})
    ratios: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def recall(self, kind: str) -> float:
        return self.found[kind] / self.total[kind] if self.total[kind] else 1.0


def reference_seconds(data: bytes) -> float:
    """Pillow: decode, resize to the public size, encode JPEG (the reference)."""
    start = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        img = im.convert("RGB")
    img.thumbnail((redact.PUBLIC_SIDE, redact.PUBLIC_SIDE), Image.Resampling.LANCZOS)
    img.save(io.BytesIO(), "JPEG", quality=redact.PUBLIC_QUALITY)
    return time.perf_counter() - start


def evaluate(samples: list[Sample]) -> Result:
    """Redact every photo (timed) and score what was blurred against the labels."""
    res = Result()
    redact.detect(np.zeros((64, 64, 3), dtype=np.uint8))  # load the models before timing
    for s in samples:
        ref = reference_seconds(s.data)
        start = time.perf_counter()
        copy = redact.redact(s.data)
        spent = time.perf_counter() - start
        res.seconds.append(spent)
        res.reference.append(ref)
        res.ratios.append(spent / ref)
        found = [b.scaled(1 / copy.scale) for b in copy.boxes]
        if s.kind == "none":
            res.negatives += 1
            res.negatives_flagged += bool(found)
            for f in found:
                res.false_boxes[f.kind] += 1
            continue
        res.total[s.kind] += 1
        hit = [covered(b, [f for f in found if f.kind == s.kind]) >= COVER for b in s.boxes]
        res.found[s.kind] += sum(hit)
        labelled = [redact.Box(s.kind, b[0], b[1], b[2] - b[0], b[3] - b[1]) for b in s.boxes]
        for f in found:
            if covered((f.x, f.y, f.x + f.w, f.y + f.h), labelled) == 0:
                res.false_boxes[f.kind] += 1
    return res


def ocr_check(samples: list[Sample]) -> tuple[int, int, int]:
    """(plates, read from the original, read from the public copy) with the app's OCR."""
    from reports import ocr_engine  # the benchmark's own check, loaded only with --ocr

    plates = [s for s in samples if s.kind == "plate"]
    read_before = read_after = 0
    for s in plates:
        for data, is_copy in ((s.data, False), (redact.redact(s.data).data, True)):
            texts = "".join(t for _, t, _ in ocr_engine.run(ocr_engine.decode(data, 1920)))
            if s.text[2:] in texts.replace("·", "").replace(" ", ""):
                read_after += is_copy
                read_before += not is_copy
    return len(plates), read_before, read_after


def main() -> None:
    """Command line: build the set, run the redaction, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--ocr", action="store_true", help="Also try to read plates back.")
    args = ap.parse_args()
    samples = build(args.n, args.seed)
    res = evaluate(samples)
    print(
        f"SYNTHETIC set: {len(samples)} photos (seed {args.seed}): "
        f"{res.total['plate']} plates, {res.total['face']} faces, {res.negatives} negatives"
    )
    print(f"plate recall {res.recall('plate'):.3f} ({res.found['plate']}/{res.total['plate']})")
    print(f"face recall  {res.recall('face'):.3f} ({res.found['face']}/{res.total['face']})")
    print(
        f"negatives with any blur: {res.negatives_flagged}/{res.negatives}; boxes on nothing "
        f"labelled: {res.false_boxes['face']} face, {res.false_boxes['plate']} plate, "
        f"in {len(samples)} photos"
    )
    print(f"time per photo: median {statistics.median(res.seconds) * 1000:.0f} ms, reference "
          f"(Pillow decode+resize+encode) median {statistics.median(res.reference) * 1000:.0f} ms,"
          f" ratio median {statistics.median(res.ratios):.1f}x, "
          f"p90 {sorted(res.ratios)[int(0.9 * (len(res.ratios) - 1))]:.1f}x")  # fmt: skip
    if args.ocr:
        n, before, after = ocr_check(samples)
        print(f"OCR read the plate from {before}/{n} originals and {after}/{n} public copies")


if __name__ == "__main__":
    main()
