"""The demo city's geography, shared by the features' GENERATED demo data (shops, facilities):
the real Shenyang districts from the bundled boundary file, a weight and some real road names per
district, and a seeded way to draw a point inside one.

Points are denser in the urban districts 和平/沈河/铁西/皇姑/大东 (drawn uniformly inside their
polygon); in the large outer districts they cluster around the district's representative point
(its towns), spread by :data:`SPREAD_DEG`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.geo import shapes

URBAN = ("210102", "210103", "210104", "210105", "210106")
# District adcode -> (relative weight, roads).
DISTRICTS: dict[str, tuple[float, tuple[str, ...]]] = {
    "210102": (11, ("太原街", "中华路", "南京北街", "北二马路", "三好街", "南五马路", "长白南路")),
    "210103": (11, ("中街路", "青年大街", "北站路", "正阳街", "市府大路", "文艺路", "五爱街")),
    "210104": (8, ("东北大马路", "小河沿路", "滂江街", "大东路", "东陵路", "长安路", "津桥路")),
    "210105": (9, ("黄河南大街", "北陵大街", "昆山西路", "崇山中路", "长江街", "岐山路")),
    "210106": (12, ("兴华北街", "北二西路", "建设大路", "云峰北街", "兴工北街", "卫工街")),
    "210112": (9, ("浑南中路", "全运路", "富民街", "天赐街", "营盘西街", "金卡路")),
    "210114": (7, ("黑山路", "迎宾路", "沈新路", "杨士街", "鸭绿江东街")),
    "210113": (6, ("道义南大街", "蒲河路", "虎石台大街", "正良街")),
    "210111": (5, ("雪莲街", "枫杨路", "海棠街", "迎春街")),
    "210115": (2.5, ("辽中大街", "蒲东街", "茨榆坨街")),
    "210181": (3.5, ("新柳街", "辽河大街", "中央路")),
    "210123": (1.5, ("康平大街", "胜利街")),
    "210124": (1.5, ("法库大街", "东湖街")),
}  # fmt: skip
SPREAD_DEG = 0.035


@dataclass(frozen=True)
class District:
    """A district as the generators sample it."""

    code: str
    name: str
    shape: shapes.Shape
    roads: tuple[str, ...]
    centre: tuple[float, float] | None  # None: sample uniformly (urban)


def load_districts() -> list[District]:
    """The real Shenyang districts from the bundled boundary file (GCJ-02)."""
    pairs = shapes.load_feature_collection(shapes.boundary_path("shenyang"))
    return [
        District(
            props["adcode"],
            props["name"],
            shape,
            DISTRICTS[props["adcode"]][1],
            None if props["adcode"] in URBAN else shapes.representative_point(shape),
        )
        for props, shape in pairs
        if props.get("level") == "district"
    ]


def district_counts(total: int) -> dict[str, int]:
    """How many of ``total`` each district gets: proportional to its weight, summing to
    ``total``."""
    weight = sum(w for w, _ in DISTRICTS.values())
    exact = {code: total * w / weight for code, (w, _) in DISTRICTS.items()}
    counts = {code: int(x) for code, x in exact.items()}
    by_remainder = sorted(exact, key=lambda c: exact[c] - counts[c], reverse=True)
    for code in by_remainder[: total - sum(counts.values())]:
        counts[code] += 1
    return counts


def sample_point(rng: random.Random, d: District) -> tuple[float, float]:
    """A GCJ-02 point inside the district: uniform in town, around the centre outside it."""
    min_lat, min_lng, max_lat, max_lng = d.shape.bbox
    centre = d.centre
    while True:
        if centre is None:
            lat, lng = rng.uniform(min_lat, max_lat), rng.uniform(min_lng, max_lng)
        else:
            lat, lng = rng.gauss(centre[0], SPREAD_DEG), rng.gauss(centre[1], SPREAD_DEG * 1.3)
        if shapes.contains(d.shape, lat, lng):
            return round(lat, 6), round(lng, 6)
