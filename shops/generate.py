"""A GENERATED demo registry: 50,366 invented shops inside the real Shenyang district boundaries.

Nothing here describes a real shop: names, owners, phones, addresses and credit codes are drawn
from fixed lists with a fixed seed (the credit codes are valid by GB 32100 but invented; the phone
numbers are random). Rows carry ``source="generated"``. Shops are denser in the urban districts
和平/沈河/铁西/皇姑/大东; in the large outer districts they cluster around the district's centre.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select

from app import changes
from app.db import utcnow
from app.extensions import db
from app.geo import demo, regions
from shops import credit_code, service
from shops.models import SHOPS_TOPIC, Shop, ShopStatus

SHENYANG_SHOPS = 50_366  # the figure Shenyang published for its 一店一码 plates
SEED = 20_260_504
SOURCE = "generated"
INDUSTRIES: dict[str, tuple[float, tuple[str, ...], str]] = {
    "catering": (26, ("饺子馆", "抻面馆", "烧烤", "麻辣烫", "鸡架店", "家常菜馆", "冷面馆",
                      "包子铺", "火锅", "快餐"), "10:00-22:00"),
    "retail": (10, ("百货商店", "日杂店", "文具店", "礼品店", "精品店"), "08:30-20:00"),
    "supermarket": (5, ("超市", "生活超市", "购物广场"), "07:30-21:30"),
    "convenience": (8, ("便利店", "24小时便利店"), "00:00-24:00"),
    "fresh_produce": (7, ("水果店", "果蔬超市", "生鲜店", "粮油店"), "06:30-20:30"),
    "auto_repair": (5, ("汽车维修中心", "汽修厂", "汽车快修", "轮胎店", "洗车行"), "08:00-18:00"),
    "beauty": (9, ("美发沙龙", "理发店", "美容院", "美甲店"), "09:00-21:00"),
    "laundry": (2, ("干洗店", "洗衣房"), "08:00-19:00"),
    "hardware": (5, ("五金店", "建材商店", "水暖五金", "装饰材料店"), "07:30-17:30"),
    "pharmacy": (4, ("大药房", "药店", "医药连锁"), "08:00-21:00"),
    "internet_cafe": (1, ("网吧", "网咖", "电竞馆"), "00:00-24:00"),
    "hotel": (3, ("宾馆", "快捷酒店", "旅店", "公寓"), "00:00-24:00"),
    "clothing": (6, ("服装店", "鞋店", "童装店"), "09:30-21:00"),
    "electronics": (3, ("手机店", "通讯城", "数码店"), "09:00-20:30"),
    "appliance_repair": (1, ("家电维修部", "维修部"), "08:30-18:00"),
    "tobacco_liquor": (3, ("烟酒行", "茶行", "名烟名酒"), "08:00-21:00"),
    "bakery": (2, ("面包房", "蛋糕店", "糕点铺"), "07:00-20:00"),
    "express": (1, ("快递驿站", "菜鸟驿站"), "08:00-20:00"),
}  # fmt: skip
PREFIXES = (
    "鑫源", "福满", "宏达", "金鼎", "顺发", "佳佳", "兴隆", "百顺", "盛京", "老北市", "天和",
    "聚德", "万家", "新世纪", "好运来", "恒丰", "永和", "瑞祥", "大众", "友谊", "金丰", "福瑞",
    "安康", "嘉禾", "隆盛", "众鑫", "富民", "君悦", "东顺", "德胜", "龙城", "北方", "辽沈",
)  # fmt: skip
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红鹏辉玲宇浩凯健俊帆志淑珍丹亮成"
STATUS_WEIGHTS = ((ShopStatus.ACTIVE, 96.5), (ShopStatus.SUSPENDED, 2.5), (ShopStatus.CLOSED, 1.0))


class _Names:
    """Draws invented names, owners, phones and credit codes from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.codes: set[str] = set()
        self.industries = list(INDUSTRIES)
        self.industry_weights = [INDUSTRIES[c][0] for c in self.industries]

    def industry(self) -> str:
        return self.rng.choices(self.industries, self.industry_weights)[0]

    def shop_name(self, industry: str, road: str) -> str:
        ending = self.rng.choice(INDUSTRIES[industry][1])
        if self.rng.random() < 0.35:
            head = f"{self.rng.choice(SURNAMES)}记"
        else:
            head = self.rng.choice(PREFIXES)
        branch = f"（{road}店）" if self.rng.random() < 0.15 else ""
        return f"{head}{ending}{branch}"

    def owner(self) -> tuple[str, str]:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        phone = f"1{self.rng.choice('3456789')}{self.rng.randrange(10**9):09d}"
        return self.rng.choice(SURNAMES) + given, phone

    def credit_code(self, division: str) -> str:
        kind = "2" if self.rng.random() < 0.72 else "1"  # 个体工商户 or 企业
        while True:
            body = "MA" + "".join(self.rng.choices(credit_code.ALPHABET, k=6))
            code = credit_code.build("9", kind, division, body)
            if code not in self.codes:
                self.codes.add(code)
                return code


