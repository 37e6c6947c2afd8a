"""One shop, one QR code (一店一码): the registry, industries and the plate codes with history."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app import changes
from app.db import enum_column, utcnow
from app.extensions import db
from app.geo.models import Region
from reports.models import Category


class ShopStatus(enum.StrEnum):
    """Whether a shop trades."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"active": "正常营业", "suspended": "暂停营业", "closed": "已关闭"}[self.value]


class CodeStatus(enum.StrEnum):
    """A plate code is active until it is revoked (a reissue revokes the old one)."""

    ACTIVE = "active"
    REVOKED = "revoked"


class Industry(db.Model):
    """An industry (catering, retail, auto repair ...): an editable list."""

    __tablename__ = "industries"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(default=True)


class Shop(db.Model):
    """A registered shop. Owner name and phone are stored and never shown unmasked in public."""

    __tablename__ = "shops"
    __table_args__ = (
        Index("ix_shops_industry_district", "industry_id", "district_code"),
        Index("ix_shops_lat_lng", "lat", "lng"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    industry_id: Mapped[int] = mapped_column(ForeignKey("industries.id"))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Double)  # GCJ-02
    lng: Mapped[float] = mapped_column(Double)
    coord_sys_in: Mapped[str] = mapped_column(String(8), default="gcj02")
    district_code: Mapped[str | None] = mapped_column(String(32), index=True)
    street_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    owner_name: Mapped[str] = mapped_column(String(64))
    owner_phone: Mapped[str] = mapped_column(String(20))
    business_hours: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[ShopStatus] = mapped_column(enum_column(ShopStatus, 16), index=True)
    # 门前三包: the frontage duties, e.g. ["市容整洁", "环境卫生", "秩序良好"] with details.
    duties: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(32), default="import")  # import | generated | staff
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    version: Mapped[int] = mapped_column(default=1)

    industry: Mapped[Industry] = relationship()
    codes: Mapped[list[ShopCode]] = relationship(back_populates="shop", order_by="ShopCode.id")

    __mapper_args__ = {"version_id_col": version}


class ShopCode(db.Model):
    """A plate code: short, not sequential, never reused. Revoked codes keep pointing at their
    shop so a scan answers "this code was replaced" instead of showing another shop."""

    __tablename__ = "shop_codes"
    __table_args__ = (
        UniqueConstraint("code"),
        # At most one active code per shop, whatever runs at once: ``active`` is True while the
        # code is active and NULL once revoked, and NULLs never collide in a unique index.
        Index("uq_shop_codes_shop_id_active", "shop_id", "active", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    status: Mapped[CodeStatus] = mapped_column(enum_column(CodeStatus, 8))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(200))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("shop_codes.id"))
    # Mini-program code image (wxa/getwxacodeunlimit), stored once generated; a storage key.
    wxacode_key: Mapped[str | None] = mapped_column(String(200))
    # True while active, NULL once revoked: kept in step with ``status`` (below) for the index.
    active: Mapped[bool | None]

    shop: Mapped[Shop] = relationship(back_populates="codes")
    replaced_by: Mapped[ShopCode | None] = relationship(remote_side=[id])

    @validates("status")
    def _mark_active(self, _key: str, status: CodeStatus) -> CodeStatus:
        self.active = True if status == CodeStatus.ACTIVE else None
        return status


# Whatever a cached shop view or the heat map is built from: one counter says when it changed.
SHOPS_TOPIC = "shops"


changes.watch(SHOPS_TOPIC, Shop, ShopCode, Industry, Category, Region)
