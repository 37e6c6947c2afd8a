"""QR codes for plates (shop plates, project plates): the module matrix, PNG, SVG and PDF drawing.

The symbol is the one ``qrcode`` makes, module for module (``qrcode_matrix`` is the reference;
the tests compare the two and decode every kind of image with zxing-cpp), built much faster for a
batch of URLs:

- the data: ``qrcode``'s own segmentation (``optimal_data_chunks``, as ``QRCode.add_data``) and
  version fit, with the bit stream in a Python int instead of qrcode's bit-by-bit buffer;
- Reed-Solomon, block interleaving and module placement with numpy, for every code of one
  version at once (placement is a precomputed index: bit k of the stream goes to module k of
  the zigzag order of ``qrcode``'s ``map_data``);
- the mask: the eight candidates of every code are scored at once with numpy using qrcode's own
  penalty rules (``qrcode.util.lost_point``, which scores with the format bits left light), on
  rows and columns packed into 64-bit integers (shifts and popcounts; boolean modules above
  version 11), and the lowest score wins, as in ``QRCode.best_mask_pattern``. qrcode's ``make()``
  instead lays the symbol out nine times in pure Python (about 3.5 ms a code).

PNG files are written directly (1-bit rows, zlib); SVG paths and PDF operators are joined from
tables of run strings.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import qrcode
from qrcode import base as qrbase
from qrcode import util as qrutil

# Q (25% recovery): plates live outdoors, get dirty and scratched.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4
PNG_SCALE = 10  # pixels per module
OPTIMIZE = 20  # qrcode's QRCode.add_data default: digit/alphanumeric runs this long get a segment
BATCH = 256  # codes scored at once (8 candidates each)
TABLE_MAX = 45  # symbol sizes up to version 7 get precomputed run strings
Runs = list[tuple[int, int, int]]
_FINDER_LIKE = np.array(
    [[1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1]], dtype=bool
)
_ALNUM = {c: i for i, c in enumerate(qrutil.ALPHA_NUM)}


def qrcode_matrix(url: str) -> np.ndarray:
    """The matrix exactly as ``qrcode`` makes it (the reference; no quiet zone)."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    qr.add_data(url)
    qr.make(fit=True)
    return np.array(qr.modules, dtype=bool)


# -- the data codewords (as qrcode's best_fit and create_data) ----------------------------------


def _payload(chunk: qrutil.QRData) -> tuple[int, int]:
    """(bits as an int, their count) of one segment's data, without mode and length."""
    data, value, count = chunk.data, 0, 0
    if chunk.mode == qrutil.MODE_NUMBER:
        for i in range(0, len(data), 3):
            part = data[i : i + 3]
            width = qrutil.NUMBER_LENGTH[len(part)]
            value, count = (value << width) | int(part), count + width
    elif chunk.mode == qrutil.MODE_ALPHA_NUM:
        pairs, odd = divmod(len(data), 2)
        for i in range(0, 2 * pairs, 2):
            value = (value << 11) | (_ALNUM[data[i]] * 45 + _ALNUM[data[i + 1]])
        count = 11 * pairs
        if odd:
            value, count = (value << 6) | _ALNUM[data[-1]], count + 6
    else:
        value, count = int.from_bytes(data, "big"), 8 * len(data)
    return value, count


def _best_fit(segments: list[tuple[int, int, int, int]], start: int = 1) -> int:
    """The smallest version that holds the segments, exactly as ``QRCode.best_fit``."""
    sizes = qrutil.mode_sizes_for_version(start)
    needed = sum(4 + sizes[mode] + bits for mode, _, _, bits in segments)
    version = bisect_left(qrutil.BIT_LIMIT_TABLE[ERROR_CORRECTION], needed, start)
    if version == 41:
        raise qrcode.exceptions.DataOverflowError()
    if sizes is not qrutil.mode_sizes_for_version(version):
        return _best_fit(segments, version)
    return version


