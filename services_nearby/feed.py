"""Live free spaces pushed by parking systems (the endpoint, ``POST /api/v1/nearby/feed/parking``,
is in :mod:`services_nearby.feed_api`): feeds, their keys, and checking and applying a batch.

A feed authenticates with its own key (``Authorization: Bearer fk_...``, created by
``flask nearby create-feed``; only the key's SHA-256 is stored) and may update only the facilities
that name it (``Facility.feed_id``, set by an admin through the staff API's ``feed`` field). A
batch holds 1 to 500 updates; each is checked on its own, so a bad one is reported by its index
without holding back the rest, and the good ones are written in one transaction (one change
number, so the nearest-search index of every process picks them up together).

Retries are harmless: an update whose time is not newer than the stored ``free_spaces_at`` is
ignored and counted as stale. The write is a Core UPDATE that repeats that condition, so two
copies of a batch racing each other cannot move a facility back in time either; it leaves
``version`` alone, so staff editing a lot are not refused because its spaces changed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from app import audit
from app.auth import keys
from app.db import utcnow
from app.errors import Unauthorized
from app.extensions import db
from services_nearby import service
from services_nearby.models import Facility, FacilityFeed, FacilityStatus

KEY_PREFIX = "fk_"
MAX_UPDATES = 500
MAX_AHEAD = timedelta(minutes=5)  # clock skew tolerated on ``at``
MAX_INT = 2**31 - 1


# ---------------------------------------------------------------- feeds and their keys


def create_feed(name: str) -> tuple[FacilityFeed, str]:
    """Register a feed; returns it and its key (shown once). ValueError if the name is taken."""
    if feed_by_name(name) is not None:
        raise ValueError(f"数据源 {name} 已存在")
    key, key_hash = keys.issue(KEY_PREFIX)
    feed = FacilityFeed(name=name, key_hash=key_hash)
    db.session.add(feed)
    db.session.flush()
    return feed, key


def register_feed(name: str, actor_label: str) -> tuple[FacilityFeed, str]:
    """:func:`create_feed`, audited."""
    feed, key = create_feed(name)
    audit.record("facility_feed.create", "facility_feed", feed.id, actor_label=actor_label,
                 name=name)  # fmt: skip
    return feed, key


def disable_feed(name: str, actor_label: str) -> FacilityFeed:
    """Stop a feed's key from working (audited); ValueError if there is no such feed."""
    feed = feed_by_name(name)
    if feed is None:
        raise ValueError(f"数据源 {name} 不存在")
    feed.is_active = False
    audit.record("facility_feed.disable", "facility_feed", feed.id, actor_label=actor_label,
                 name=name)  # fmt: skip
    return feed


def feed_by_name(name: str) -> FacilityFeed | None:
    """A feed by its name, or None."""
    return db.session.scalar(select(FacilityFeed).where(FacilityFeed.name == name))


def current_feed() -> FacilityFeed:
    """The active feed named by the bearer key; 401 invalid_feed_key otherwise."""
    digest = keys.presented(KEY_PREFIX, "数据源密钥无效", "invalid_feed_key")
    feed = db.session.scalar(select(FacilityFeed).where(FacilityFeed.key_hash == digest))
    if feed is None or not feed.is_active or not keys.matches(feed.key_hash, digest):
        raise Unauthorized("数据源密钥无效", code="invalid_feed_key")
    return feed


# ---------------------------------------------------------------- checking one update


