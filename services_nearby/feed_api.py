"""``POST /api/v1/nearby/feed/parking``: parking systems push live free spaces with their feed key
(the checks and the write are in :mod:`services_nearby.feed`).

A feed is limited per key (``RATELIMIT_NEARBY_FEED``), not per address: a parking system may post
from several hosts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import current_app, jsonify, request
from flask_smorest import Blueprint

from app.apispec import document_errors, document_only
from app.db import commit
from app.errors import ValidationFailed
from app.ratelimits import enforce
from services_nearby.feed import MAX_UPDATES, apply_updates, current_feed
from services_nearby.models import FacilityFeed
from services_nearby.schemas import FeedIn, FeedOut

log = logging.getLogger(__name__)

blp = Blueprint(
    "nearby_feed", __name__, url_prefix="/api/v1/nearby/feed", description="停车空位数据推送"
)

DEFAULT_LIMIT = "600/minute"  # per feed; config RATELIMIT_NEARBY_FEED


def check_rate(feed: FacilityFeed) -> None:
    """429 when the feed sent more than ``RATELIMIT_NEARBY_FEED`` batches (per feed, not per
    address: a parking system may post from several hosts)."""
    limit = current_app.config.get("RATELIMIT_NEARBY_FEED") or DEFAULT_LIMIT
    enforce(limit, "nearby_feed", feed.id)


def _items() -> list[Any]:
    """The ``updates`` list of the JSON body; 422 when the body itself is malformed."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("updates"), list):
        raise ValidationFailed(fields={"updates": ["请求体应为 JSON 对象，包含 updates 列表"]})
    items = body["updates"]
    if not 1 <= len(items) <= MAX_UPDATES:
        raise ValidationFailed(fields={"updates": [f"每次应提交 1 到 {MAX_UPDATES} 条更新"]})
    return items


@blp.route("/parking", methods=["POST"], endpoint="ParkingFeed")
@document_only(
    blp.arguments(FeedIn),
    blp.response(200, FeedOut),
    document_errors(blp, 401, 422, 429),
)
def parking_feed():
    """Push free spaces of the feed's facilities (``Authorization: Bearer fk_...``): each update
    names a facility by ``id`` or ``external_id``; refused ones come back by index, stale ones
    (not newer than what is stored) are ignored, so retries are safe."""
    feed = current_feed()
    check_rate(feed)
    out = apply_updates(feed, _items(), datetime.now(UTC))
    commit()
    log.info("feed %s: %d applied, %d stale, %d refused", feed.name, out.applied,
             out.ignored_stale, len(out.errors or []))  # fmt: skip
    return jsonify(applied=out.applied, ignored_stale=out.ignored_stale, errors=out.errors or [])
