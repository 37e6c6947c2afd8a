"""Plate codes: short, random, never reused; revoke and reissue keep the whole history.

A code is 8 symbols of Crockford's base32 (digits and capitals without I, L, O, U): 32^8 ≈ 1.1e12
values, so at two million codes a new draw collides about once in 500,000 and a guessed code hits
a shop about once in 20 million. Codes are stored upper-case and matched case-insensitively (with
Crockford's aliases O -> 0, I/L -> 1), which lets the plate URL use the QR alphanumeric mode.
Every code ever issued stays in ``shop_codes``, so the unique constraint alone prevents reuse.

Services flush, never commit; reissues add an audit row to the caller's transaction.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import Select, func, insert, select
from sqlalchemy.exc import IntegrityError

from app import audit, changes
from app.db import utcnow
from app.errors import Conflict
from app.extensions import db
from app.storage import get_storage
from shops.models import SHOPS_TOPIC, CodeStatus, Shop, ShopCode, ShopStatus
from wechat.wxacode import get_wxacode_unlimit, image_type

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 8
MAX_ATTEMPTS = 8
CODE_RE = re.compile(rf"[{ALPHABET}]{{{CODE_LENGTH}}}")
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Characters of the QR alphanumeric mode (ISO/IEC 18004 table 5).
QR_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def random_code() -> str:
    """A fresh random code (not yet checked against the table)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize(raw: str) -> str | None:
    """The canonical form of a typed or scanned code, or None if it cannot be one."""
    code = (raw or "").strip().upper().translate(_ALIASES)
    return code if CODE_RE.fullmatch(code) else None


def plate_url(code: str) -> str:
    """The URL a plate's QR encodes: ``{PUBLIC_BASE_URL}/s/{code}``, upper-cased when it can be.

    Scheme and host are case-insensitive (RFC 3986) and the public route accepts ``/S/`` and any
    case of the code, so an all-capital URL (QR alphanumeric mode, one version smaller) means the
    same. It is used when PUBLIC_BASE_URL has no path and SHOP_QR_UPPERCASE is on.
    """
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    url = f"{base}/s/{code}"
    if current_app.config["SHOP_QR_UPPERCASE"] and _can_uppercase(base):
        return url.upper()
    return url


def _can_uppercase(base: str) -> bool:
    parts = urlsplit(base)
    return not parts.path.strip("/") and set(base.upper()) <= QR_ALNUM


def _insert_code(shop: Shop) -> ShopCode:
    """A new active code for ``shop``, retried on the (rare) collision of a drawn code. 409 if
    the shop got an active code meanwhile (the unique index on shop and active marker)."""
    if shop.id is None:
        db.session.add(shop)
        db.session.flush()
    for _ in range(MAX_ATTEMPTS):
        row = ShopCode(code=random_code(), shop_id=shop.id, status=CodeStatus.ACTIVE)
        try:
            with db.session.begin_nested():
                db.session.add(row)
                db.session.flush()
            return row
        except IntegrityError:
            if row in db.session:
                db.session.expunge(row)
            if _active_codes(shop):  # not a drawn-code collision: a concurrent issue won
                raise Conflict(REPLACED_MESSAGE, code="code_already_replaced") from None
    raise RuntimeError("could not draw an unused shop code")  # pragma: no cover


REPLACED_MESSAGE = "该店铺的二维码刚刚已重新生成，请刷新页面查看新编号"


def active_code(shop: Shop) -> ShopCode | None:
    """The shop's active code, if it has one."""
    return db.session.scalar(
        select(ShopCode)
        .where(ShopCode.shop_id == shop.id, ShopCode.status == CodeStatus.ACTIVE)
        .order_by(ShopCode.id.desc())
        .limit(1)
    )


def issue_code(shop: Shop) -> ShopCode:
    """The shop's active code, issuing one first if it has none (safe to call again, and at
    once: the shop row is locked while it looks)."""
    if shop.id is not None:
        _lock_shop(shop)
        existing = _active_codes(shop)
        if existing:
            return existing[-1]
    return _insert_code(shop)


