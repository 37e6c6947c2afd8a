"""The public side of 一店一码: the shop page ``/s/{code}``, the same as JSON for the mini-program,
the heat map of shops, and the check that binds a citizen's report to a shop.

Lookups are served from a per-process cache of each code's finished JSON, built in bulk before
gunicorn forks its workers (``warm``), so every worker starts full and shares it with the master.

- The "shops" change counter (app.changes: one primary-key read; every committed write of shops,
  plate codes, industries, categories or regions bumps it) is read at most once per
  ``SHOP_CACHE_CHECK_SECONDS`` (1 s) per process; when it moves, the cache is dropped and rebuilt
  in bulk in the background. A suspension, an edit or a revoked plate shows within about a second.
- Cases close all day long, so they are not in the fingerprint: every
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

from flask import Blueprint as PageBlueprint
from flask import Flask, Response, current_app, redirect, render_template, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from app.apispec import document_errors, document_only
from app.auth.current import current_staff
from app.errors import AppError, Forbidden, NotFound, ValidationFailed
from app.extensions import db, limiter
from app.geo import api as geo_api
from app.geo.models import Region
from app.ratelimits import fast_limit, public_limit
from reports.models import Category, Report, ReportState
from shops import codes, heatmap
from shops.heatmap import Watch, check_interval, shops_fingerprint
from shops.models import CodeStatus, Industry, Shop, ShopCode, ShopStatus
from shops.public_schemas import HeatmapArgs, ShopPublicOut
from shops.service import mask_name, mask_phone

log = logging.getLogger(__name__)

api_blp = Blueprint(
    "shops_public", __name__, url_prefix="/api/v1/shops", description="店铺公开信息（一店一码）"
)
page_bp = PageBlueprint(
    "shop_pages",
    __name__,
    template_folder="templates",
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESOLVED = (ReportState.CLOSED, ReportState.ARCHIVED)
RECENT_REPORTS = 10


class ShopCodeUnknown(NotFound):
    """No plate carries this code."""

    code, message = "shop_code_unknown", "未找到该店铺二维码"


class ShopCodeReplaced(AppError):
    """The plate was replaced (revoked and reissued): the old code never shows the shop."""

    status, code, message = 410, "shop_code_replaced", "该二维码已更换，请扫描店铺最新二维码"


class ShopSuspended(Forbidden):
    """The shop is suspended: it may trade again, so 403 rather than 410."""

    code, message = "shop_suspended", "该店铺已暂停营业"


class ShopClosed(AppError):
    """The shop has closed for good."""

    status, code, message = 410, "shop_closed", "该店铺已关闭"


# ---------------------------------------------------------------- rate limit and shop-bound reports


def lookup_limit() -> str:
    """Per-address limit on shop lookups: RATELIMIT_SHOP_LOOKUP, else the public limit."""
    return current_app.config.get("RATELIMIT_SHOP_LOOKUP") or public_limit()


# The page and the JSON share one budget per client address, so a scraper cannot use both.
LOOKUP_LIMIT = fast_limit(lookup_limit, scope="shop_lookup")


def shop_for_report(shop_id: int | None) -> Shop:
    """The shop a citizen's report is about; ValidationFailed (422) unless it exists and trades."""
    shop = db.session.get(Shop, shop_id) if shop_id is not None else None
    if shop is None:
        raise ValidationFailed(
            "未找到该店铺", code="shop_unknown", fields={"shop_id": ["未找到该店铺"]}
        )
    if shop.status != ShopStatus.ACTIVE:
        error = ShopSuspended if shop.status == ShopStatus.SUSPENDED else ShopClosed
        message = f"{error.message}，暂不受理针对该店铺的反映"
        raise ValidationFailed(message, code=error.code, fields={"shop_id": [message]})
    return shop


# ---------------------------------------------------------------- change detection


