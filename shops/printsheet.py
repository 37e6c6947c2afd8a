"""Print sheets: every active shop's QR as PNG and SVG, and an A4 PDF of plate labels.

Worker processes compute the matrices (``app.qr.matrices``), write the image files and hand
back each code's PDF path operators; the main process lays the labels out with fpdf2 (the shop
name in the embedded CJK font). The QR is drawn as vector rectangles, crisp at any print size.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from fontTools.ttLib import TTCollection
from fpdf import FPDF
from fpdf.enums import PDFResourceType
from sqlalchemy import select

from app import qr
from app.extensions import db
from app.geo.models import Region
from shops.codes import plate_url
from shops.models import CodeStatus, Shop, ShopCode, ShopStatus

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FONT_FAMILY = "cjk"
CHUNK = 400
ZIP_NAME = "qr-images.zip"
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
COLS, ROWS = 3, 4
LABEL_W, LABEL_H = PAGE_W / COLS, PAGE_H / ROWS  # 70 x 74.25 mm
QR_BOX = 46.0  # mm, quiet zone included
NAME_PT, NAME_MIN_PT = 11.0, 7.0


@dataclass(frozen=True)
class Label:
    """What one plate label shows."""

    shop_id: int
    code: str
    name: str
    district: str
    url: str


def load_labels(district: str | None = None) -> list[Label]:
    """Labels of every active shop with an active code (optionally one district, code or name)."""
    query = (
        select(Shop.id, ShopCode.code, Shop.name, Region.name, Shop.district_code)
        .join(ShopCode, ShopCode.shop_id == Shop.id)
        .outerjoin(Region, Region.code == Shop.district_code)
        .where(Shop.status == ShopStatus.ACTIVE, ShopCode.status == CodeStatus.ACTIVE)
        .order_by(Shop.district_code, Shop.id)
    )
    if district:
        query = query.where((Shop.district_code == district) | (Region.name == district))
    return [
        Label(sid, code, name, rname or dcode or "", plate_url(code))
        for sid, code, name, rname, dcode in db.session.execute(query)
    ]


def font_path() -> Path:
    """The CJK font file (SHOP_LABEL_FONT); a clear error when it is missing."""
    path = Path(current_app.config.get("SHOP_LABEL_FONT") or DEFAULT_FONT)
    if not path.is_file():
        raise FileNotFoundError(f"CJK font not found: {path} (apt-get install fonts-noto-cjk)")
    return path


def collection_face(path: Path, prefer: str = " SC") -> int:
    """The face of a .ttc/.otc collection to use: Simplified Chinese when present, else 0."""
    if path.suffix.lower() not in {".ttc", ".otc"}:
        return 0
    with TTCollection(str(path), lazy=True) as coll:
        for index, font in enumerate(coll.fonts):
            name = font["name"].getDebugName(1) or ""
            if name.endswith(prefer) and "Mono" not in name:
                return index
    return 0


# -- workers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """One code's QR: matrix size, PDF operators, and the image bytes when asked for."""

    size: int
    ops: str
    png: bytes = b""
    svg: str = ""


def render_chunk(job: tuple[Sequence[tuple[str, str]], str | None, bool]) -> list[Rendered]:
    """Worker: the QRs of (code, url) pairs; image files into a folder, or their bytes back."""
    pairs, out_dir, keep_bytes = job
    mats = qr.matrices([url for _, url in pairs])
    images = bool(out_dir) or keep_bytes
    result = []
    for (code, _), modules, (svg, ops) in zip(pairs, mats, qr.drawings(mats), strict=True):
        png = qr.png_bytes(modules) if images else b""
        if out_dir:
            _write_file(f"{out_dir}/{code}.png", png)
            _write_file(f"{out_dir}/{code}.svg", svg.encode())
        extra = (png, svg) if keep_bytes else (b"", "")
        result.append(Rendered(modules.shape[0], ops, *extra))
    return result


