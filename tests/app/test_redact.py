"""The public copy of a photo (app/media/redact.py): a plate the OCR reads on the original cannot
be read back from the copy, a face is blurred, and on a few SYNTHETIC labelled photos from the
benchmark (bench/redact_bench.py; docs/benchmarks.md has the full run) most are found."""

from __future__ import annotations

import importlib.util
import io
import random
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from app.media import redact
from reports import ocr_engine

BENCH = Path(__file__).resolve().parents[2] / "bench" / "redact_bench.py"
PLATE_FLOOR, FACE_FLOOR = 0.75, 0.5  # the full run: see docs/benchmarks.md


def _bench():
    spec = importlib.util.spec_from_file_location("redact_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def read(data: bytes) -> str:
    """Everything the app's OCR reads in a photo, without the plate's dot and spaces."""
    lines = ocr_engine.run(ocr_engine.decode(data, 1920))
    return "".join(text for _, text, _ in lines).replace("·", "").replace(" ", "")


def test_a_plate_cannot_be_read_back_from_the_public_copy():
    photo = _bench().plates_set.render_example("辽A5K828", "blue", seed=3)
    assert "A5K828" in read(photo)  # the original: the OCR reads the plate
    copy = redact.redact(photo)
    assert copy.plates == 1 and copy.faces == 0
    seen = read(copy.data)
    assert "5K8" not in seen and "K828" not in seen and "辽A" not in seen, seen
    with Image.open(io.BytesIO(copy.data)) as im:
        assert im.format == "JPEG" and max(im.size) <= redact.PUBLIC_SIDE


def test_a_face_is_blurred_and_the_rest_of_the_photo_kept():
    from skimage import data  # test extra: public-domain photo of a person (NASA)

    astronaut = data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "PNG")
    copy = redact.redact(buf.getvalue())
    assert copy.faces == 1 and copy.plates == 0
    out = np.asarray(Image.open(io.BytesIO(copy.data)).convert("RGB"))
    with redact.LOCK:
        assert redact.detect_faces(out) == []  # no face left to find
    gray_in, gray_out = astronaut.mean(axis=2), out.astype(float).mean(axis=2)
    face, corner = (slice(90, 150), slice(200, 250)), (slice(400, 500), slice(0, 60))
    assert gray_out[face].std() < 0.4 * gray_in[face].std()  # the face: smeared
    assert abs(gray_out[corner].mean() - gray_in[corner].mean()) < 4  # elsewhere: the same


def test_recall_floor_on_a_small_generated_set(monkeypatch):
    bench = _bench()
    monkeypatch.setattr(bench, "_size", lambda rng: (1280, 720))  # the smallest photos: CI time
    rng, people = random.Random(5), bench.face_sources()
    samples = [bench.plate_sample(rng, f"plate-{i}") for i in range(4)]
    samples += [bench.face_sample(rng, f"face-{i}", people) for i in range(4)]
    result = bench.evaluate(samples)
    assert result.total == {"plate": 4, "face": 4}
    assert result.recall("plate") >= PLATE_FLOOR, result
    assert result.recall("face") >= FACE_FLOOR, result
