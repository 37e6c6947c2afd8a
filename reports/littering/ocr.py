"""Plate number suggestions from a 车窗抛物 report's photos (RapidOCR, PP-OCRv4, CPU only).

A suggestion only pre-fills the plate field: the citizen confirms or corrects it and the reviewer
checks it against the photos. It is never trusted alone: it can be wrong (a misread character
that still makes a well-formed plate) or missing (small, blurred or dark plates).

The engine is the process's one RapidOCR engine (reports/ocr_engine.py, shared with the 牛皮癣
phone-number reader); nothing is downloaded at run time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from reports import ocr_engine
from reports.littering import plates

log = logging.getLogger(__name__)

MAX_SIDE = (
    1280  # phone photos are 3000-4000 px; plates stay readable at this size, OCR is ~4x faster
)
MIN_CONFIDENCE = 0.3
FIX_PENALTY = 0.85  # confidence kept per character changed by a grammar-guided fix
PREFIX_PENALTY = 0.6  # confidence kept by a reading with a letter or digit left over after it

# Punctuation OCR reads for the plate's dot, its rivets or the border.
_JUNK = set(" ·•.-_:：,，。、'\"`|/\\()（）[]【】「」")
# Confusions the grammar can settle: a serial position that must be a digit, or a letter.
_TO_DIGIT = {
    "O": "0",
    "D": "0",
    "Q": "0",
    "U": "0",
    "I": "1",
    "L": "1",
    "J": "1",
    "T": "7",
    "Z": "2",
    "S": "5",
    "B": "8",
    "G": "6",
    "A": "4",
}
_TO_LETTER = {"0": "D", "8": "B", "1": "T", "2": "Z", "5": "S", "6": "G", "4": "A", "7": "T"}

# The shared engine under the names the plate bench uses.
_lock = ocr_engine.LOCK
_get_engine = ocr_engine.get_engine
warm = ocr_engine.warm


@dataclass(frozen=True)
class PlateSuggestion:
    """A well-formed plate number read from a photo, with the OCR's confidence (0..1)."""

    plate: str
    confidence: float
    image_index: int  # the first photo it was read from


@dataclass(frozen=True)
class _Box:
    text: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def _decode(data: bytes) -> np.ndarray:
    """The photo as a BGR array, upright per EXIF, longest side at most MAX_SIDE."""
    return ocr_engine.decode(data, MAX_SIDE)


def _read(img: np.ndarray) -> list[_Box]:
    boxes = []
    for quad, text, score in ocr_engine.run(img):
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        boxes.append(_Box(str(text), float(score), min(xs), min(ys), max(xs), max(ys)))
    return boxes


def _same_line(a: _Box, b: _Box) -> bool:
    """Whether b continues a to its right on the same line (a plate read as two pieces)."""
    h = max(a.height, b.height)
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return (
        overlap > 0.5 * min(a.height, b.height)
        and 0.5 < a.height / max(b.height, 1e-6) < 2
        and a.x0 < b.x0
        and a.x1 < b.x1  # detection boxes of one plate often overlap
        and b.x0 - a.x1 < 1.5 * h
    )


def _pieces(boxes: list[_Box]) -> Iterator[tuple[str, float]]:
    """Each box's text, and chains of up to three boxes on one line joined left to right."""
    for first in boxes:
        chain = [first]
        yield first.text, first.score
        for _ in range(2):
            nxt = [b for b in boxes if b is not chain[-1] and _same_line(chain[-1], b)]
            if not nxt:
                break
            prev, box = chain[-1], min(nxt, key=lambda b: b.x0)
            chain.append(box)
            weight = sum(len(b.text) for b in chain) or 1
            score = sum(b.score * len(b.text) for b in chain) / weight
            joined = "".join(b.text for b in chain)
            yield joined, score
            if box.x0 < prev.x1 and len(prev.text) > 1:
                # Overlapping boxes read the shared character twice ("渝TO" + "09076F").
                yield joined[: -len(box.text) - 1] + box.text, score * FIX_PENALTY


