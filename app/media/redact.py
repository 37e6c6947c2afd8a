"""Find faces and licence plates in a photo and blur them: the public copy of a photo.

Both detectors ship inside installed wheels; nothing is downloaded (docs/privacy.md says why these):

- Faces: OpenCV's Haar cascades from the opencv-python 4.x wheel (``cv2.data``), the frontal
  cascade and the profile cascade run on the image and on its mirror (profiles facing either
  way), after a local contrast equalisation (CLAHE). Run on a copy whose longest side is
  ``FACE_SIDE``, faces from ``MIN_FACE`` pixels there.
- Plates: the PP-OCRv4 text detector (DBNet) that ships in the rapidocr-onnxruntime wheel finds
  text lines; a line is a plate candidate when it is short and wide like a plate's characters
  (aspect ``PLATE_ASPECT``) and sits on a plate's colour (blue, yellow, green, white or black,
  GA 36); the wheel's recogniser then drops what it reads surely as no plate (``may_be_plate``:
  sign words, dates, badges). The whole plate around the characters is blurred.

Blurring is pixelation into a few coarse blocks, then a Gaussian over them: a plate becomes about
``PLATE_BLOCKS`` blocks wide, fewer than its seven or eight characters, so no character survives
(tests/app/test_redact.py checks that the OCR cannot read a plate back from the public copy).

One set of models per process, built on first use and used under ``LOCK`` (onnxruntime sessions
on 2 cores: concurrent runs would only slow each other down).
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps

# Detection runs on copies whose longest side is at most this many pixels.
FACE_SIDE = 1600
DETECT_SIDE = 1280
# The public copy's longest side and JPEG quality: pages never need the original's resolution.
PUBLIC_SIDE = 1600
PUBLIC_QUALITY = 85
MIN_FACE = 20  # pixels at FACE_SIDE: a face 24 px tall in a 1920 px photo
FACE_PAD = 0.25  # hair, ears and chin around the cascade's box
FACE_NEIGHBOURS = 4  # overlapping windows a face needs: fewer finds more, and more that is not
PLATE_ASPECT = (1.6, 8.0)  # width / height of a plate's character line
PLATE_MIN_HEIGHT = 5  # pixels at DETECT_SIDE
PLATE_PAD_X, PLATE_PAD_Y = 0.2, 0.6  # from the characters' box out to the plate's edge
PLATE_BLOCKS = 5  # blocks across a blurred plate: fewer than its characters
FACE_BLOCKS = 7
THREADS = 2

LOCK = threading.Lock()
_models: dict[str, Any] = {}


@dataclass(frozen=True)
class Box:
    """A region to blur, in the pixels of the image it was found in."""

    kind: str  # face | plate
    x: int
    y: int
    w: int
    h: int

    def scaled(self, factor: float) -> Box:
        """The same region in an image ``factor`` times as large."""
        return Box(self.kind, round(self.x * factor), round(self.y * factor),
                   round(self.w * factor), round(self.h * factor))  # fmt: skip


@dataclass(frozen=True)
class Redacted:
    """A public copy: JPEG bytes and what was blurred."""

    data: bytes
    width: int
    height: int
    faces: int
    plates: int
    boxes: tuple[Box, ...] = ()  # what was blurred, in the copy's pixels
    scale: float = 1.0  # the copy's size over the original's
    content_type: str = "image/jpeg"


def redact(data: bytes) -> Redacted:
    """The public copy of a stored photo (JPEG, PNG or WebP bytes): faces and plates blurred,
    at most PUBLIC_SIDE pixels, as JPEG without metadata."""
    with Image.open(io.BytesIO(data)) as im:
        img = ImageOps.exif_transpose(im).convert("RGB")
    width = img.width
    img.thumbnail((PUBLIC_SIDE, PUBLIC_SIDE), Image.Resampling.LANCZOS)
    rgb = np.asarray(img).copy()
    boxes = detect(rgb)
    blurred = blur(rgb, boxes)
    out = io.BytesIO()
    Image.fromarray(blurred).save(out, "JPEG", quality=PUBLIC_QUALITY, optimize=True)
    faces = sum(1 for b in boxes if b.kind == "face")
    return Redacted(out.getvalue(), blurred.shape[1], blurred.shape[0], faces,
                    len(boxes) - faces, tuple(boxes), img.width / width)  # fmt: skip


def detect(rgb: np.ndarray) -> list[Box]:
    """Faces and plates in an RGB image, in its own pixels (faces looked for at up to
    FACE_SIDE pixels, text lines at up to DETECT_SIDE: the detector scales its own input)."""
    h, w = rgb.shape[:2]
    factor = min(1.0, FACE_SIDE / max(h, w))
    small = rgb if factor == 1.0 else cv2.resize(
        rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)  # fmt: skip
    with LOCK:
        faces = [b.scaled(1 / factor) for b in detect_faces(small)]
        return faces + detect_plates(rgb)


# ---------------------------------------------------------------- faces


def _cascades() -> list[Any]:
    if "cascades" not in _models:
        folder = Path(cv2.data.haarcascades)
        names = ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml")
        cascades = [cv2.CascadeClassifier(str(folder / n)) for n in names]
        if any(c.empty() for c in cascades):
            raise RuntimeError(f"OpenCV's Haar cascades are missing from {folder}")
        _models["cascades"] = cascades
    return _models["cascades"]


# Local contrast: a face in the shade of a bright street is brought up to what the cascades
# were trained on (a global equalisation is dominated by the sky).
_CLAHE = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))


def detect_faces(rgb: np.ndarray) -> list[Box]:
    """Frontal faces and profiles facing either way, overlapping finds merged; under LOCK."""
    gray = _CLAHE.apply(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    width = gray.shape[1]
    frontal, profile = _cascades()
    found = [tuple(r) for r in _faces(frontal, gray, FACE_NEIGHBOURS)]
    found += [tuple(r) for r in _faces(profile, gray, FACE_NEIGHBOURS)]
    found += [(width - x - w, y, w, h)
              for x, y, w, h in _faces(profile, gray[:, ::-1], FACE_NEIGHBOURS)]  # fmt: skip
    boxes = [_pad(Box("face", int(x), int(y), int(w), int(h)), FACE_PAD, FACE_PAD, rgb.shape)
             for x, y, w, h in found]  # fmt: skip
    return _merge(boxes)


def _faces(cascade: Any, gray: np.ndarray, neighbours: int) -> Any:
    return cascade.detectMultiScale(
        np.ascontiguousarray(gray), scaleFactor=1.08, minNeighbors=neighbours,
        minSize=(MIN_FACE, MIN_FACE))  # fmt: skip


# ---------------------------------------------------------------- plates


def _text_detector() -> Any:
    if "text" not in _models:
        # Imported on the first redaction, not with the app: onnxruntime is heavy and most
        # processes (web workers) never redact. The model file ships in the wheel.
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_det import TextDetector

        model = Path(rapidocr_onnxruntime.__file__).parent / "models/ch_PP-OCRv4_det_infer.onnx"
        _models["text"] = TextDetector({
            "model_path": str(model), "limit_side_len": DETECT_SIDE, "limit_type": "max",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "thresh": 0.3, "box_thresh": 0.5,
            "max_candidates": 1000, "unclip_ratio": 1.6, "use_dilation": True,
            "score_mode": "fast", "intra_op_num_threads": THREADS, "inter_op_num_threads": 1,
            "use_cuda": False, "use_dml": False,
        })  # fmt: skip
    return _models["text"]


def _recogniser() -> Any:
    if "rec" not in _models:
        # see _text_detector
        import rapidocr_onnxruntime
        from rapidocr_onnxruntime.ch_ppocr_rec import TextRecognizer

        model = Path(rapidocr_onnxruntime.__file__).parent / "models/ch_PP-OCRv4_rec_infer.onnx"
        _models["rec"] = TextRecognizer({
            "model_path": str(model), "rec_img_shape": [3, 48, 320], "rec_batch_num": 6,
            "intra_op_num_threads": THREADS, "inter_op_num_threads": 1,
            "use_cuda": False, "use_dml": False,
        })  # fmt: skip
    return _models["rec"]


# The Chinese characters a plate can hold (GA 36): a province, and the suffixes of trailer,
# coach, police, Hong Kong / Macau, embassy, consulate, trial and oversize plates.
PLATE_CJK = frozenset(
    "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领警学挂港澳试超"
)
SIGN_CJK = 2  # a line read with this many other Chinese characters is a sign, not a plate
PLATE_ALNUM = 4  # a plate read clearly shows at least this many letters and digits
READ_SURE = 0.5  # the recogniser's score from which its reading is trusted


def may_be_plate(text: str, score: float) -> bool:
    """Whether a text line may be a plate, by what the recogniser read surely: capital letters
    and digits (at least one, PLATE_ALNUM to 9 of them), the plate's dot, and Chinese
    characters of the plate alphabet (fewer than SIGN_CJK others: a misread province). Shop and
    road signs, dates, words and badges are not; a line it cannot read surely is blurred anyway."""
    if score < READ_SURE:
        return True
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    rest = [ch for ch in text if not "\u4e00" <= ch <= "\u9fff" and ch not in "·. "]
    if any(not (ch.isascii() and (ch.isdigit() or ch.isupper())) for ch in rest):
        return False
    other = sum(1 for ch in cjk if ch not in PLATE_CJK)
    digits = sum(1 for ch in rest if ch.isdigit())
    return other < SIGN_CJK and digits >= 1 and PLATE_ALNUM <= len(rest) <= 9


def detect_plates(rgb: np.ndarray) -> list[Box]:
    """Text lines shaped and coloured like a licence plate, less those read as signs. Caller
    holds LOCK."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    quads, _ = _text_detector()(bgr)
    if quads is None or len(quads) == 0:
        return []
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    candidates = []
    for quad in quads:
        (_, _), (rw, rh), _ = cv2.minAreaRect(np.asarray(quad, dtype=np.float32))
        long_side, short_side = max(rw, rh), min(rw, rh)
        if short_side < PLATE_MIN_HEIGHT:
            continue
        if not PLATE_ASPECT[0] <= long_side / short_side <= PLATE_ASPECT[1]:
            continue
        x, y, w, h = cv2.boundingRect(np.asarray(quad, dtype=np.int32))
        x, y = max(0, x), max(0, y)
        if w < 2 or h < 2 or not plate_coloured(hsv[y : y + h, x : x + w]):
            continue
        candidates.append(Box("plate", x, y, w, h))
    if not candidates:
        return []
    read, _ = _recogniser()([bgr[b.y : b.y + b.h, b.x : b.x + b.w] for b in candidates])
    boxes = [_pad(b, PLATE_PAD_X, PLATE_PAD_Y, rgb.shape)
             for b, (text, score) in zip(candidates, read, strict=True)
             if may_be_plate(text, float(score))]  # fmt: skip
    return _merge(boxes)


