"""The fast plate path (issue 18) makes what qrcode and Pillow made: the same symbols for every
kind of data and size, PNGs with the same pixels that two decoders read, the same drawings in one
batch as one by one, and the same files and PDF from worker processes as from one process."""

from __future__ import annotations

import io
import re
import secrets
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from PIL import Image

from app import qr
from shops import codes, printsheet

needs_font = pytest.mark.skipif(
    not Path(printsheet.DEFAULT_FONT).is_file(), reason="fonts-noto-cjk not installed"
)


def test_symbols_equal_qrcode_for_every_mode_and_size():
    digits = "".join(str(secrets.randbelow(10)) for _ in range(25))
    sample = [
        "HTTPS://CG.SHENYANG.GOV.CN/S/" + codes.random_code(),  # alphanumeric, version 3
        f"https://cg.example.cn/zhcg/s/{codes.random_code()}",  # bytes
        f"HTTP://X/{digits}/AB",  # a numeric segment inside alphanumeric
        "https://example.org/" + secrets.token_hex(30),  # version 7: version information
        "https://example.org/" + secrets.token_hex(70),  # version 11: size 61, packed rows
        "https://example.org/?q=" + "沈阳" * 30,  # version 12 and up: boolean modules
        "7",
    ]
    fast = qr.matrices(sample)
    assert {m.shape[0] for m in fast} >= {29, 45, 61, 65}
    for url, symbol in zip(sample, fast, strict=True):
        assert np.array_equal(symbol, qr.qrcode_matrix(url)), url


def test_png_has_the_modules_pixels_and_decodes_with_two_decoders():
    url = "HTTPS://CG.SHENYANG.GOV.CN/S/" + codes.random_code()
    modules = qr.matrix(url)
    img = Image.open(io.BytesIO(qr.png_bytes(modules)))
    assert img.mode == "1" and img.size == ((29 + 8) * qr.PNG_SCALE,) * 2
    light = ~np.pad(modules, qr.QUIET_ZONE)
    expected = light.repeat(qr.PNG_SCALE, axis=0).repeat(qr.PNG_SCALE, axis=1)
    assert np.array_equal(np.array(img), expected)
    assert [r.text for r in zxingcpp.read_barcodes(img)] == [url]
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.array(img.convert("L")))
    assert text == url


def test_drawings_of_a_batch_equal_one_by_one():
    mats = qr.matrices(["HTTP://LOCALHOST/S/" + codes.random_code(), "https://a.cn/" + "x" * 120])
    mats.append(qr.matrix("HTTP://LOCALHOST/S/" + codes.random_code()))
    assert qr.drawings(mats) == [(qr.svg_text(m), qr.pdf_ops(m)) for m in mats]


@needs_font
def test_workers_write_what_one_process_writes(tmp_path):
    font = Path(printsheet.DEFAULT_FONT)
    labels = [
        printsheet.Label(
            i, code, f"李记五金建材商行（{i}号店）", "和平区", f"HTTP://LOCALHOST/S/{code}"
        )
        for i, code in enumerate(sorted({codes.random_code() for _ in range(30)}))
    ]
    outputs = {}
    for workers in (0, 2):
        out = tmp_path / f"w{workers}"
        assert printsheet.write_all(labels, out, out / "l.pdf", font=font, workers=workers) == 30
        pdf = (out / "l.pdf").read_bytes()
        outputs[workers] = (
            {p.name: p.read_bytes() for p in out.iterdir() if p.suffix != ".pdf"},
            re.sub(rb"/CreationDate \([^)]*\)|/ID \[[^]]*\]", b"", pdf),
        )
    assert len(outputs[0][0]) == 2 * 30 + 1  # PNG and SVG a label, and labels.csv
    assert outputs[2] == outputs[0]
    png = Image.open(io.BytesIO(outputs[2][0][f"{labels[7].code}.png"]))
    assert [r.text for r in zxingcpp.read_barcodes(png)] == [labels[7].url]