def _fix(chunk: str) -> list[tuple[str, int]]:
    """Well-formed plates the chunk can be read as, with how many characters were changed."""
    head = chunk[0] + _TO_LETTER.get(chunk[1], chunk[1])
    # I and O never appear in a serial: they are always 1 and 0 there.
    serial = chunk[2:].replace("O", "0").replace("I", "1")
    tries = [head + serial]
    if len(serial) == 6:
        digits = "".join(_TO_DIGIT.get(c, c) for c in serial)
        first = _TO_LETTER.get(serial[0], serial[0])
        tries.append(head + first + serial[1] + digits[2:])  # small NEV: D/F.. x 4 digits
        tries.append(head + digits[:5] + _TO_LETTER.get(serial[5], serial[5]))  # large NEV
    elif len(serial) == 5 and serial[-1] in plates.SUFFIX_KINDS:
        tries.append(head + "".join(_TO_DIGIT.get(c, c) for c in serial[:4]) + serial[-1])
    found = []
    for plate in dict.fromkeys(tries):
        if plates.check_plate(plate).ok:
            found.append((plate, sum(a != b for a, b in zip(plate, chunk, strict=True))))
    return found


def _plates_in(text: str, score: float) -> dict[str, float]:
    """Plates found anywhere in one piece of OCR text, with confidences."""
    s = "".join(c for c in plates.normalize_plate(text) if c not in _JUNK)
    found: dict[str, float] = {}
    for k, ch in enumerate(s):
        if ch not in plates.PROVINCES:
            continue
        rest = s[k + 1 :]
        starts = [(rest, 1.0)]
        if len(rest) > 1 and not rest[0].isascii() and rest[1].isascii():
            # The letter beside the province glyph read as a look-alike hanzi (B -> 日), with
            # the letter itself repeated in the next box: drop the stray character.
            starts.append((rest[1:], FIX_PENALTY))
        for tail, base in starts:
            for n in (7, 6):
                if len(tail) < n:
                    continue
                # A reading that leaves a letter or digit unused after it is likely cut short
                # (a 7-char prefix of a new-energy plate, or one that skipped a doubled char).
                left_over = tail[n : n + 1].isascii() and tail[n : n + 1].isalnum()
                for plate, changed in _fix(ch + tail[:n]):
                    conf = score * base * FIX_PENALTY**changed
                    if left_over:
                        conf *= PREFIX_PENALTY
                    found[plate] = max(found.get(plate, 0.0), conf)
    return found


def _suggest_one(data: bytes) -> dict[str, float]:
    """Plates read from one photo; {} for anything that is not a readable image."""
    try:
        boxes = _read(_decode(data))
    except Exception:  # a citizen's upload can be anything: never fail the report over it
        log.debug("plate OCR failed on an image of %d bytes", len(data), exc_info=True)
        return {}
    found: dict[str, float] = {}
    for text, score in _pieces(boxes):
        for plate, conf in _plates_in(text, score).items():
            found[plate] = max(found.get(plate, 0.0), conf)
    log.debug("plate OCR read %s, found %s", [b.text for b in boxes], found)
    return found


def suggest_plates(images: Sequence[bytes], *, limit: int = 3) -> list[PlateSuggestion]:
    """Well-formed plate numbers read from the photos, best first, at most limit of them."""
    best: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    for index, data in enumerate(images):
        for plate, conf in _suggest_one(data).items():
            # Readings from separate photos are independent evidence: combine them noisy-or.
            best[plate] = 1 - (1 - best.get(plate, 0.0)) * (1 - conf)
            first_seen.setdefault(plate, index)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], first_seen[kv[0]], kv[0]))
    return [
        PlateSuggestion(plate, round(conf, 4), first_seen[plate])
        for plate, conf in ranked[:limit]
        if conf >= MIN_CONFIDENCE
    ]
