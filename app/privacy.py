"""Personal data under PIPL: where each feature keeps a citizen's data, and how long.

The shell knows no feature. Each feature registers, in its ``init_app``:

- ``add_personal_data(app, name, export=..., erase=...)``: ``export(user)`` returns what the
  feature holds about the citizen as JSON-able data (the "我的数据" page shows it and the
  citizen can download it); ``erase(user)`` deletes or anonymises it inside the caller's
  transaction (records the city keeps, such as reports, stay with the person's data removed)
  and returns how many rows it touched. An erase step may raise ``Conflict`` to refuse the
  deletion (a reward still being paid, say): nothing is deleted then.
- ``add_retention(app, name, purge=...)``: ``purge(cutoff, dry_run)`` removes the photos and
  personal data of records closed before ``cutoff`` (dry run: only counts) and returns the count.
  A purge works in bounded batches and commits each batch itself (it runs from the command line,
  over a city's whole history).

The account deletion (``delete_account``) and the scheduled purge (``purge``, `flask privacy
purge`) run every registered step; docs/privacy.md describes what each feature keeps and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import JSON, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app import audit
from app.auth.models import ApiToken, User, WechatIdentity
from app.db import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.media import privacy as media_privacy
from app.media.models import Media

log = logging.getLogger(__name__)

Export = Callable[[User], Any]
Erase = Callable[[User], int]
Purge = Callable[[datetime, bool], int]


@dataclass(frozen=True)
class PersonalData:
    name: str
    export: Export
    erase: Erase
    label: str = "其他业务数据"  # what the "我的数据" page calls it


@dataclass(frozen=True)
class Retention:
    name: str
    purge: Purge


def add_personal_data(
    app: Flask, name: str, *, export: Export, erase: Erase, label: str | None = None
) -> None:
    """Register a feature's personal data of citizens (see the module docstring); ``label`` is
    the section's name on the citizen's "我的数据" page (Chinese)."""
    step = PersonalData(name, export, erase, label or PersonalData.label)
    app.extensions.setdefault("personal_data", []).append(step)


def add_retention(app: Flask, name: str, *, purge: Purge) -> None:
    """Register a feature's retention purge (see the module docstring)."""
    app.extensions.setdefault("retention", []).append(Retention(name, purge))


def personal_data_steps() -> list[PersonalData]:
    return list(current_app.extensions.get("personal_data", []))


def retention_steps() -> list[Retention]:
    return list(current_app.extensions.get("retention", []))


class AccountDeletion(db.Model):
    """A citizen's account deletion: when, by which request, and what each step touched."""

    __tablename__ = "account_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    steps: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


# ---------------------------------------------------------------- export ("我的数据")


def jsonable(value: Any) -> Any:
    """Exported data as JSON: times in ISO 8601, containers walked."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return value


def export_user(user: User) -> dict[str, Any]:
    """Everything the app holds about a citizen: the account, then each feature's part."""
    sections = {"account": _export_account(user)}
    for step in personal_data_steps():
        sections[step.name] = step.export(user)
    return {"exported_at": utcnow().isoformat(), "sections": jsonable(sections)}


def _export_account(user: User) -> dict[str, Any]:
    identities = db.session.scalars(
        select(WechatIdentity).where(WechatIdentity.user_id == user.id).order_by(WechatIdentity.id)
    )
    photos = db.session.scalars(
        select(Media).where(Media.user_id == user.id).order_by(Media.id)
    ).all()
    return {
        "id": user.id,
        "nickname": user.nickname,
        "phone": user.phone,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "wechat": [
            {"app": i.app_kind.value, "openid": i.openid, "since": i.created_at} for i in identities
        ],  # fmt: skip
        "photos": [
            {
                "id": m.public_id,
                "kind": m.kind,
                "uploaded_at": m.created_at,
                "captured_at": m.captured_at,
            }
            for m in photos
        ],  # fmt: skip
    }


# ---------------------------------------------------------------- deletion ("账号注销")


CONFIRM_PHRASE = "确认注销"


def deletion_for_key(key: str) -> AccountDeletion | None:
    """The deletion an Idempotency-Key already made (a retried request), or None."""
    return db.session.scalar(select(AccountDeletion).where(AccountDeletion.idempotency_key == key))


def delete_account(user: User, key: str, confirm: str) -> tuple[AccountDeletion, bool]:
    """Delete a citizen's account: every feature's erase step, then the account itself
    (identities removed, tokens revoked, personal fields cleared, the row kept inactive for the
    records that point at it). Parallel requests make one deletion: the user row is locked, and
    the ones that waited return the first one's record. Returns (deletion, created)."""
    if confirm != CONFIRM_PHRASE:
        raise ValidationFailed(fields={"confirm": [f"请输入“{CONFIRM_PHRASE}”以确认注销账号"]})
    locked = db.session.scalars(
        select(User).where(User.id == user.id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()  # fmt: skip
    if locked.deleted_at is not None:
        done = db.session.scalars(
            select(AccountDeletion).where(AccountDeletion.user_id == user.id)
            .with_for_update(read=True).execution_options(populate_existing=True)
        ).one()  # fmt: skip
        return done, False
    steps = {step.name: int(step.erase(locked)) for step in personal_data_steps()}
    steps["account"] = _erase_account(locked)
    deletion = AccountDeletion(user_id=locked.id, idempotency_key=key, steps=steps)
    db.session.add(deletion)
    audit.record("citizen.delete_account", "user", locked.id, actor_label="citizen", steps=steps)
    db.session.flush()
    log.info("citizen %s deleted the account: %s", locked.id, steps)
    return deletion, True


def _erase_account(user: User) -> int:
    """The shell's own part: WeChat identities gone (a later sign-in with the same WeChat makes a
    new, empty account), tokens revoked, personal fields cleared, uploads nothing uses deleted."""
    touched = 0
    for identity in db.session.scalars(
        select(WechatIdentity).where(WechatIdentity.user_id == user.id)
    ):
        db.session.delete(identity)
        touched += 1
    touched += db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    user.unionid = user.nickname = user.phone = None
    user.last_login_at = None
    user.is_active = False
    user.deleted_at = utcnow()
    db.session.flush()
    uploads = set(db.session.scalars(select(Media.id).where(Media.user_id == user.id)))
    touched += media_privacy.delete_unreferenced(uploads)
    return touched + 1


# ---------------------------------------------------------------- retention purge


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Records closed before this instant are purged (RETENTION_DAYS)."""
    return (now or utcnow()) - timedelta(days=int(current_app.config["RETENTION_DAYS"]))


def purge(cutoff: datetime, dry_run: bool) -> dict[str, int]:
    """Run every registered retention step; a real run is recorded in the audit log (committed).
    Returns the count of each step."""
    counts = {step.name: int(step.purge(cutoff, dry_run)) for step in retention_steps()}
    if not dry_run:
        audit.record("privacy.purge", "retention", cutoff.date().isoformat(), actor_label="cli",
                     cutoff=cutoff.isoformat(), counts=counts)  # fmt: skip
        db.session.commit()
    log.info("retention purge before %s%s: %s", cutoff.isoformat(),
             " (dry run)" if dry_run else "", counts)  # fmt: skip
    return counts