# OpenCV HSV (H 0-179): the plate backgrounds of GA 36-2018.
_BLUE = ((95, 70, 40), (130, 255, 255))
_YELLOW = ((12, 70, 80), (38, 255, 255))
_GREEN = ((38, 25, 80), (90, 255, 255))
_WHITE = ((0, 0, 150), (179, 45, 255))
_BLACK = ((0, 0, 0), (179, 255, 55))
PLATE_COLOUR_SHARE = 0.35  # of the box: the background between and around the characters


def plate_coloured(hsv: np.ndarray) -> bool:
    """Whether a plate colour fills a good share of the region (the characters take the rest)."""
    if hsv.size == 0:
        return False
    total = hsv.shape[0] * hsv.shape[1]
    for lo, hi in (_BLUE, _YELLOW, _GREEN, _WHITE, _BLACK):
        share = cv2.countNonZero(cv2.inRange(hsv, np.array(lo), np.array(hi))) / total
        if share >= PLATE_COLOUR_SHARE:
            return True
    return False


# ---------------------------------------------------------------- boxes and blurring


def _pad(box: Box, px: float, py: float, shape: tuple[int, ...]) -> Box:
    """The box grown by ``px`` of its width and ``py`` of its height, clipped to the image."""
    height, width = shape[:2]
    dx, dy = round(box.w * px), round(box.h * py)
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(width, box.x + box.w + dx), min(height, box.y + box.h + dy)
    return Box(box.kind, x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def _merge(boxes: list[Box]) -> list[Box]:
    """Boxes of one kind that overlap become one (a face found by two cascades counts once)."""
    merged: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.w * b.h):
        for i, other in enumerate(merged):
            if _overlap(box, other) > 0.3:
                x0, y0 = min(box.x, other.x), min(box.y, other.y)
                x1 = max(box.x + box.w, other.x + other.w)
                y1 = max(box.y + box.h, other.y + other.h)
                merged[i] = Box(box.kind, x0, y0, x1 - x0, y1 - y0)
                break
        else:
            merged.append(box)
    return merged


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    smaller = min(a.w * a.h, b.w * b.h)
    return ix * iy / smaller if smaller else 0.0


def blur(rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """A copy with every box pixelated into a few blocks and smoothed over."""
    out = rgb.copy()
    for box in boxes:
        if box.w < 2 or box.h < 2:
            continue
        region = out[box.y : box.y + box.h, box.x : box.x + box.w]
        blocks = PLATE_BLOCKS if box.kind == "plate" else FACE_BLOCKS
        bw = max(1, min(blocks, box.w))
        bh = max(1, min(box.h, round(blocks * box.h / box.w) if box.kind == "plate" else blocks))
        coarse = cv2.resize(region, (bw, bh), interpolation=cv2.INTER_AREA)
        pixelated = cv2.resize(coarse, (box.w, box.h), interpolation=cv2.INTER_NEAREST)
        sigma = max(1.0, min(box.w, box.h) / 6)
        out[box.y : box.y + box.h, box.x : box.x + box.w] = cv2.GaussianBlur(
            pixelated, (0, 0), sigma
        )
    return out
