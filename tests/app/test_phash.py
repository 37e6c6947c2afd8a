"""Perceptual hashes: the same photo sent again is found, different photos are not."""

from __future__ import annotations

import io
import itertools
import random
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from app.media.images import process_upload
from app.media.phash import SAME_PICTURE_MAX_DISTANCE, dhash, hamming, is_same_picture

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 40_000_000}


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like picture: a tinted gradient, overlapping shapes, sensor noise, a little blur."""
    rnd = random.Random(seed)
    img = Image.linear_gradient("L").resize(size).rotate(rnd.randrange(360)).convert("RGB")
    tints = [rnd.random() for _ in range(3)]
    bands = zip(img.split(), tints, strict=True)
    channels = [band.point([int(v * k) for v in range(256)]) for band, k in bands]
    img = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        box = [x, y, x + rnd.randrange(40, 250), y + rnd.randrange(40, 200)]
        fill = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=fill)
    # Pillow's effect_noise draws from C's rand(): another picture every call. This is seeded.
    grain = np.random.default_rng(seed).normal(128, 20, (size[1], size[0]))
    noise = Image.fromarray(grain.clip(0, 255).astype(np.uint8)).convert("RGB")
    return Image.blend(img, noise, 0.1).filter(ImageFilter.GaussianBlur(1))


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def half(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2), Image.Resampling.BILINEAR)


def brighter(img: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(img).enhance(1.1)


SEEDS = range(6)


def test_hash_is_16_hex_digits_and_deterministic():
    value = dhash(scene(0))
    assert re.fullmatch(r"[0-9a-f]{16}", value)
    assert dhash(scene(0)) == value
    assert hamming(value, value) == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda img: jpeg(img, 40),
        half,
        brighter,
        lambda img: jpeg(brighter(half(jpeg(img, 40))), 40),  # all of it, as a chat app might
    ],
)
def test_same_photo_stays_within_the_threshold(change):
    for seed in SEEDS:
        original = scene(seed)
        distance = hamming(dhash(original), dhash(change(original)))
        assert distance <= SAME_PICTURE_MAX_DISTANCE, (seed, distance)


def test_different_photos_stay_well_above_the_threshold():
    hashes = [dhash(scene(seed)) for seed in SEEDS]
    closest = min(hamming(a, b) for a, b in itertools.combinations(hashes, 2))
    assert closest > 2 * SAME_PICTURE_MAX_DISTANCE
    assert not is_same_picture(hashes[0], hashes[1])


def test_hamming_counts_differing_bits_and_rejects_malformed_hashes():
    assert hamming("0000000000000000", "ffffffffffffffff") == 64
    assert hamming("0000000000000000", "0000000000000101") == 2
    for bad in ("abc", "0000000000000000ff", "zzzzzzzzzzzzzzzz", None):
        with pytest.raises(ValueError):
            hamming("0000000000000000", bad)


def test_sixteen_bit_grey_hashes_like_its_eight_bit_version():
    eight = scene(3).convert("L")
    buf = io.BytesIO()
    eight.convert("I").point(lambda v: v * 256).convert("I;16").save(buf, "PNG")
    sixteen = Image.open(io.BytesIO(buf.getvalue()))  # a 16-bit greyscale PNG, as Pillow reads it
    assert sixteen.mode.startswith("I") and sixteen.getextrema()[1] > 255
    assert hamming(dhash(eight), dhash(sixteen)) <= 2


def test_every_stored_image_carries_the_hash_of_its_upright_pixels():
    original = scene(4, size=(320, 240))
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated: the hash must be the one of the picture people see
    original.save(buf, "JPEG", quality=92, exif=exif.tobytes())

    clean = process_upload(buf.getvalue(), **LIMITS)

    upright = original.transpose(Image.Transpose.ROTATE_270)
    assert (clean.width, clean.height) == (240, 320)
    assert is_same_picture(clean.phash, dhash(upright))
    assert hamming(clean.phash, dhash(original)) > 2 * SAME_PICTURE_MAX_DISTANCE
    stored = ImageOps.exif_transpose(Image.open(io.BytesIO(clean.data)))  # as it is shown
    assert hamming(clean.phash, dhash(stored)) <= 2