def _write_file(path: str, data: bytes) -> None:
    """One small file, written with plain system calls (100,000 of them: no buffered file
    object a file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _rendered(
    labels: Sequence[Label], out_dir: Path | None, workers: int, keep_bytes: bool = False
) -> Iterator[list[Rendered]]:
    """Rendered chunks in label order, from ``workers`` processes (0: in this process)."""
    folder = str(out_dir) if out_dir else None
    jobs = [
        ([(lb.code, lb.url) for lb in labels[i : i + CHUNK]], folder, keep_bytes)
        for i in range(0, len(labels), CHUNK)
    ]
    if workers <= 0:
        yield from map(render_chunk, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(render_chunk, jobs)


# -- the PDF ------------------------------------------------------------------------------------


class LabelSheet:
    """An A4 PDF of plate labels, 3 x 4 a page.

    The label text is written as PDF text operators here rather than through ``FPDF.cell``
    (a quarter of a millisecond a line, most of the main process's time at 50,000 labels): the
    same font, subset and placement as ``cell(width, 6, text, align="C")``. fpdf2 still embeds
    the subset with its ToUnicode map, so the text is searchable and copyable.
    """

    def __init__(self, font: Path) -> None:
        self.pdf = FPDF(unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margin(0)
        self.pdf.add_font(FONT_FAMILY, "", str(font), collection_font_number=collection_face(font))
        self.pdf.set_creator("智慧城管 一店一码")
        self.pdf.set_title("商户二维码标签")
        self.font = self.pdf.fonts[FONT_FAMILY]
        self.count = 0

    def add(self, label: Label, size: int, ops: str) -> None:
        """Place one label in the next slot."""
        slot = self.count % (COLS * ROWS)
        if slot == 0:
            self.pdf.add_page()
            # the page's resources name the font its text operators use (fpdf2's own bookkeeping)
            self.pdf._resource_catalog.add(PDFResourceType.FONT, self.font.i, self.pdf.page)
            self._cut_lines()
        x, y = (slot % COLS) * LABEL_W, (slot // COLS) * LABEL_H
        self._qr(x + (LABEL_W - QR_BOX) / 2, y + 3, size, ops)
        self.pdf._out(" ".join((
            self._text(label.name, x, y + 50, NAME_PT, fit=True),
            self._text(label.code, x, y + 57, 12),
            self._text(f"{label.district}  扫码查看商户信息·反映问题", x, y + 64, 7),
        )))  # fmt: skip
        self.count += 1

    def _qr(self, left: float, top: float, size: int, ops: str) -> None:
        """The QR as filled rectangles; a ``cm`` maps module units to the page (y downwards)."""
        k = self.pdf.k
        module = QR_BOX / (size + 2 * qr.QUIET_ZONE) * k
        x0 = (left * k) + qr.QUIET_ZONE * module
        y0 = (PAGE_H - top) * k - qr.QUIET_ZONE * module
        # fpdf2 has no public call for raw operators; q/Q keep its graphics state untouched.
        self.pdf._out(f"q 0 g {module:.4f} 0 0 {-module:.4f} {x0:.3f} {y0:.3f} cm {ops} f Q")

    def _text(self, text: str, x: float, y: float, size: float, fit: bool = False) -> str:
        """The operators of one centred line in the label, 6 mm high; names shrink to fit, then
        are cut with an ellipsis."""
        font, k, width = self.font, self.pdf.k, LABEL_W - 6
        units = sum(font.cw[ord(c)] for c in text)  # glyph advances, 1/1000 of the font size
        while fit and size > NAME_MIN_PT and units * size / 1000 / k > width:
            size -= 0.5
        while units * size / 1000 / k > width and len(text) > 1:
            text = text[:-2] + "…"
            units = sum(font.cw[ord(c)] for c in text)
        pick = font.subset.pick
        glyphs = font.escape_text("".join(chr(g) for g in map(pick, map(ord, text)) if g))
        left = (x + 3 + (width - units * size / 1000 / k) / 2) * k
        base = (PAGE_H - y - 3) * k - 0.3 * size  # as cell(): mid-height, 0.3 em below
        return f"BT /F{font.i} {size:.2f} Tf {left:.2f} {base:.2f} Td ({glyphs}) Tj ET"

    def _cut_lines(self) -> None:
        """Light grey lines between the labels."""
        pdf = self.pdf
        pdf.set_draw_color(200)
        pdf.set_line_width(0.1)
        for col in range(1, COLS):
            pdf.line(col * LABEL_W, 0, col * LABEL_W, PAGE_H)
        for row in range(1, ROWS):
            pdf.line(0, row * LABEL_H, PAGE_W, row * LABEL_H)

    def save(self, path: Path) -> None:
        """Write the PDF."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.pdf.output(str(path))


def write_all(
    labels: Sequence[Label],
    out_dir: Path | None,
    pdf_path: Path | None,
    *,
    font: Path | None = None,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    zip_images: bool = False,
) -> int:
    """Images into ``out_dir`` (loose, or one qr-images.zip) and the PDF; returns the count."""
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_index(labels, out_dir / "labels.csv")
    sheet = LabelSheet(font or font_path()) if pdf_path else None
    archive = _open_zip(out_dir / ZIP_NAME) if out_dir and zip_images else None
    folder = None if archive else out_dir
    done = 0
    for chunk in _rendered(labels, folder, workers, keep_bytes=archive is not None):
        for item, label in zip(chunk, labels[done : done + len(chunk)], strict=True):
            if sheet:
                sheet.add(label, item.size, item.ops)
            if archive:
                archive.writestr(f"{label.code}.png", item.png, zipfile.ZIP_STORED)
                archive.writestr(f"{label.code}.svg", item.svg)
        done += len(chunk)
        if progress:
            progress(len(chunk))
    if archive:
        archive.close()
    if sheet and pdf_path:
        sheet.save(pdf_path)
    return done


def _open_zip(path: Path) -> zipfile.ZipFile:
    """A zip for the images (PNGs stored as they are, SVGs deflated)."""
    return zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def _write_index(labels: Sequence[Label], path: Path) -> None:
    """labels.csv: which file is which shop."""
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        out = csv.writer(fh)
        out.writerow(["shop_id", "code", "name", "district", "url", "png", "svg"])
        for lb in labels:
            files = [f"{lb.code}.png", f"{lb.code}.svg"]
            out.writerow([lb.shop_id, lb.code, lb.name, lb.district, lb.url, *files])
