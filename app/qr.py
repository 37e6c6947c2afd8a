"""QR codes for plates (shop plates, project plates): the module matrix, PNG, SVG and PDF drawing.

``qrcode`` encodes the data (segments, version fit, Reed-Solomon, placement). Its ``make()`` then
lays the symbol out nine times to pick the mask (about 3 ms a code, too slow for 50,366 plates),
so ``matrix()`` asks it for one layout with mask 0, unmasks the data modules and scores the eight
masks at once with numpy using qrcode's own penalty rules (``qrcode.util.lost_point``, which
scores with the format bits left light). The result equals ``qrcode_matrix()`` module for module;
the tests check that and decode every image with zxing-cpp.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import qrcode
from PIL import Image
from qrcode import util as qrutil

# Q (25% recovery): plates live outdoors, get dirty and scratched.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4
PNG_SCALE = 10  # pixels per module
Runs = list[tuple[int, int, int]]
_FINDER_LIKE = np.array(
    [[1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1]], dtype=bool
)


def qrcode_matrix(url: str) -> np.ndarray:
    """The matrix exactly as ``qrcode`` makes it (the reference; no quiet zone)."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    qr.add_data(url)
    qr.make(fit=True)
    return np.array(qr.modules, dtype=bool)


def _mask0_layout(url: str) -> np.ndarray:
    """The symbol laid out once, with mask pattern 0."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0, mask_pattern=0)
    qr.add_data(url)
    qr.make(fit=True)
    return np.array(qr.modules, dtype=bool)


@lru_cache(maxsize=8)
def _templates(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(function-module map, their values while scoring, their final values per mask, the masks)."""
    version = (size - 17) // 4
    qr = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION, border=0)
    qr.modules_count = size
    qr.modules = [[None] * size for _ in range(size)]
    for row, col in ((0, 0), (size - 7, 0), (0, size - 7)):
        qr.setup_position_probe_pattern(row, col)
    qr.setup_position_adjust_pattern()
    qr.setup_timing_pattern()
    finals = []
    for mask in range(8):
        qr.setup_type_info(False, mask)
        if version >= 7:
            qr.setup_type_number(False)
        finals.append([[bool(v) for v in row] for row in qr.modules])
    qr.setup_type_info(True, 0)
    if version >= 7:
        qr.setup_type_number(True)
    function = np.array([[v is not None for v in row] for row in qr.modules])
    scoring = np.array([[bool(v) for v in row] for row in qr.modules])
    masks = [
        [[qrutil.mask_func(k)(i, j) for j in range(size)] for i in range(size)] for k in range(8)
    ]
    return function, scoring, np.array(finals, dtype=bool), np.array(masks, dtype=bool)


def _penalty(cands: np.ndarray) -> np.ndarray:
    """qrcode's lost_point for a stack of matrices (..., n, n)."""
    n = cands.shape[-1]
    total = np.zeros(cands.shape[:-2], dtype=np.int64)
    for grid in (cands, cands.swapaxes(-1, -2)):
        eq = grid[..., 1:] == grid[..., :-1]
        run5 = eq[..., : n - 4] & eq[..., 1 : n - 3] & eq[..., 2 : n - 2] & eq[..., 3 : n - 1]
        starts = run5.copy()
        starts[..., 1:] &= ~eq[..., : n - 5]
        total += run5.sum(axis=(-1, -2)) + 2 * starts.sum(axis=(-1, -2))
        width = n - 10
        for pattern in _FINDER_LIKE:
            hit = grid[..., 0:width] == pattern[0]
            for k in range(1, 11):
                hit &= grid[..., k : k + width] == pattern[k]
            total += 40 * hit.sum(axis=(-1, -2))
    top = cands[..., :-1, :-1]
    same = (top == cands[..., 1:, :-1]) & (top == cands[..., :-1, 1:]) & (top == cands[..., 1:, 1:])
    total += 3 * same.sum(axis=(-1, -2))
    percent = cands.sum(axis=(-1, -2)).astype(np.float64) / (n * n)
    total += 10 * np.floor(np.abs(percent * 100 - 50) / 5).astype(np.int64)
    return total


def _finish(layouts: np.ndarray) -> np.ndarray:
    """Pick the best mask for a stack of same-size mask-0 layouts (b, n, n)."""
    function, scoring, finals, masks = _templates(layouts.shape[-1])
    data = layouts ^ masks[0]
    cands = np.where(function, scoring, data[:, None] ^ masks[None])
    best = _penalty(cands).argmin(axis=1)
    return np.where(function, finals[best], data ^ masks[best])


def matrices(urls: Sequence[str]) -> list[np.ndarray]:
    """The matrices of many URLs (the fast path; equal to ``qrcode_matrix`` of each)."""
    layouts = [_mask0_layout(url) for url in urls]
    out: list[np.ndarray | None] = [None] * len(layouts)
    for size in {m.shape[0] for m in layouts}:
        idx = [i for i, m in enumerate(layouts) if m.shape[0] == size]
        for start in range(0, len(idx), 128):
            part = idx[start : start + 128]
            for i, done in zip(part, _finish(np.stack([layouts[i] for i in part])), strict=True):
                out[i] = done
    return out  # type: ignore[return-value]


def matrix(url: str) -> np.ndarray:
    """One URL's matrix, without the quiet zone."""
    return matrices([url])[0]


def png_bytes(modules: np.ndarray, scale: int = PNG_SCALE) -> bytes:
    """A 1-bit PNG: dark modules black, quiet zone of 4 modules, ``scale`` pixels a module."""
    light = ~np.pad(modules, QUIET_ZONE)
    img = Image.fromarray(light.repeat(scale, axis=0).repeat(scale, axis=1))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def runs(modules: np.ndarray) -> Runs:
    """Horizontal runs of dark modules as (row, col, length)."""
    padded = np.zeros((modules.shape[0], modules.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = modules
    step = np.diff(padded, axis=1)
    rows, cols = np.nonzero(step == 1)
    lengths = np.nonzero(step == -1)[1] - cols
    return list(zip(rows.tolist(), cols.tolist(), lengths.tolist(), strict=True))


def svg_text(modules: np.ndarray, scale: int = PNG_SCALE, dark_runs: Runs | None = None) -> str:
    """An SVG of the code: one path of module runs, in module units, with the quiet zone."""
    side = modules.shape[0] + 2 * QUIET_ZONE
    q = QUIET_ZONE
    path = "".join(f"M{c + q} {r + q}h{n}v1h-{n}z" for r, c, n in dark_runs or runs(modules))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{side * scale}" height="{side * scale}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>\n'
    )


def pdf_ops(modules: np.ndarray, dark_runs: Runs | None = None) -> str:
    """PDF path operators for the dark modules in module units (filled by the caller)."""
    return " ".join(f"{c} {r} {n} 1 re" for r, c, n in dark_runs or runs(modules))