def _lookup_fingerprint() -> tuple[Any, ...]:
    """What a cached shop view is made of: the shops topic's change counter, which counts writes
    of shops, plates, industries, categories and regions. Closed reports are refreshed apart
    (:meth:`PublicCache.refresh_reports`)."""
    return shops_fingerprint()


def _interval() -> tuple[float, float]:
    """(check interval, max age) of the lookup cache."""
    return check_interval(), current_app.config.get("SHOP_CACHE_MAX_AGE_SECONDS", 3600)


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
    """Per-process cache of finished lookups, emptied when the fingerprint changes.

    A trading shop's view is kept as bare bytes (which the garbage collector never scans; 50,000
    of them stay cheap), other answers as :class:`Lookup`. Reads take no lock (one dict read);
    past ``size`` entries the oldest inserted goes (the default size holds the whole registry)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.watch = Watch(_lookup_fingerprint)
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
        generation = self.watch.current(*_interval())
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
        interval = current_app.config.get("SHOP_CACHE_REPORTS_SECONDS", 60.0)
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
        size = app.config.get("SHOP_VIEW_CACHE_SIZE", 60_000)
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


# ---------------------------------------------------------------- bulk prefill


def _start_prefill(app: Flask, generation: int) -> None:
    """Build every plate's lookup in a background thread (SHOP_CACHE_PREFILL, on outside tests)."""
    if not app.config.get("SHOP_CACHE_PREFILL", not app.testing):
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


def _json_body(found: Lookup, refs: Refs) -> bytes:
    """The cached view with the shop report categories spliced in (shared by every shop)."""
    return found.body[:-1] + b',"report_categories":' + refs.report_categories + b"}"


# ---------------------------------------------------------------- API


@api_blp.route("/<string:code>", endpoint="ShopByCode")
@LOOKUP_LIMIT
@document_only(api_blp.response(200, ShopPublicOut), document_errors(api_blp, 403, 404, 410, 429))
def shop_by_code(code: str):
    """A shop by its plate code: 404 shop_code_unknown, 410 shop_code_replaced, 403
    shop_suspended, 410 shop_closed. Owner name and phone are masked."""
    found, refs = lookup(code)
    if found.error is not None:
        raise found.error(found.message)
    return Response(_json_body(found, refs), mimetype="application/json")


@api_blp.route("/heatmap")
class Heatmap(MethodView):
    decorators = [limiter.limit(public_limit)]

    @api_blp.arguments(HeatmapArgs, location="query")
    @api_blp.response(200, description="GeoJSON FeatureCollection: one square cell per Feature")
    @document_errors(api_blp, 422, 429)
    def get(self, args: dict[str, Any]):
        """Trading shops counted per square cell (metres) as GeoJSON, by industry/district/bbox."""
        body = heatmap.geojson(args["industry"], args["district"], args["bbox"], args["cell"])
        return Response(body, mimetype="application/geo+json")


# ---------------------------------------------------------------- pages


@page_bp.get("/s/<code>")
@page_bp.get("/S/<code>")
@LOOKUP_LIMIT
def shop_page(code: str):
    """The page a plate's QR opens outside the mini-program."""
    found, _ = lookup(code)
    if found.error in (ShopCodeUnknown, ShopCodeReplaced):
        error = found.error
        return render_template("shops/code_error.html", error=error), error.status
    if found.error is not None:
        page = render_template("shops/shop_inactive.html", shop=found.view(), error=found.error)
        return page, found.error.status
    return render_template("shops/shop.html", shop=found.view())


@page_bp.get("/console/shops/heatmap")
def heatmap_page():
    """The staff heat map: shop counts per cell over the district boundaries, in the console
    layout (menu, account, configured tiles)."""
    from app.console import render  # late: the console's pages import the reports package

    staff = current_staff()
    if staff is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return render(
        "shops/heatmap.html", staff,
        industries=db.session.execute(
            select(Industry.code, Industry.name).where(Industry.is_active.is_(True))
            .order_by(Industry.code)).all(),
        districts=heatmap.districts(geo_api.boundary_file()),
    )  # fmt: skip
