"""A location sent to the public account (MsgType ``location``; Location_X = latitude,
Location_Y = longitude, GCJ-02 as WeChat's location picker gives them) outside a report
conversation: the handler (order 60) answers with the nearest public toilets and parking places,
from this process's nearest-search index (services_nearby.nearest: no database read unless the
facilities changed), each with its distance, and a link to the H5 list around the point.
"""

from __future__ import annotations

import json
import logging
import math
from urllib.parse import urlencode

from flask import current_app

from app.errors import NotFound
from services_nearby.nearest import search_nearby
from wechat.models import MpInboundMessage
from wechat.mp_callback import Inbound

log = logging.getLogger(__name__)

KINDS = (("toilet", "公共厕所"), ("parking", "停车场"))
PER_KIND = 3


def _number(fields: dict, name: str, bound: float) -> float | None:
    try:
        value = float(fields.get(name))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and -bound <= value <= bound else None


def distance_text(metres: float) -> str:
    """ "350 米" or "1.2 公里"."""
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} 米" if metres >= 100 else f"{metres:.0f} 米"
    return f"{metres / 1000:.1f} 公里"


def nearest_text(lat: float, lng: float, label: str | None = None) -> str:
    """The reply: per kind the nearest few with distances, and the H5 list's link."""
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    query = urlencode({"lat": f"{lat:.6f}", "lng": f"{lng:.6f}", "coord_sys": "gcj02"})
    lines = [f"您发送的位置：{label}" if label else "您发送的位置附近："]
    for kind, name in KINDS:
        args = {"kind": kind, "lat": lat, "lng": lng, "coord_sys": "gcj02", "limit": PER_KIND,
                "radius": None, "open_now": False}  # fmt: skip
        try:
            answer = search_nearby(args)
        except NotFound:  # this deployment has no such kind
            continue
        hits = answer.found.hits()
        lines.append("")
        lines.append(f"【最近的{name}】")
        if answer.notice is not None:
            lines.append(answer.notice.message)
        if not hits:
            lines.append(f"附近暂无{name}信息")
        for i, hit in enumerate(hits, 1):
            shown = json.loads(hit.view)
            lines.append(f"{i}. {shown.get('name') or name}（{distance_text(hit.distance_m)}）")
        lines.append(f"查看地图和导航：{base}/nearby/{kind}?{query}")
    return "\n".join(lines)


def answer_location(msg: Inbound, row: MpInboundMessage) -> str | None:
    """Handler (order 60): a location message's nearest toilets and parking."""
    if msg.msg_type != "location":
        return None
    lat = _number(msg.fields, "Location_X", 90)
    lng = _number(msg.fields, "Location_Y", 180)
    if lat is None or lng is None:
        return "未能识别您发送的位置，请重新发送。"
    label = msg.fields.get("Label")
    return nearest_text(lat, lng, label.strip()[:60] if isinstance(label, str) else None)