def generate_shops(total: int = SHENYANG_SHOPS, seed: int = SEED) -> list[dict[str, Any]]:
    """``total`` invented shops as plain dicts (industry by code, GCJ-02 points); deterministic."""
    rng = random.Random(seed)
    names = _Names(rng)
    statuses, status_weights = zip(*STATUS_WEIGHTS, strict=True)
    counts = demo.district_counts(total)
    rows = []
    for d in sorted(demo.load_districts(), key=lambda x: x.code):
        for _ in range(counts[d.code]):
            industry, road = names.industry(), rng.choice(d.roads)
            owner_name, owner_phone = names.owner()
            lat, lng = demo.sample_point(rng, d)
            rows.append({
                "name": names.shop_name(industry, road),
                "industry": industry,
                "credit_code": names.credit_code(d.code),
                "address": f"沈阳市{d.name}{road}{rng.randint(1, 320)}号",
                "lat": lat, "lng": lng, "coord_sys": "gcj02", "district_code": d.code,
                "owner_name": owner_name, "owner_phone": owner_phone,
                "business_hours": INDUSTRIES[industry][2],
                "status": rng.choices(statuses, status_weights)[0],
            })  # fmt: skip
    return rows


def seed_generated_shops(
    total: int = SHENYANG_SHOPS, seed: int = SEED, progress: Callable[[int], None] | None = None
) -> int:
    """Insert the generated registry unless any shop exists; how many were inserted. Flushes."""
    if db.session.scalar(select(func.count()).select_from(Shop)):
        return 0
    service.seed_industries()
    industry_ids = service.industry_lookup()
    locator, now, duties = regions.snapshot(), utcnow(), service.default_duties()
    rows = []
    for shop in generate_shops(total, seed):
        place = locator.place(shop["lat"], shop["lng"]) if locator.shapes else None
        rows.append({
            **{k: shop[k] for k in ("name", "credit_code", "address", "owner_name",
                                    "owner_phone", "business_hours", "status")},
            "industry_id": industry_ids[shop["industry"]],
            "lat": shop["lat"], "lng": shop["lng"], "coord_sys_in": "gcj02",
            "district_code": place.district_code if place else shop["district_code"],
            "street_region_id": place.street_region_id if place else None,
            "duties": duties, "source": SOURCE, "created_at": now, "updated_at": now,
            "version": 1,
        })  # fmt: skip
    changes.touch(SHOPS_TOPIC)
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(Shop.__table__), rows[start : start + 2000])
        if progress:
            progress(len(rows[start : start + 2000]))
    ids = list(db.session.scalars(select(Shop.id).where(Shop.source == SOURCE)))
    service.issue_plate_codes(ids)
    return len(rows)