def revoke_and_reissue(
    shop: Shop,
    reason: str,
    actor: object = None,
    *,
    actor_label: str | None = None,
    replaces: str | None = None,
) -> ShopCode:
    """Revoke the shop's active code and issue a new one; 409 for a closed shop, and 409 when
    ``replaces`` (the code the caller saw) is no longer the active one. Audited.

    Concurrent calls for one shop run one after the other: the shop row is locked and re-read,
    and the active codes are read with a locking read (the latest committed rows, not the
    transaction's snapshot, which on MariaDB would still show a code another call just
    revoked). The unique index on (shop_id, active) is the last guarantee."""
    _lock_shop(shop)
    if shop.status == ShopStatus.CLOSED:
        raise Conflict("商户已关闭，不能重新发码", code="shop_closed")
    old = _active_codes(shop)
    if replaces is not None and normalize(replaces) not in {c.code for c in old}:
        raise Conflict(REPLACED_MESSAGE, code="code_already_replaced")
    now = utcnow()
    for code in old:  # revoked before the new code exists: the unique index allows one active
        code.status, code.revoked_at, code.revoke_reason = CodeStatus.REVOKED, now, reason[:200]
    db.session.flush()
    new = _insert_code(shop)
    for code in old:
        code.replaced_by = new
    db.session.flush()
    audit.record(
        "shop.code_reissued",
        "shop",
        shop.id,
        actor=actor,
        actor_label=actor_label,
        old=[c.code for c in old],
        new=new.code,
        reason=reason,
    )
    return new


def replaced_codes(new: ShopCode) -> list[str]:
    """The codes a reissue revoked in favour of ``new``."""
    return list(
        db.session.scalars(
            select(ShopCode.code).where(ShopCode.replaced_by_id == new.id).order_by(ShopCode.id)
        )
    )


def _lock_shop(shop: Shop) -> None:
    """Serialise code changes of one shop and re-read it (its status may have changed since the
    request read it): a row lock on MariaDB; on SQLite a writing request holds the file's write
    lock from its first statement (app.dbsetup). Pending changes are flushed first, so the
    refresh cannot drop them."""
    db.session.flush()
    db.session.refresh(shop, ["status", "version"], with_for_update=True)


