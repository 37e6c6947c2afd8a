"""CSV files as people make them: Excel on Chinese Windows saves "CSV（逗号分隔）" in GBK, and
"CSV UTF-8（逗号分隔）" in UTF-8 with a byte-order mark. Every importer reads them through here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

ENCODINGS = ("utf-8", "gb18030")  # tried in order; GB18030 is a superset of GBK
UTF8_BOM = b"\xef\xbb\xbf"


class CsvFileError(ValueError):
    """The file cannot be read as CSV; the message says why, for the person importing it."""


def decode(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without a byte-order mark), else GB18030."""
    data = data.removeprefix(UTF8_BOM)
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvFileError(
        "无法识别文件编码：请把文件另存为“CSV UTF-8（逗号分隔）”或“CSV（逗号分隔）”后再导入"
    )


def read_lines(path: Path) -> list[list[str]]:
    """Every line of a CSV file as a list of cells (see :func:`decode` for the encodings)."""
    try:
        text = decode(Path(path).read_bytes())
        return list(csv.reader(io.StringIO(text, newline="")))
    except (OSError, csv.Error) as exc:
        raise CsvFileError(f"无法读取 CSV 文件：{exc}") from None
