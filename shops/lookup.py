"""What a scanned plate code shows: the per-process cache of each code's finished JSON, for the
public page ``/s/{code}`` and the mini-program's ``/api/v1/shops/{code}``.

The cache is built in bulk before gunicorn forks its workers (``warm``), so every worker starts
full and shares it with the master.

- It follows the "shops" change counter through ``app.changes.Watch(SHOPS_TOPIC)`` (every
  committed write of shops, plate codes, industries, categories or regions bumps it; a process
  reads it at most once per ``CACHE_CHECK_SECONDS``, 1 s, and at once after its own such write);
  when it moves, the cache is dropped and rebuilt in bulk in the background. A suspension, an
  edit or a revoked plate shows within about a second.
- Cases close all day long, so they do not move the counter: every
  ``SHOP_CACHE_REPORTS_SECONDS`` (60 s) the shops with reports closed since the last look (an
  indexed range on ``closed_at``) lose their entries, which the next lookup rebuilds one by one.
- The whole cache is rebuilt at least every ``SHOP_CACHE_MAX_AGE_SECONDS`` (1 h: it catches what
  neither covers, such as a closed report being archived).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import func, select

from app import changes
from app.errors import AppError
from app.extensions import db
from app.geo.models import Region
from app.ratelimits import fast_limit, public_limit
from reports.models import Category, Report, ReportState
from shops import codes
from shops.errors import ShopClosed, ShopCodeReplaced, ShopCodeUnknown, ShopSuspended
from shops.models import SHOPS_TOPIC, CodeStatus, Industry, Shop, ShopCode, ShopStatus
from shops.service import mask_name, mask_phone

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESOLVED = (ReportState.CLOSED, ReportState.ARCHIVED)
RECENT_REPORTS = 10


def lookup_limit() -> str:
    """Per-address limit on shop lookups: RATELIMIT_SHOP_LOOKUP, else the public limit."""
    return current_app.config.get("RATELIMIT_SHOP_LOOKUP") or public_limit()


# The page and the JSON share one budget per client address, so a scraper cannot use both.
LOOKUP_LIMIT = fast_limit(lookup_limit, scope="shop_lookup")


# ---------------------------------------------------------------- the cached public view


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a code resolves to: the view JSON (or the limited view) and the error, if any."""

    body: bytes
    error: type[AppError] | None = None
    message: str | None = None

    def view(self) -> dict[str, Any]:
        """The view as a dict, for the page."""
        return json.loads(self.body) if self.body else {}


UNKNOWN = Lookup(b"", ShopCodeUnknown)
REPLACED = Lookup(b"", ShopCodeReplaced)


@dataclass
class Refs:
    """Names the views need, read once per cache generation."""

    industries: dict[int, tuple[str, str]]
    regions_by_id: dict[int, str]
    regions_by_code: dict[str, str]
    categories: dict[int, str]
    report_categories: bytes


