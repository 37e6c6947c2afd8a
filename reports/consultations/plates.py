"""QR plates of projects and phases (网上亮码): the URL the code opens, PNG and SVG images of the
code (``app.qr``, as the shop plates), and an A4 PDF plate to print and put up on site: the
project's name, the phase, the code drawn as vector rectangles, what to do, the dates and the
responsible unit, in the CJK font (SHOP_LABEL_FONT, Noto Sans CJK by default).
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from fontTools.ttLib import TTCollection
from fpdf import FPDF

from app import qr

DEFAULT_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FAMILY = "cjk"
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
QR_BOX = 120.0  # mm, quiet zone included: scanned from a couple of metres
MOTTO = "问需于民 · 问计于民 · 问效于民"
CALL = {
    None: "微信扫一扫，参与项目征询",
    "needs": "微信扫一扫，说说您的需求",
    "proposals": "微信扫一扫，为方案投票、提建议",
    "outcome": "微信扫一扫，评价建设效果",
}


def plate_url(code: str, phase: str | None = None) -> str:
    """The URL a plate's QR encodes: the project's H5 page, or one phase's."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/h5/consultations/{code}" + (f"/{phase}" if phase else "")


def png(url: str) -> bytes:
    """The code as a 1-bit PNG (10 px a module, quiet zone of 4)."""
    return qr.png_bytes(qr.matrix(url))


def svg(url: str) -> str:
    """The code as an SVG of one path (for print shops)."""
    return qr.svg_text(qr.matrix(url))


def font_path() -> Path:
    """The CJK font file; a clear error when it is missing."""
    path = Path(current_app.config.get("SHOP_LABEL_FONT") or DEFAULT_FONT)
    if not path.is_file():
        raise FileNotFoundError(f"CJK font not found: {path} (apt-get install fonts-noto-cjk)")
    return path


def _face(path: Path) -> int:
    """The Simplified Chinese face of a .ttc collection (else the first)."""
    if path.suffix.lower() not in {".ttc", ".otc"}:
        return 0
    with TTCollection(str(path), lazy=True) as coll:
        for index, font in enumerate(coll.fonts):
            name = font["name"].getDebugName(1) or ""
            if name.endswith(" SC") and "Mono" not in name:
                return index
    return 0


def pdf(
    url: str,
    *,
    name: str,
    phase: str | None,
    phase_label: str | None,
    dates: str | None,
    unit: str,
    code: str,
) -> bytes:
    """An A4 plate (portrait) for the project or one of its phases."""
    path = font_path()
    doc = FPDF(unit="mm", format="A4")
    doc.set_auto_page_break(False)
    doc.set_margin(0)
    doc.add_font(FAMILY, "", str(path), collection_font_number=_face(path))
    doc.set_creator("智慧城管 网上亮码")
    doc.set_title(f"{name} 征询二维码")
    doc.add_page()
    doc.set_fill_color(22, 119, 255)
    doc.rect(0, 0, PAGE_W, 34, style="F")
    doc.set_text_color(255)
    _line(doc, "网上亮码", 8, 20)
    _line(doc, MOTTO, 20, 12)
    doc.set_text_color(0)
    _line(doc, name, 44, 24, fit=True)
    if phase_label:
        _line(doc, phase_label, 58, 16)
    top = 70.0
    _qr(doc, (PAGE_W - QR_BOX) / 2, top, url)
    _line(doc, CALL.get(phase, CALL[None]), top + QR_BOX + 6, 18)
    if dates:
        _line(doc, dates, top + QR_BOX + 20, 12)
    doc.set_text_color(90)
    _line(doc, f"责任单位：{unit}", PAGE_H - 30, 12)
    _line(doc, f"项目编号：{code}", PAGE_H - 22, 11)
    return bytes(doc.output())


def _qr(doc: FPDF, left: float, top: float, url: str) -> None:
    """The code as filled rectangles; a ``cm`` maps module units onto the page (y down)."""
    modules = qr.matrix(url)
    size = modules.shape[0]
    k = doc.k
    module = QR_BOX / (size + 2 * qr.QUIET_ZONE) * k
    x0 = left * k + qr.QUIET_ZONE * module
    y0 = (PAGE_H - top) * k - qr.QUIET_ZONE * module
    # fpdf2 has no public call for raw operators; q/Q keep its graphics state untouched.
    doc._out(f"q 0 g {module:.4f} 0 0 {-module:.4f} {x0:.3f} {y0:.3f} cm {qr.pdf_ops(modules)} f Q")


def _line(doc: FPDF, text: str, y: float, size: float, fit: bool = False) -> None:
    """One centred line; a long name shrinks to fit, then is cut with an ellipsis."""
    width = PAGE_W - 24
    doc.set_font(FAMILY, size=size)
    while fit and size > 12 and doc.get_string_width(text) > width:
        size -= 1
        doc.set_font(FAMILY, size=size)
    while doc.get_string_width(text) > width and len(text) > 1:
        text = text[:-2] + "…"
    doc.set_xy(12, y)
    doc.cell(width, 10, text, align="C")
