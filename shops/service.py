"""The shop registry: industries, shops, their placement in districts and streets, status changes.

Other features call these functions (never the views). Services flush, never commit; every staff
write adds an audit row to the caller's transaction. Public views show owners only through
``mask_name`` / ``mask_phone``.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app import audit
from app.auth import scope
from app.auth.models import StaffUser
from app.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from app.extensions import db
from app.geo import regions
from app.geo.regions import Place
from reports.models import Report
from shops import codes, heatmap
from shops.errors import ShopClosed, ShopSuspended
from shops.models import CodeStatus, Industry, Shop, ShopCode, ShopStatus

log = logging.getLogger(__name__)

INDUSTRIES_CSV = Path(__file__).parent / "data" / "industries.csv"
# 门前三包: the frontage duties a shop signs for. Cities override SHOP_DEFAULT_DUTIES in config.
DEFAULT_DUTIES: list[dict[str, str]] = [
    {"name": "包市容整洁", "detail": "门前无乱设摊点、乱搭建、乱张贴、乱涂写、乱吊挂、乱堆放"},
    {"name": "包环境卫生", "detail": "门前无裸露垃圾、粪便、污水，无污迹，无渣土，垃圾定点投放"},
    {"name": "包秩序良好", "detail": "门前不占道经营，车辆停放有序，冬季及时清除门前积雪"},
]
STATUS_MOVES: dict[str, tuple[set[ShopStatus], ShopStatus]] = {
    "suspend": ({ShopStatus.ACTIVE}, ShopStatus.SUSPENDED),
    "resume": ({ShopStatus.SUSPENDED}, ShopStatus.ACTIVE),
    "close": ({ShopStatus.ACTIVE, ShopStatus.SUSPENDED}, ShopStatus.CLOSED),
}
EDITABLE = ("name", "address", "owner_name", "owner_phone", "business_hours", "duties")


# -- masking (every public view) ---------------------------------------------------------------


def mask_name(name: str | None) -> str:
    """An owner's name for the public: the surname and two stars ("张**"), length hidden."""
    name = (name or "").strip()
    return f"{name[0]}**" if name else ""


def mask_phone(phone: str | None) -> str:
    """A phone number for the public: first 3 and last 4 digits ("138****8000")."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if len(digits) < 8:
        return "****" if digits else ""
    return f"{digits[:3]}****{digits[-4:]}"


def default_duties() -> list[dict[str, str]]:
    """The city's default 门前三包 duties for a new shop (a fresh copy)."""
    duties = current_app.config.get("SHOP_DEFAULT_DUTIES") or DEFAULT_DUTIES
    return [dict(d) for d in duties]


# -- industries --------------------------------------------------------------------------------


def seed_industries(path: Path = INDUSTRIES_CSV) -> int:
    """Add the industries of the CSV that do not exist yet (admins' renames are kept)."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    existing = set(db.session.scalars(select(Industry.code)))
    added = [Industry(code=r["code"].strip(), name=r["name"].strip(), is_active=True)
             for r in rows if r["code"].strip() not in existing]  # fmt: skip
    db.session.add_all(added)
    db.session.flush()
    return len(added)


def list_industries(active: bool | None = None) -> list[Industry]:
    """Industries by id, optionally only active or inactive ones."""
    query = select(Industry).order_by(Industry.id)
    if active is not None:
        query = query.where(Industry.is_active.is_(active))
    return list(db.session.scalars(query))


def get_industry(industry_id: int) -> Industry:
    """An industry by id, 404 otherwise."""
    industry = db.session.get(Industry, industry_id)
    if industry is None:
        raise NotFound("未找到该行业", code="industry_not_found")
    return industry


def create_industry(code: str, name: str, actor: StaffUser) -> Industry:
    """Add an industry; 409 if the code exists."""
    if db.session.scalar(select(Industry.id).where(Industry.code == code)):
        raise Conflict("行业编码已存在", code="industry_exists")
    industry = Industry(code=code, name=name, is_active=True)
    db.session.add(industry)
    db.session.flush()
    audit.record("industry.create", "industry", industry.id, actor=actor, code=code, name=name)
    return industry


def update_industry(industry_id: int, changes: dict[str, Any], actor: StaffUser) -> Industry:
    """Rename or (de)activate an industry (never deleted: shops keep pointing at it)."""
    industry = get_industry(industry_id)
    before = {k: getattr(industry, k) for k in changes}
    for key, value in changes.items():
        setattr(industry, key, value)
    db.session.flush()
    audit.record("industry.update", "industry", industry.id, actor=actor,
                 before=before, after=changes)  # fmt: skip
    return industry


def industry_lookup() -> dict[str, int]:
    """Active industries by code and by name, for imports ("catering" or "餐饮")."""
    rows = db.session.execute(
        select(Industry.id, Industry.code, Industry.name).where(Industry.is_active.is_(True))
    ).all()
    return {key: row.id for row in rows for key in (row.code, row.name)}


# -- reading -----------------------------------------------------------------------------------


def get_shop_by_id(shop_id: int) -> Shop | None:
    """A shop by id, or None."""
    return db.session.get(Shop, shop_id)


def get_shop_by_credit_code(code: str) -> Shop | None:
    """A shop by its 统一社会信用代码, or None."""
    return db.session.scalar(select(Shop).where(Shop.credit_code == code))


def scoped(query: Select, staff: StaffUser) -> Select:
    """Limit a shop query to what this staff account may see (a district or street staff only
    sees shops in the regions its department is responsible for)."""
    return scope.restrict(query, staff, region=Shop.street_region_id, district=Shop.district_code)


def ensure_in_scope(district_code: str | None, street_id: int | None, staff: StaffUser) -> None:
    """403 unless a shop at this district/street is within the account's scope."""
    scope.require(staff, "该商户不在您的管辖范围内",
                  region_id=street_id, district_code=district_code)  # fmt: skip


