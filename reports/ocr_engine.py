"""The process's one RapidOCR engine (PP-OCRv4, CPU only), shared by every OCR reader.

车窗抛物 plates (reports/littering/ocr.py) and 牛皮癣 phone numbers (reports/smallads/ocr.py) use
the same engine: its models ship inside the rapidocr-onnxruntime wheel, nothing is downloaded at
run time. One engine per process, built on first use (or by warm()) and used under LOCK: it keeps
per-call settings on shared objects and is not known to be thread-safe, and two concurrent
inferences on a 2-core machine would only slow each other down.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from rapidocr_onnxruntime import RapidOCR

THREADS = 2  # onnxruntime intra-op threads per session; the default takes every core

LOCK = threading.Lock()
_engine: RapidOCR | None = None


def get_engine() -> RapidOCR:
    """The process's engine; the caller holds LOCK."""
    global _engine
    if _engine is None:
        _engine = RapidOCR(intra_op_num_threads=THREADS, inter_op_num_threads=1)
    return _engine


def warm() -> None:
    """Load the OCR models now (for example in a worker at start-up) rather than on first use."""
    with LOCK:
        get_engine()


def run(img: np.ndarray) -> list[Any]:
    """The engine's raw result on a BGR array: [(quad, text, score), ...] ([] for nothing).
    No keyword settings are passed: they would stick on the shared engine for other readers."""
    with LOCK:
        result, _ = get_engine()(img)
    return list(result or [])


def decode(data: bytes, max_side: int) -> np.ndarray:
    """An image as a BGR array, upright per EXIF, longest side at most max_side."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, much faster
        img = ImageOps.exif_transpose(im).convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