def _data_codewords(url: str) -> tuple[int, bytes]:
    """(version, the data codewords before error correction) of one URL."""
    segments = [
        (chunk.mode, len(chunk), *_payload(chunk))
        for chunk in qrutil.optimal_data_chunks(url, minimum=OPTIMIZE)
    ]
    version = _best_fit(segments)
    value, count = 0, 0
    for mode, length, bits_value, bits in segments:
        width = qrutil.length_in_bits(mode, version)
        value = (((value << 4 | mode) << width | length) << bits) | bits_value
        count += 4 + width + bits
    limit = qrutil.BIT_LIMIT_TABLE[ERROR_CORRECTION][version]
    pad = min(limit - count, 4)  # terminator
    pad += -(count + pad) % 8  # to a whole byte
    value, count = value << pad, count + pad
    data = value.to_bytes(count // 8, "big")
    fill = (limit - count) // 8
    return version, data + bytes([qrutil.PAD0, qrutil.PAD1] * (fill // 2 + 1))[:fill]


# -- tables per version (cached) ----------------------------------------------------------------


@lru_cache(maxsize=1)
def _gf_mul() -> np.ndarray:
    """The GF(256) multiplication table of qrcode's field."""
    log = np.array([qrbase.glog(a) for a in range(1, 256)])
    exp = np.array([qrbase.gexp(n) for n in range(255)], dtype=np.uint8)
    table = np.zeros((256, 256), dtype=np.uint8)  # row and column 0 stay 0
    table[1:, 1:] = exp[(log[:, None] + log[None, :]) % 255]
    return table


@lru_cache(maxsize=32)
def _generator(ec_count: int) -> np.ndarray:
    """The Reed-Solomon generator polynomial's coefficients after the leading 1."""
    poly = qrbase.Polynomial([1], 0)
    for i in range(ec_count):
        poly = poly * qrbase.Polynomial([1, qrbase.gexp(i)], 0)
    return np.array([poly[i] for i in range(1, ec_count + 1)], dtype=np.uint8)


@lru_cache(maxsize=8)
def _layout(version: int) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray, np.ndarray]:
    """(RS blocks as (data, ec) counts, codeword order after interleaving, rows and columns of
    the data modules in placement order)."""
    blocks = [
        (b.data_count, b.total_count - b.data_count)
        for b in qrbase.rs_blocks(version, ERROR_CORRECTION)
    ]
    data_at, ec_at, offset = [], [], 0
    for dc, _ in blocks:
        data_at.append(range(offset, offset + dc))
        offset += dc
    for _, ec in blocks:
        ec_at.append(range(offset, offset + ec))
        offset += ec
    order = [
        part[i]
        for group in (data_at, ec_at)
        for i in range(max(len(p) for p in group))
        for part in group
        if i < len(part)
    ]
    function = _templates(version * 4 + 17)[0]
    size, rows, cols = function.shape[0], [], []
    row, step = size - 1, -1
    for col in range(size - 1, 0, -2):  # qrcode's map_data zigzag
        if col <= 6:
            col -= 1
        while 0 <= row < size:
            for c in (col, col - 1):
                if not function[row, c]:
                    rows.append(row)
                    cols.append(c)
            row += step
        row -= step
        step = -step
    return blocks, np.array(order), np.array(rows), np.array(cols)


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


# -- building the symbols -----------------------------------------------------------------------


def _codewords(version: int, data: np.ndarray) -> np.ndarray:
    """Data plus error-correction codewords, interleaved, for a stack of codes (b, data)."""
    blocks, order, _, _ = _layout(version)
    mul, parts, ec_parts, offset = _gf_mul(), [], [], 0
    for dc, ec in blocks:
        block = data[:, offset : offset + dc]
        offset += dc
        gen, rem = _generator(ec), np.zeros((len(data), ec), dtype=np.uint8)
        for i in range(dc):  # polynomial division, one data codeword at a time
            factor = block[:, i] ^ rem[:, 0]
            rem[:, :-1] = rem[:, 1:]
            rem[:, -1] = 0
            rem ^= mul[factor[:, None], gen[None, :]]
        parts.append(block)
        ec_parts.append(rem)
    return np.concatenate(parts + ec_parts, axis=1)[:, order]


def _best_masks(unmasked: np.ndarray) -> np.ndarray:
    """The mask qrcode's ``best_mask_pattern`` picks for each of a stack of unmasked symbols
    (b, n, n): the lowest penalty of the eight candidates, the first of equal ones."""
    n = unmasked.shape[-1]
    function, scoring, _, masks = _templates(n)
    if n > 64:
        cands = np.where(function, scoring, unmasked[:, None] ^ masks[None])
        return _penalty_modules(cands).argmin(axis=1)
    # The candidates row by row (and column by column) as integers: function modules from the
    # template, data modules xor the mask, for all eight masks from one packing of the symbol.
    lines = []
    for grid, flip in ((unmasked, False), (unmasked.swapaxes(-1, -2), True)):
        fixed, value, mask = (_lines(t.swapaxes(-1, -2) if flip else t)
                              for t in (function, scoring, masks))  # fmt: skip
        lines.append((value & fixed) | ((_lines(grid)[:, None] ^ mask[None]) & ~fixed))
    return _penalty_lines(*lines, n).argmin(axis=1)


def _lines(grid: np.ndarray) -> np.ndarray:
    """Each row of a stack of matrices (..., n, n <= 64) as a uint64, module c in bit c."""
    packed = np.packbits(grid, axis=-1, bitorder="little")
    wide = np.zeros((*grid.shape[:-1], 8), dtype=np.uint8)
    wide[..., : packed.shape[-1]] = packed
    return wide.view("<u8")[..., 0]


_ONE = np.uint64(1)
_FINDER_BITS = [sum(int(b) << k for k, b in enumerate(p)) for p in _FINDER_LIKE]


def _penalty_lines(rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """``_penalty_modules`` of matrices given as rows and columns packed into integers
    (..., n): the same four rules with shifts, masks and popcounts."""
    inner = np.uint64((1 << (n - 1)) - 1)  # bit c: the pair of modules c, c + 1

    def ones(x: np.ndarray) -> np.ndarray:
        return np.bitwise_count(x).sum(axis=-1, dtype=np.int64)

    total = np.zeros(rows.shape[:-1], dtype=np.int64)
    for lines in (rows, cols):
        eq = ~(lines ^ (lines >> _ONE)) & inner  # module c equals module c + 1
        run5 = eq & (eq >> _ONE) & (eq >> np.uint64(2)) & (eq >> np.uint64(3))
        total += ones(run5) + 2 * ones(run5 & ~(eq << _ONE))  # length - 2 a run of 5 or more
        windows = (lines[..., None] >> np.arange(n - 10, dtype=np.uint64)) & np.uint64(0x7FF)
        finder = (windows == _FINDER_BITS[0]) | (windows == _FINDER_BITS[1])
        total += 40 * np.count_nonzero(finder, axis=(-1, -2))
    top, below = rows[..., :-1], rows[..., 1:]
    same = ~(top ^ (top >> _ONE)) & ~(top ^ below) & ~(top ^ (below >> _ONE)) & inner
    total += 3 * ones(same)
    percent = ones(rows).astype(np.float64) / (n * n)
    total += 10 * np.floor(np.abs(percent * 100 - 50) / 5).astype(np.int64)
    return total


def _penalty_modules(cands: np.ndarray) -> np.ndarray:
    """qrcode's lost_point on boolean modules (..., n, n), any size."""
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


def _symbols(version: int, data: np.ndarray) -> np.ndarray:
    """The finished matrices (b, n, n) of a stack of same-version data codewords (b, data)."""
    _, _, rows, cols = _layout(version)
    function, _, finals, masks = _templates(version * 4 + 17)
    bits = np.unpackbits(_codewords(version, data), axis=1)
    count = min(bits.shape[1], len(rows))
    unmasked = np.zeros((len(data), *function.shape), dtype=bool)
    unmasked[:, rows[:count], cols[:count]] = bits[:, :count]  # remainder bits stay light
    best = _best_masks(unmasked)
    return np.where(function, finals[best], unmasked ^ masks[best])


def matrices(urls: Sequence[str]) -> list[np.ndarray]:
    """The matrices of many URLs (the fast path; equal to ``qrcode_matrix`` of each)."""
    coded = [_data_codewords(url) for url in urls]
    out: list[np.ndarray | None] = [None] * len(coded)
    for version in sorted({v for v, _ in coded}):
        idx = [i for i, (v, _) in enumerate(coded) if v == version]
        for start in range(0, len(idx), BATCH):
            part = idx[start : start + BATCH]
            data = np.frombuffer(b"".join(coded[i][1] for i in part), dtype=np.uint8)
            done = _symbols(version, data.reshape(len(part), -1))
            for i, symbol in zip(part, done, strict=True):
                out[i] = symbol
    return out  # type: ignore[return-value]


def matrix(url: str) -> np.ndarray:
    """One URL's matrix, without the quiet zone."""
    return matrices([url])[0]


# -- drawing ------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(modules: np.ndarray, scale: int = PNG_SCALE) -> bytes:
    """A 1-bit greyscale PNG: dark modules black, quiet zone of 4 modules, ``scale`` pixels a
    module. Written directly: each module row is one packed scanline (filter None) followed by
    ``scale - 1`` all-zero scanlines with filter Up (the line above again), cheap to deflate."""
    light = np.ones((modules.shape[0] + 2 * QUIET_ZONE,) * 2, dtype=bool)
    light[QUIET_ZONE:-QUIET_ZONE, QUIET_ZONE:-QUIET_ZONE] = ~modules
    side = light.shape[0] * scale
    packed = np.packbits(light.repeat(scale, axis=1), axis=1)
    lines = np.zeros((light.shape[0], scale, packed.shape[1] + 1), dtype=np.uint8)
    lines[:, 1:, 0] = 2  # filter Up: the same as the line above
    lines[:, 0, 1:] = packed
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(lines.tobytes(), 2)),
        _png_chunk(b"IEND", b""),
    ))  # fmt: skip