def _active_codes(shop: Shop) -> list[ShopCode]:
    """The shop's active codes as committed now (a locking read), oldest first."""
    return list(
        db.session.scalars(
            select(ShopCode)
            .where(ShopCode.shop_id == shop.id, ShopCode.status == CodeStatus.ACTIVE)
            .order_by(ShopCode.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def resolve(raw: str) -> tuple[ShopCode, Shop] | None:
    """(code, shop) for a scanned code, or None if unknown. ``code.status`` tells active from
    revoked ("this code was replaced"); ``shop.status`` tells suspended and closed shops."""
    code = normalize(raw)
    if code is None:
        return None
    row = db.session.execute(
        select(ShopCode, Shop).join(Shop, Shop.id == ShopCode.shop_id).where(ShopCode.code == code)
    ).first()
    return (row[0], row[1]) if row is not None else None


def issue_missing(shop_ids: Iterable[int] | None = None, batch: int = 2000) -> int:
    """Give every shop without an active code one (bulk, for imports and seeds); the count.

    Core statements, not ORM objects (an import issues 50,000 at once): the ids of the shops
    that need a code, the drawn codes already taken, one executemany insert a batch."""
    query = select(Shop.id).where(
        ~select(ShopCode.id)
        .where(ShopCode.shop_id == Shop.id, ShopCode.status == CodeStatus.ACTIVE)
        .exists()
    )
    if shop_ids is not None:
        query = query.where(Shop.id.in_(list(shop_ids)))
    ids = list(db.session.scalars(query.order_by(Shop.id)))
    if ids:
        changes.touch(SHOPS_TOPIC)  # the ORM does not see Core inserts
    for start in range(0, len(ids), batch):
        _bulk_insert(ids[start : start + batch])
    return len(ids)


_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())


def _draw(count: int) -> set[str]:
    """About ``count`` distinct random codes at once: 40 random bits a code, 5 a symbol (as
    ``random_code``, uniform over the 32^8 codes), through base32 and a translation table."""
    text = base64.b32encode(secrets.token_bytes(5 * count)).translate(_BASE32).decode()
    return {text[i : i + CODE_LENGTH] for i in range(0, len(text), CODE_LENGTH)}


def _bulk_insert(shop_ids: list[int]) -> None:
    """One code per shop, drawn against the codes already taken (then retried one by one)."""
    drawn = _draw(len(shop_ids) * 2)
    taken = set(db.session.scalars(select(ShopCode.code).where(ShopCode.code.in_(drawn))))
    free, now, rows = iter(drawn - taken), utcnow(), []
    for shop_id in shop_ids:
        code = next(free, None)
        if code is None:  # pragma: no cover - needs 2x draws with half of them taken
            _insert_code(db.session.get_one(Shop, shop_id))
            continue
        rows.append({"code": code, "shop_id": shop_id, "status": CodeStatus.ACTIVE,
                     "active": True, "issued_at": now})  # fmt: skip
    if rows:
        db.session.execute(insert(ShopCode.__table__), rows)


# -- mini-program codes (optional: WECHAT_WXACODE_ENABLED) ----------------------------------------


@dataclass
class WxacodeRun:
    """What a ``flask shops wxacodes`` batch did."""

    stored: int = 0
    failed: int = 0
    remaining: int = 0
    stopped: str | None = None


def wxacode_key(code: str) -> str:
    """Where a plate code's mini-program code image is stored."""
    return f"shops/wxacode/{code}"


def generate_missing_wxacodes(
    limit: int | None = None,
    on_error: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    checkpoint: Callable[[], None] | None = None,
) -> WxacodeRun:
    """Fetch, store and record mini-program codes for active plate codes without one (paced).
    Flushes; ``checkpoint()`` is called after every 50 stored codes (the command commits there,
    so an interrupted run keeps what it fetched)."""
    cfg = current_app.config
    pending = _pending_wxacodes(limit)
    run, interval = WxacodeRun(), 60.0 / max(1, cfg["WECHAT_WXACODE_PER_MINUTE"])
    for row in pending:
        started = time.monotonic()
        try:
            data = get_wxacode_unlimit(row.code, cfg["WECHAT_WXACODE_PAGE"])
        except Exception as exc:  # WeChatError: count it, stop on rate limits
            errcode = getattr(exc, "errcode", None)
            if errcode in {45009, 45011}:
                run.stopped = f"微信接口调用频率超限（{errcode}），请稍后再运行"
                break
            run.failed += 1
            if on_error:
                on_error(f"{row.code}: errcode={errcode}")
            continue
        get_storage().put(wxacode_key(row.code), data, image_type(data) or "image/png")
        row.wxacode_key = wxacode_key(row.code)
        run.stored += 1
        if run.stored % 50 == 0 and checkpoint is not None:
            checkpoint()
        sleep(max(0.0, interval - (time.monotonic() - started)))
    db.session.flush()
    run.remaining = db.session.scalar(
        _pending_query().with_only_columns(func.count(ShopCode.id)).order_by(None)
    )
    return run


def _pending_wxacodes(limit: int | None) -> list[ShopCode]:
    query = _pending_query()
    return list(db.session.scalars(query.limit(limit) if limit else query))


def _pending_query() -> Select:
    return (
        select(ShopCode)
        .join(Shop, Shop.id == ShopCode.shop_id)
        .where(
            ShopCode.status == CodeStatus.ACTIVE,
            ShopCode.wxacode_key.is_(None),
            Shop.status == ShopStatus.ACTIVE,
        )
        .order_by(ShopCode.id)
    )