def shop_for_staff(shop_id: int, staff: StaffUser) -> Shop:
    """A shop this account may see: 404 if none, 403 if outside the account's districts."""
    shop = get_shop_by_id(shop_id)
    if shop is None:
        raise NotFound("未找到该商户", code="shop_not_found")
    ensure_in_scope(shop.district_code, shop.street_region_id, staff)
    return shop


def search(filters: dict[str, Any], staff: StaffUser, page: int = 1, per_page: int = 20):
    """A page of shops matching the filters within the account's scope; (shops, total)."""
    query = scoped(_filtered(select(Shop), filters), staff)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(
        query.options(selectinload(Shop.industry))
        .order_by(Shop.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(items), total or 0


def _filtered(query: Select, f: dict[str, Any]) -> Select:
    if f.get("q"):
        query = query.where(Shop.name.contains(f["q"], autoescape=True))
    if f.get("credit_code"):
        query = query.where(Shop.credit_code.startswith(f["credit_code"].upper(), autoescape=True))
    if f.get("industry"):
        industry = select(Industry.id).where(Industry.code == f["industry"])
        query = query.where(Shop.industry_id.in_(industry))
    if f.get("district"):
        query = query.where(Shop.district_code == f["district"])
    if f.get("status"):
        query = query.where(Shop.status == ShopStatus(f["status"]))
    return query


# -- shop-bound reports (the reports feature calls this) ----------------------------------------


def shop_for_report(shop_id: int | None) -> Shop:
    """The shop a citizen's report may be bound to (一店一码); ValidationFailed (422) unless it
    exists and trades."""
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


def resolve_plate(raw_code: str) -> tuple[ShopCode, Shop] | None:
    """(plate, shop) for a scanned or typed plate code (any case, Crockford aliases), or None;
    ``plate.status`` tells a replaced code, ``shop.status`` a suspended or closed shop."""
    return codes.resolve(raw_code)


def report_binding(code: str) -> dict[str, Any] | None:
    """For a report form opened from a plate's page: the shop the report will be about
    (id, name, address, code), or why it cannot be bound (``error``, shown to the citizen)."""
    if not code:
        return None
    found = resolve_plate(code)
    if found is None or found[0].status != CodeStatus.ACTIVE:
        return {"error": "未找到该店铺，或店铺二维码已更换。您仍可上报问题，但不会关联店铺。"}
    plate, shop = found
    if shop.status != ShopStatus.ACTIVE:
        return {"name": shop.name,
                "error": f"该店铺{shop.status.label}，暂不受理针对该店铺的反映。"}  # fmt: skip
    return {"id": shop.id, "name": shop.name, "address": shop.address, "code": plate.code}


def heat_reference_kx() -> float | None:
    """Metres per degree of longitude of the shop heat map's grid (None without shops), so the
    case heat map counts in the very same cells."""
    return heatmap.reference_kx()


def recent_reports(shop_id: int, limit: int = 10) -> list[Report]:
    """The newest reports about a shop."""
    query = select(Report).where(Report.shop_id == shop_id).order_by(Report.id.desc())
    return list(db.session.scalars(query.options(selectinload(Report.category)).limit(limit)))


# -- writing -----------------------------------------------------------------------------------


def _industry_id(code: str) -> int:
    industry_id = db.session.scalar(
        select(Industry.id).where(Industry.code == code, Industry.is_active.is_(True))
    )
    if industry_id is None:
        raise ValidationFailed(fields={"industry": ["行业不存在或已停用"]})
    return industry_id


def _place(lat: float, lng: float, coord_sys: str) -> Place:
    try:
        return regions.place(lat, lng, coord_sys)
    except regions.OutsideCity as exc:
        raise ValidationFailed(fields={"location": [str(exc)]}) from None


def place_columns(place: Place, coord_sys: str) -> dict[str, Any]:
    """A placement as Shop column values."""
    return {
        "lat": place.lat,
        "lng": place.lng,
        "coord_sys_in": coord_sys,
        "district_code": place.district_code,
        "street_region_id": place.street_region_id,
    }


def issue_plate_code(shop: Shop) -> None:
    """Give a new shop its plate code (shops.codes)."""
    codes.issue_code(shop)


def create_shop(data: dict[str, Any], actor: StaffUser, source: str = "staff") -> Shop:
    """Register a shop: 409 if its credit code exists, 422 outside the city or the staff's scope."""
    if get_shop_by_credit_code(data["credit_code"]) is not None:
        raise Conflict("该统一社会信用代码已登记", code="credit_code_exists")
    place = _place(data["lat"], data["lng"], data.get("coord_sys", "gcj02"))
    ensure_in_scope(place.district_code, place.street_region_id, actor)
    shop = Shop(
        **{k: data[k] for k in EDITABLE if k in data},
        credit_code=data["credit_code"],
        industry_id=_industry_id(data["industry"]),
        **place_columns(place, data.get("coord_sys", "gcj02")),
        status=ShopStatus(data.get("status", "active")), source=source,
    )  # fmt: skip
    if "duties" not in data:
        shop.duties = default_duties()
    db.session.add(shop)
    db.session.flush()
    issue_plate_code(shop)
    audit.record("shop.create", "shop", shop.id, actor=actor, credit_code=shop.credit_code,
                 name=shop.name, district=shop.district_code)  # fmt: skip
    log.info("shop %s created by %s", shop.id, actor.username)
    return shop


def update_shop(shop: Shop, data: dict[str, Any], actor: StaffUser) -> Shop:
    """Edit a shop's details; a moved shop is placed again (and must stay in the staff's scope)."""
    if "version" in data and data["version"] != shop.version:
        raise Conflict("商户信息已被他人修改，请刷新后重试", code="stale_version")
    changes: dict[str, Any] = {k: data[k] for k in EDITABLE if k in data}
    if "industry" in data:
        changes["industry_id"] = _industry_id(data["industry"])
    if "lat" in data and "lng" in data:
        coord_sys = data.get("coord_sys", "gcj02")
        place = _place(data["lat"], data["lng"], coord_sys)
        ensure_in_scope(place.district_code, place.street_region_id, actor)
        changes.update(place_columns(place, coord_sys))
    changed = {k: v for k, v in changes.items() if getattr(shop, k) != v}
    before = {k: getattr(shop, k) for k in changed}
    for key, value in changed.items():
        setattr(shop, key, value)
    db.session.flush()
    if changed:
        audit.record("shop.update", "shop", shop.id, actor=actor,
                     before=_audit_safe(before), after=_audit_safe(changed))  # fmt: skip
    return shop


def _audit_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Audit details as JSON-friendly values (the owner's phone is staff data, kept whole)."""
    return {k: (v.value if isinstance(v, ShopStatus) else v) for k, v in values.items()}


def change_status(shop: Shop, action: str, reason: str, actor: StaffUser) -> Shop:
    """Suspend, resume or close a shop with a reason; 409 if its status does not allow it."""
    allowed, target = STATUS_MOVES[action]
    if shop.status not in allowed:
        raise InvalidTransition(f"商户当前状态为“{shop.status.label}”，不能执行该操作")
    before = shop.status
    shop.status = target
    db.session.flush()
    audit.record(f"shop.{action}", "shop", shop.id, actor=actor, reason=reason,
                 before=before.value, after=target.value)  # fmt: skip
    log.info("shop %s %s by %s: %s", shop.id, action, actor.username, reason)
    return shop


def issue_plate_codes(shop_ids: list[int]) -> int:
    """Plate codes for many new shops (imports, the demo seed) through the bulk
    ``shops.codes.issue_missing``; how many were issued."""
    issued = 0
    for start in range(0, len(shop_ids), 5000):  # bounded IN lists
        issued += codes.issue_missing(shop_ids[start : start + 5000])
    return issued