@dataclass(frozen=True)
class Update:
    """One well-formed update, not yet matched to a facility."""

    index: int
    id: int | None
    external_id: str | None
    free_spaces: int
    at: datetime  # aware


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _time(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    """(aware time, None) or (None, why it is refused)."""
    example = "应为带时区的 ISO 8601 时间，如 2026-11-21T22:00:00+08:00"
    if not isinstance(value, str):
        return None, example
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, example
    if at.tzinfo is None or at.utcoffset() is None:
        return None, example
    if at - now > MAX_AHEAD:
        return None, "时间不能晚于当前时间 5 分钟以上，请检查设备时钟"
    return at, None


def check_item(index: int, item: Any, now: datetime) -> tuple[Update | None, list[tuple]]:
    """(update, []) for a well-formed item, else (None, [(field, reason), ...])."""
    if not isinstance(item, dict):
        return None, [("_item", "每条更新应为 JSON 对象")]
    errors: list[tuple[str, str]] = []
    fid, ext = item.get("id"), item.get("external_id")
    if (fid is None) == (ext is None):
        errors.append(("id", "id 与 external_id 须提供且只提供一个"))
    elif fid is not None and not (_is_int(fid) and 0 < fid <= MAX_INT):
        errors.append(("id", "应为正整数"))
    elif ext is not None and not (isinstance(ext, str) and 0 < len(ext) <= 64):
        errors.append(("external_id", "应为 1 到 64 个字符的字符串"))
    free = item.get("free_spaces")
    if not (_is_int(free) and 0 <= free <= MAX_INT):
        errors.append(("free_spaces", "应为不小于 0 的整数"))
    at, why = _time(item.get("at"), now)
    if why:
        errors.append(("at", why))
    if errors:
        return None, errors
    return Update(index, fid, ext, free, at), []  # type: ignore[arg-type]


# ---------------------------------------------------------------- applying a batch


@dataclass
class Outcome:
    """What a batch did."""

    applied: int = 0
    ignored_stale: int = 0
    errors: list[dict[str, Any]] | None = None

    def refuse(self, index: int, field: str, reason: str) -> None:
        self.errors = self.errors or []
        self.errors.append({"index": index, "field": field, "reason": reason})


def _targets(feed: FacilityFeed, updates: list[Update]) -> tuple[dict, dict]:
    """This feed's facilities named by the updates: by id, and by external id (lists)."""
    ids = {u.id for u in updates if u.id is not None}
    exts = {u.external_id for u in updates if u.external_id is not None}
    found = db.session.execute(
        select(Facility.id, Facility.external_id, Facility.capacity, Facility.status,
               Facility.free_spaces_at)
        .where(Facility.feed_id == feed.id,
               or_(Facility.id.in_(ids), Facility.external_id.in_(exts)))
    ).all()  # fmt: skip
    by_id = {r.id: r for r in found}
    by_ext: dict[str, list] = {}
    for r in found:
        if r.external_id in exts:
            by_ext.setdefault(r.external_id, []).append(r)
    return by_id, by_ext


def apply_updates(feed: FacilityFeed, items: list[Any], now: datetime) -> Outcome:
    """Check every item, match it to one of the feed's facilities and write the newer ones
    (one statement, one change number). Flushes; the caller commits."""
    out = Outcome()
    good: list[Update] = []
    for i, item in enumerate(items):
        update_, errors = check_item(i, item, now)
        for field, reason in errors:
            out.refuse(i, field, reason)
        if update_ is not None:
            good.append(update_)
    by_id, by_ext = _targets(feed, good) if good else ({}, {})
    latest: dict[int, datetime | None] = {r.id: r.free_spaces_at for r in by_id.values()}
    rows: list[dict[str, Any]] = []
    for u in good:
        row = _match(u, by_id, by_ext, out)
        if row is None:
            continue
        if row.capacity is not None and u.free_spaces > row.capacity:
            out.refuse(u.index, "free_spaces", f"空位数不能大于容量（{row.capacity}）")
            continue
        stored = latest.get(row.id, row.free_spaces_at)
        if stored is not None and u.at <= stored:
            out.ignored_stale += 1
            continue
        latest[row.id] = u.at
        rows.append({"b_id": row.id, "b_free": u.free_spaces, "b_at": u.at})
    if rows:
        _write(feed, rows)
    out.applied = len(rows)
    if out.errors:
        out.errors.sort(key=lambda e: e["index"])  # stable: an item's own order is kept
    feed.last_seen_at = utcnow()
    db.session.flush()
    return out


def _match(u: Update, by_id: dict, by_ext: dict, out: Outcome) -> Any:
    """The facility an update names, or None (the refusal recorded)."""
    field = "id" if u.id is not None else "external_id"
    rows = [by_id[u.id]] if u.id in by_id else by_ext.get(u.external_id or "", [])
    if not rows:
        out.refuse(u.index, field, "设施不存在，或不由本数据源更新")
        return None
    if len(rows) > 1:
        out.refuse(u.index, field, "该编号对应多个设施，请改用 id")
        return None
    if rows[0].status != FacilityStatus.ACTIVE:
        out.refuse(u.index, field, "该设施已撤销")
        return None
    return rows[0]


def _write(feed: FacilityFeed, rows: list[dict[str, Any]]) -> None:
    """One UPDATE per facility (executemany), only if still the feed's and still newer."""
    table = Facility.__table__
    seq = service.next_seq()
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.feed_id == feed.id,
               or_(table.c.free_spaces_at.is_(None), table.c.free_spaces_at < bindparam("b_at")))
        .values(free_spaces=bindparam("b_free"), free_spaces_at=bindparam("b_at"), seq=seq)
    )  # fmt: skip
    db.session.execute(statement, rows)