def runs(modules: np.ndarray) -> Runs:
    """Horizontal runs of dark modules as (row, col, length)."""
    r, c, n = _run_arrays(modules[None])[1:]
    return list(zip(r.tolist(), c.tolist(), n.tolist(), strict=True))


def _run_arrays(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dark runs of a stack of matrices (b, n, n): (matrix, row, col, length) arrays, in order."""
    b, n, _ = stack.shape
    padded = np.zeros((b, n, n + 2), dtype=np.int8)
    padded[:, :, 1:-1] = stack
    step = np.diff(padded, axis=2)
    which, rows, cols = np.nonzero(step == 1)
    lengths = np.nonzero(step == -1)[2] - cols
    return which, rows, cols, lengths


@lru_cache(maxsize=4)
def _run_strings(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every possible run's SVG path piece and PDF operator, indexed [row, col, length]."""
    q = QUIET_ZONE
    svg = np.empty((size, size, size + 1), dtype=object)
    pdf = np.empty((size, size, size + 1), dtype=object)
    for r in range(size):
        for c in range(size):
            for n in range(1, size - c + 1):
                svg[r, c, n] = f"M{c + q} {r + q}h{n}v1h-{n}z"
                pdf[r, c, n] = f"{c} {r} {n} 1 re "
    return svg, pdf


def drawings(stack: Sequence[np.ndarray]) -> list[tuple[str, str]]:
    """(SVG text, PDF operators) of many matrices: the same text as ``svg_text`` and
    ``pdf_ops``, joined from precomputed run strings for the usual plate sizes."""
    out: list[tuple[str, str]] = [("", "")] * len(stack)
    for size in sorted({m.shape[0] for m in stack}):
        idx = [i for i, m in enumerate(stack) if m.shape[0] == size]
        if size > TABLE_MAX:
            for i in idx:
                out[i] = (svg_text(stack[i]), pdf_ops(stack[i]))
            continue
        svg, pdf = _run_strings(size)
        which, rows, cols, lengths = _run_arrays(np.stack([stack[i] for i in idx]))
        bounds = np.searchsorted(which, np.arange(len(idx) + 1)).tolist()
        paths, ops = svg[rows, cols, lengths].tolist(), pdf[rows, cols, lengths].tolist()
        for k, i in enumerate(idx):
            lo, hi = bounds[k], bounds[k + 1]
            path = "".join(paths[lo:hi])
            out[i] = (_svg_document(size, path), "".join(ops[lo:hi]).rstrip())
    return out


def svg_text(modules: np.ndarray, scale: int = PNG_SCALE, dark_runs: Runs | None = None) -> str:
    """An SVG of the code: one path of module runs, in module units, with the quiet zone."""
    q = QUIET_ZONE
    path = "".join(f"M{c + q} {r + q}h{n}v1h-{n}z" for r, c, n in dark_runs or runs(modules))
    return _svg_document(modules.shape[0], path, scale)


def _svg_document(size: int, path: str, scale: int = PNG_SCALE) -> str:
    side = size + 2 * QUIET_ZONE
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'width="{side * scale}" height="{side * scale}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>\n'
    )


def pdf_ops(modules: np.ndarray, dark_runs: Runs | None = None) -> str:
    """PDF path operators for the dark modules in module units (filled by the caller)."""
    return " ".join(f"{c} {r} {n} 1 re" for r, c, n in dark_runs or runs(modules))