class PublicCache:
    """Per-process cache of finished lookups, emptied when the shops topic changes.

    A trading shop's view is kept as bare bytes (which the garbage collector never scans; 50,000
    of them stay cheap), other answers as :class:`Lookup`. Reads take no lock (one dict read);
    past ``size`` entries the oldest inserted goes (the default size holds the whole registry)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.watch = changes.Watch(SHOPS_TOPIC)
        self.generation = -1
        self.entries: dict[str, bytes | Lookup] = {}
        self.refs: Refs | None = None
        self.lock = threading.Lock()
        self.reports_seen: datetime | None = None  # closed_at up to which views are current
        self.reports_checked = float("-inf")
        self.reports_lock = threading.Lock()

    def sync(self, background: bool = True) -> tuple[int, Refs]:
        """Drop everything when the data changed (then rebuild in bulk, in a background thread
        unless ``background`` is false); the current generation and names."""
        max_age = current_app.config["SHOP_CACHE_MAX_AGE_SECONDS"]
        generation = self.watch.current(max_age=max_age)
        if generation != self.generation or self.refs is None:
            refs = _load_refs()
            seen = db.session.scalar(select(func.max(Report.closed_at)))
            with self.lock:
                self.entries = {}
                self.generation, self.refs = generation, refs
                self.reports_seen, self.reports_checked = seen, time.monotonic()
            if background:
                _start_prefill(current_app._get_current_object(), generation)  # type: ignore[attr-defined]
        else:
            self.refresh_reports()
        return self.generation, self.refs

    def refresh_reports(self) -> int:
        """Drop the entries of shops with reports closed since the last look (one thread per
        process, at most every SHOP_CACHE_REPORTS_SECONDS); how many codes were dropped."""
        now = time.monotonic()
        interval = current_app.config["SHOP_CACHE_REPORTS_SECONDS"]
        if now - self.reports_checked < interval or not self.reports_lock.acquire(blocking=False):
            return 0
        try:
            self.reports_checked = now
            since = self.reports_seen
            closed = select(Report.shop_id, Report.closed_at).where(Report.shop_id.is_not(None))
            if since is not None:
                closed = closed.where(Report.closed_at >= since)  # >=: same-instant closes
            else:
                closed = closed.where(Report.closed_at.is_not(None))
            rows = db.session.execute(closed).all()
            if not rows:
                return 0
            shop_ids = {r.shop_id for r in rows}
            stale = db.session.scalars(select(ShopCode.code).where(ShopCode.shop_id.in_(shop_ids)))
            dropped = 0
            with self.lock:
                for code in stale:
                    dropped += self.entries.pop(code, None) is not None
                self.reports_seen = max(r.closed_at for r in rows)
            return dropped
        finally:
            self.reports_lock.release()

    def get(self, key: str) -> Lookup | None:
        """A cached lookup."""
        hit = self.entries.get(key)
        return Lookup(hit) if type(hit) is bytes else hit

    def put(self, key: str, value: Lookup, generation: int, replace: bool = True) -> None:
        """Keep a lookup built for ``generation`` (dropped if the data moved on meanwhile)."""
        with self.lock:
            if generation != self.generation or (not replace and key in self.entries):
                return
            self.entries[key] = value.body if value.error is None else value
            if len(self.entries) > self.size:
                del self.entries[next(iter(self.entries))]


def warm(app: Flask) -> int:
    """Fill the lookup cache now, in this thread (gunicorn's master calls this before forking, so
    every worker starts with every plate cached); how many plates were cached."""
    with app.app_context():
        cache = _cache(app)
        generation, _ = cache.sync(background=False)
        return prefill(cache, generation)


def _cache(app: Flask) -> PublicCache:
    state = app.extensions.get("shops_public")
    if state is None:
        size = app.config["SHOP_VIEW_CACHE_SIZE"]
        state = app.extensions.setdefault("shops_public", PublicCache(size))
    return state


def _load_refs() -> Refs:
    """Industry, region and category names, and the categories a shop report may use."""
    industries = {i: (c, n) for i, c, n in db.session.execute(
        select(Industry.id, Industry.code, Industry.name))}  # fmt: skip
    regions = db.session.execute(select(Region.id, Region.code, Region.name)).all()
    categories = db.session.execute(
        select(Category.id, Category.code, Category.name, Category.kind, Category.is_active,
               Category.shop_related).order_by(Category.code)).all()  # fmt: skip
    shop_related = [{"code": c.code, "name": c.name, "kind": c.kind}
                    for c in categories if c.is_active and c.shop_related]  # fmt: skip
    return Refs(
        industries=industries,
        regions_by_id={r.id: r.name for r in regions},
        regions_by_code={r.code: r.name for r in regions},
        categories={c.id: c.name for c in categories},
        report_categories=_dumps(shop_related),
    )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def lookup(raw_code: str) -> tuple[Lookup, Refs]:
    """Resolve a scanned code (any letter case, Crockford aliases) through the cache."""
    cache = _cache(current_app._get_current_object())  # type: ignore[attr-defined]
    generation, refs = cache.sync()
    key = codes.normalize(raw_code)
    if key is None:
        return UNKNOWN, refs
    hit = cache.get(key)
    if hit is None:
        hit = _build(key, refs)
        cache.put(key, hit, generation)
    return hit, refs


def _build(key: str, refs: Refs) -> Lookup:
    """Read one code and its shop from the database and turn them into a Lookup."""
    found = codes.resolve(key)
    if found is None:
        return UNKNOWN
    plate, shop = found
    return _make(plate.code, plate.status, shop, refs, lambda: _recent_reports(shop.id, refs))


def _make(
    code: str, status: CodeStatus, shop: Shop, refs: Refs, recent: Callable[[], list[Any]]
) -> Lookup:
    """The lookup of one plate: replaced, a limited view of an inactive shop, or the full view."""
    if status != CodeStatus.ACTIVE:
        return REPLACED
    if shop.status != ShopStatus.ACTIVE:
        error = ShopSuspended if shop.status == ShopStatus.SUSPENDED else ShopClosed
        message = f"“{shop.name}”{error.message}，暂不受理针对该店铺的反映"
        return Lookup(_dumps(_basic_view(code, shop, refs)), error, message)
    return Lookup(_dumps(_public_view(code, shop, refs) | {"recent_reports": recent()}))


def json_body(found: Lookup, refs: Refs) -> bytes:
    """The cached view with the shop report categories spliced in (shared by every shop)."""
    return found.body[:-1] + b',"report_categories":' + refs.report_categories + b"}"


# ---------------------------------------------------------------- bulk prefill


def _start_prefill(app: Flask, generation: int) -> None:
    """Build every plate's lookup in a background thread (SHOP_CACHE_PREFILL, on outside tests)."""
    if not app.config["SHOP_CACHE_PREFILL"]:
        return
    thread = threading.Thread(target=_prefill_thread, args=(app, generation), daemon=True)
    thread.start()


