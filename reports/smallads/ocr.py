"""Phone-number suggestions from a photo of small ads (the shared RapidOCR engine).

Every text box is read for numbers, and so is each line of boxes joined left to right (a number
printed with wide gaps comes back as two or three boxes). A suggestion only pre-fills the form:
the inspector confirms or corrects each number against the photo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from reports import ocr_engine
from reports.smallads import phones

log = logging.getLogger(__name__)

MAX_SIDE = 1600  # ads are small text on a big wall: keep more pixels than for plates


@dataclass(frozen=True)
class NumberSuggestion:
    number: str
    kind: str
    confidence: float
    text: str  # the OCR text it was read from


@dataclass(frozen=True)
class _Box:
    text: str
    score: float
    x0: float
    y0: float
    y1: float


def _boxes(data: bytes) -> list[_Box]:
    out = []
    for quad, text, score in ocr_engine.run(ocr_engine.decode(data, MAX_SIDE)):
        xs, ys = [p[0] for p in quad], [p[1] for p in quad]
        out.append(_Box(str(text), float(score), min(xs), min(ys), max(ys)))
    return out


def _lines(boxes: list[_Box]) -> list[tuple[str, float]]:
    """Boxes whose vertical extents overlap by half, joined left to right."""
    rows: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: (b.y0 + b.y1) / 2):
        for row in rows:
            ref = row[-1]
            overlap = min(ref.y1, box.y1) - max(ref.y0, box.y0)
            if overlap > 0.5 * min(ref.y1 - ref.y0, box.y1 - box.y0):
                row.append(box)
                break
        else:
            rows.append([box])
    out = []
    for row in rows:
        if len(row) > 1:
            row.sort(key=lambda b: b.x0)
            out.append((" ".join(b.text for b in row), min(b.score for b in row)))
    return out


def suggest_numbers(data: bytes) -> list[NumberSuggestion]:
    """Numbers read on the photo, most confident first; [] for an unreadable image."""
    try:
        boxes = _boxes(data)
    except Exception:  # an upload can be anything: never fail the capture over it
        log.debug("small-ads OCR failed on %d bytes", len(data), exc_info=True)
        return []
    best: dict[str, NumberSuggestion] = {}
    for text, score in [(b.text, b.score) for b in boxes] + _lines(boxes):
        for number in phones.numbers_in(text):
            if number not in best or best[number].confidence < score:
                best[number] = NumberSuggestion(
                    number, phones.kind_of(number), round(score, 3), text
                )
    return sorted(best.values(), key=lambda s: -s.confidence)
