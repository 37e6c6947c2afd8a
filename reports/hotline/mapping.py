"""The platform's categories and places in our terms: a category of ours from the mapping table
(``data/categories.csv``), and a district from the address when an order has no point."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.geo import regions
from app.geo.models import Region

CSV_PATH = Path(__file__).resolve().parent / "data" / "categories.csv"


@dataclass(frozen=True)
class PlatformCategory:
    code: str
    name: str
    our_code: str | None  # None: the classifier decides


@lru_cache(maxsize=4)
def table(
    path: str = str(CSV_PATH),
) -> tuple[dict[str, PlatformCategory], dict[str, PlatformCategory]]:
    """(by platform code, by platform name) from the mapping CSV (lines with # are notes)."""
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    items = [PlatformCategory(r["platform_code"].strip(), r["platform_name"].strip(),
                              r["our_code"].strip() or None) for r in rows]  # fmt: skip
    return {c.code: c for c in items}, {c.name: c for c in items}


def our_category_code(code: str | None, name: str | None) -> str | None:
    """Our category code for the platform's category (by its code, else its name), or None
    when the table does not say (unknown, or one of the platform's catch-alls)."""
    by_code, by_name = table()
    found = by_code.get((code or "").strip()) or by_name.get((name or "").strip())
    return found.our_code if found else None


@dataclass(frozen=True)
class District:
    region_id: int
    code: str
    name: str


def district_in_address(address: str | None) -> District | None:
    """The district whose name the address contains (the longest name first, so 浑南区 is not
    taken for 南区), or None. Only for orders without a point: a point is located exactly."""
    if not address:
        return None
    names = regions.district_names()
    for code, name in sorted(names.items(), key=lambda item: -len(item[1])):
        if name and name in address:
            region_id = db.session.scalar(select(Region.id).where(Region.code == code))
            if region_id is not None:
                return District(region_id, code, name)
    return None
