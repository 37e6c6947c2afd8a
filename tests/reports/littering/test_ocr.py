"""Plate suggestions from photos: rendered plates read back, no plate, bad bytes, text fixes."""

import importlib.util
import io
import sys
from pathlib import Path

import pytest
from PIL import Image

from reports.littering import ocr
from reports.littering.ocr import PlateSuggestion, suggest_plates

DATASET = Path(__file__).resolve().parents[3] / "bench" / "plate_ocr_dataset.py"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")

# One clear photo of each look: blue, small NEV green, large NEV yellow-green, police white.
PLATES = [
    ("湘C3K88Z", "blue"),
    ("粤BD12345", "green"),
    ("川A12345D", "yellow_green"),
    ("京A0001警", "white"),
]


@pytest.fixture(scope="module")
def dataset():
    """The benchmark's renderer, loaded from bench/ (not a package)."""
    if not FONT.exists():
        pytest.fail(f"{FONT} missing: run `make system-test-deps` (fonts-noto-cjk)")
    spec = importlib.util.spec_from_file_location("plate_ocr_dataset", DATASET)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def photos(dataset):
    return [
        dataset.render_example(plate, colour, seed=i) for i, (plate, colour) in enumerate(PLATES)
    ]


@pytest.fixture(scope="module")
def tops(photos):
    """Each clear photo's suggestions, read once for the tests below."""
    return [suggest_plates([photo]) for photo in photos]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (128, 128, 128)).save(buf, "PNG")
    return buf.getvalue()


def test_clear_plates_are_the_top_suggestion(tops):
    right = [
        plate for (plate, _), top in zip(PLATES, tops, strict=True) if top and top[0].plate == plate
    ]
    # Large, level, sharp plates: all read today; one miss is tolerated so that a model
    # upgrade that misreads one glyph fails loudly only when it is a real regression.
    assert len(right) >= 3, tops
    for top in tops:
        assert all(0 < s.confidence <= 1 and s.image_index == 0 for s in top)


def test_a_photo_without_a_plate_gives_no_suggestion(dataset):
    assert suggest_plates([dataset.render_no_plate(seed=3)]) == []


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\0" * 64])
def test_bad_bytes_give_no_suggestion(data):
    assert suggest_plates([data]) == []


def test_the_same_plate_in_two_photos_is_merged(photos, tops):
    one = tops[0]
    both = suggest_plates([b"junk", photos[0], photos[0]])
    assert both[0].plate == "湘C3K88Z"
    assert both[0].image_index == 1
    assert both[0].confidence >= one[0].confidence
    assert [s.plate for s in both].count("湘C3K88Z") == 1


def _fake_read(monkeypatch, boxes):
    """Make the OCR return these (text, score, x0, y0, x1, y1) boxes for any photo."""
    monkeypatch.setattr(ocr, "_read", lambda img: [ocr._Box(*b) for b in boxes])


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [
        # Read in one box with the dot.
        ([("湘C·3K88Z", 0.97, 100, 100, 400, 160)], "湘C3K88Z"),
        # Split in two, overlapping: the letter read as a look-alike hanzi and again.
        ([("粤日", 0.92, 468, 553, 521, 618), ("B D12345", 0.94, 488, 550, 789, 625)], "粤BD12345"),
        # Split with the shared character read twice.
        ([("09076F", 0.99, 303, 845, 579, 935), ("渝TO", 0.89, 208, 839, 348, 940)], "渝T09076F"),
        # O and I in the serial are 0 and 1; a small NEV's first serial letter read as 0.
        ([("京A·0O1I2", 0.95, 0, 0, 300, 60)], "京A00112"),
        ([("沪A0A1234", 0.95, 0, 0, 300, 60)], "沪ADA1234"),
    ],
)
def test_pieces_and_confusions_are_resolved_by_the_grammar(monkeypatch, boxes, expected):
    _fake_read(monkeypatch, boxes)
    got = suggest_plates([_png()])
    assert got and got[0] == PlateSuggestion(expected, got[0].confidence, 0)


@pytest.mark.parametrize(
    "boxes",
    [
        [("湘菜馆", 0.99, 0, 0, 90, 30)],
        [("ABC 1234", 0.99, 0, 0, 200, 40)],
        [("138 0000 1234", 0.99, 0, 0, 300, 40)],
        # Far apart on one line: not one plate.
        [("湘C", 0.99, 0, 0, 60, 40), ("3K88Z", 0.99, 900, 0, 1100, 40)],
    ],
)
def test_text_that_is_not_a_plate_gives_no_suggestion(monkeypatch, boxes):
    _fake_read(monkeypatch, boxes)
    assert suggest_plates([_png()]) == []


def test_limit_and_order(monkeypatch):
    _fake_read(monkeypatch, [("湘C3K88Z", 0.6, 0, 0, 300, 60), ("京A12345", 0.9, 0, 500, 300, 560)])
    got = suggest_plates([_png()], limit=1)
    assert [s.plate for s in got] == ["京A12345"]
