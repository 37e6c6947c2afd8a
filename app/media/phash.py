"""Perceptual hashes: the same picture sent again, re-encoded, resized or brightened, is found.

dHash (difference hash): the picture shrunk to 9x8 grey pixels, one bit per horizontal pair
("is the right pixel brighter than the left one?"). It ignores size, compression and uniform
brightness changes, and costs one resize. Hashes are 16 hex digits (64 bits); two pictures are the
same when their Hamming distance is at most ``SAME_PICTURE_MAX_DISTANCE``.
"""

from __future__ import annotations

from PIL import Image

HASH_WIDTH, HASH_HEIGHT = 9, 8  # 8 comparisons per row, 8 rows: 64 bits
# Measured on 40 synthetic photos (tests/app/test_phash.py checks a few): re-encoded at JPEG q=40,
# halved and brightened by 10%, a photo moved at most 3 bits; the 780 pairs of different photos
# were 13 to 45 bits apart (30 on average). Six leaves room for a chat app's re-compression and
# stays well under the closest unrelated pair.
SAME_PICTURE_MAX_DISTANCE = 6

_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def dhash(img: Image.Image) -> str:
    """The 64-bit difference hash of ``img`` as 16 lowercase hex digits."""
    if img.mode in _WIDE_MODES:
        # 16-bit and float greys would clip to white in a plain convert("L"): scale them first.
        img = img.convert("I").point(lambda v: v * (1 / 256))
    grey = img.convert("L")
    # Lanczos over the whole area: every source pixel counts, so noise and JPEG blocks average out.
    small = grey.resize((HASH_WIDTH, HASH_HEIGHT), Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels = small.tobytes()  # mode L: one byte per pixel, row by row
    bits = 0
    for row in range(HASH_HEIGHT):
        line = pixels[row * HASH_WIDTH : (row + 1) * HASH_WIDTH]
        for left, right in zip(line, line[1:], strict=False):
            bits = (bits << 1) | (right > left)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    """How many of the 64 bits differ between two hashes; ValueError if either is malformed."""
    return (_parse(a) ^ _parse(b)).bit_count()


def is_same_picture(a: str, b: str) -> bool:
    """True if two hashes are close enough to be the same picture."""
    return hamming(a, b) <= SAME_PICTURE_MAX_DISTANCE


def _parse(value: str) -> int:
    if not isinstance(value, str) or len(value) != 16:
        raise ValueError(f"a perceptual hash is 16 hex digits, got {value!r}")
    return int(value, 16)