def _prefill_thread(app: Flask, generation: int) -> None:
    with app.app_context():
        try:
            prefill(_cache(app), generation)
        except Exception:  # noqa: BLE001 - lookups still work lazily; the next change retries
            log.exception("shop lookup prefill failed")


def prefill(cache: PublicCache, generation: int) -> int:
    """Put every plate into the cache in bulk (two queries); stops when the data moves on."""
    refs = cache.refs
    if refs is None:
        return 0
    recent = _recent_by_shop(refs)
    rows = db.session.execute(
        select(ShopCode.code, ShopCode.status, Shop).join(Shop, Shop.id == ShopCode.shop_id)
        .order_by(ShopCode.status, ShopCode.id.desc()).limit(cache.size)
    ).all()  # fmt: skip
    done = 0
    for code, status, shop in rows:
        if cache.generation != generation:
            break
        lookup = _make(code, status, shop, refs, lambda s=shop: recent.get(s.id, []))
        cache.put(code, lookup, generation, replace=False)
        done += 1
    return done


def _recent_by_shop(refs: Refs) -> dict[int, list[dict[str, Any]]]:
    """The last resolved reports of every shop at once (a window function)."""
    rank = func.row_number().over(
        partition_by=Report.shop_id, order_by=(Report.closed_at.desc(), Report.id.desc())
    )
    sub = (
        select(Report.shop_id, Report.category_id, Report.closed_at, Report.state, rank.label("rn"))
        .where(Report.shop_id.is_not(None), Report.state.in_(RESOLVED))
        .subquery()
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in db.session.execute(select(sub).where(sub.c.rn <= RECENT_REPORTS).order_by(
            sub.c.shop_id, sub.c.rn)):  # fmt: skip
        out.setdefault(row.shop_id, []).append(_report_item(row, refs))
    return out


# ---------------------------------------------------------------- the views


def _basic_view(code: str, shop: Shop, refs: Refs) -> dict[str, Any]:
    """What any visitor may see, whatever the shop's status."""
    industry = refs.industries.get(shop.industry_id, (None, None))
    return {
        "code": code,
        "name": shop.name,
        "industry": {"code": industry[0], "name": industry[1]},
        "address": shop.address,
        "district": {"code": shop.district_code,
                     "name": refs.regions_by_code.get(shop.district_code or "")},
        "status": shop.status.value,
        "status_label": shop.status.label,
    }  # fmt: skip


def _public_view(code: str, shop: Shop, refs: Refs) -> dict[str, Any]:
    """The full card of a trading shop; the owner's name and phone masked."""
    return _basic_view(code, shop, refs) | {
        "shop_id": shop.id,
        "street": refs.regions_by_id.get(shop.street_region_id or 0),
        "location": {"lat": shop.lat, "lng": shop.lng, "coord_sys": "gcj02"},
        "business_hours": shop.business_hours,
        "credit_code": shop.credit_code,
        "owner_name": mask_name(shop.owner_name),
        "owner_phone": mask_phone(shop.owner_phone),
        "duties": _duties(shop.duties),
        "report_url": f"/h5/report?shop={code}",
    }


def _duties(raw: Any) -> list[dict[str, str]]:
    """门前三包 duties as name/detail pairs, whether stored as strings or objects."""
    out = []
    for item in raw or []:
        if isinstance(item, dict):
            name = item.get("name") or item.get("title") or ""
            out.append({"name": str(name), "detail": str(item.get("detail") or "")})
        else:
            out.append({"name": str(item), "detail": ""})
    return out


def _recent_reports(shop_id: int, refs: Refs) -> list[dict[str, Any]]:
    """The last closed or archived reports about the shop: category and date, nobody's data."""
    rows = db.session.execute(
        select(Report.category_id, Report.closed_at, Report.state)
        .where(Report.shop_id == shop_id, Report.state.in_(RESOLVED))
        .order_by(Report.closed_at.desc(), Report.id.desc()).limit(RECENT_REPORTS)
    ).all()  # fmt: skip
    return [_report_item(r, refs) for r in rows]


def _report_item(row: Any, refs: Refs) -> dict[str, Any]:
    """One resolved report as the public sees it: category, date and state."""
    state = ReportState(row.state)
    return {"category": refs.categories.get(row.category_id or 0),
            "closed_on": _local_date(row.closed_at), "state_label": state.label}  # fmt: skip


def _local_date(value: Any) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(SHANGHAI).date().isoformat()
