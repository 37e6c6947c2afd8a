"""Public-opinion watch (舆情): the sources watched, the posts found there and the keyword lists.

A source is data (a feed or a complaint board's page with its extraction rule); the worker fetches
the due ones with conditional GET (reports.opinion.fetcher). Each post found once (by its guid or
link within the source, and by its normalised content across sources) becomes an item: relevant
ones wait in the observers' queue, the rest are kept as irrelevant (visible under a filter). An
observer turns an item into a case (channel 网络舆情), marks it irrelevant, records the reply
posted on the board (答复) and the follow-up with the poster (回访).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import StaffUser
from app.db import enum_column, utcnow
from app.extensions import db


class SourceKind(enum.StrEnum):
    """How a source is read."""

    RSS = "rss"
    ATOM = "atom"
    JSON = "json"  # JSON Feed 1.x
    PAGE = "page"  # an HTML page read with the source's extraction rule

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    SourceKind.RSS: "RSS 订阅",
    SourceKind.ATOM: "Atom 订阅",
    SourceKind.JSON: "JSON 订阅",
    SourceKind.PAGE: "网页（按规则提取）",
}


class ItemState(enum.StrEnum):
    """Where a post stands in the observers' queue."""

    PENDING = "pending"  # 待处理: relevant, waiting for an observer
    CASE = "case"  # 已转案件
    IRRELEVANT = "irrelevant"  # 无关 (by the filter, or marked by an observer)

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    ItemState.PENDING: "待处理",
    ItemState.CASE: "已转案件",
    ItemState.IRRELEVANT: "无关",
}


class Satisfaction(enum.StrEnum):
    """The poster's answer at the follow-up (回访)."""

    SATISFIED = "satisfied"
    BASIC = "basic"
    DISSATISFIED = "dissatisfied"
    UNREACHABLE = "unreachable"

    @property
    def label(self) -> str:
        return SATISFACTION_LABELS[self]


SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASIC: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
    Satisfaction.UNREACHABLE: "未能联系到发帖人",
}


class OpinionSource(db.Model):
    """A watched site: a feed or a board page, fetched every ``interval_minutes``."""

    __tablename__ = "opinion_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind, 8))
    url: Mapped[str] = mapped_column(String(500))
    # For pages: {"item", "title", "link", "date", "body"} simple selectors (tag, .class,
    # tag.class, #id; "sel@attr" reads an attribute), see reports.opinion.parse.
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(default=True)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=30)
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    next_fetch_at: Mapped[datetime | None] = mapped_column(index=True)
    last_fetched_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(16))  # ok | not_modified | error
    last_error: Mapped[str | None] = mapped_column(String(500))  # in Chinese: staff read it
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    items_found: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class OpinionKeyword(db.Model):
    """A keyword of the relevance filter: ``include`` makes a post relevant, ``exclude``
    irrelevant whatever the classifier says."""

    __tablename__ = "opinion_keywords"
    __table_args__ = (UniqueConstraint("kind", "word"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # include | exclude
    word: Mapped[str] = mapped_column(String(32))


class OpinionItem(db.Model):
    """A post found on a source, and what the observers did with it."""

    __tablename__ = "opinion_items"
    __table_args__ = (
        UniqueConstraint("source_id", "guid_hash"),
        Index("ix_opinion_items_state_found", "state", "found_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("opinion_sources.id"), index=True)
    guid_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the guid (or link)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)  # across sources
    guid: Mapped[str] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None]
    found_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    # The filter's verdict: the classifier's suggestion and calibrated confidence, keywords hit.
    relevant: Mapped[bool] = mapped_column(default=False)
    suggested_category: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None] = mapped_column(Double)
    keywords: Mapped[list[str] | None] = mapped_column(JSON)

    state: Mapped[ItemState] = mapped_column(enum_column(ItemState, 16))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), unique=True)
    case_number: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(32))

    reply_text: Mapped[str | None] = mapped_column(Text)  # 答复内容, as posted on the board
    replied_at: Mapped[datetime | None] = mapped_column(index=True)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    followup_result: Mapped[str | None] = mapped_column(String(500))  # 回访情况
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_column(Satisfaction, 16))
    followed_up_at: Mapped[datetime | None]
    followed_up_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    version: Mapped[int] = mapped_column(default=1)

    source: Mapped[OpinionSource] = relationship()
    decided_by: Mapped[StaffUser | None] = relationship(foreign_keys=[decided_by_id])
    replied_by: Mapped[StaffUser | None] = relationship(foreign_keys=[replied_by_id])
    followed_up_by: Mapped[StaffUser | None] = relationship(foreign_keys=[followed_up_by_id])

    __mapper_args__ = {"version_id_col": version}
