"""Public-opinion watch: storing what the fetcher found (deduplicated, judged for relevance), the
observers' actions on an item, the sources and keyword lists, and the yearly and monthly counts.

Services flush, never commit. Every action on an item first reads it with a row lock
(``SELECT ... FOR UPDATE``; SQLite serialises writers anyway), so of two clicks or parallel
requests the second sees what the first did: 转为案件 twice gives one case (the second answer
names it), and repeating any action with the same content changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from app.auth.models import StaffUser
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import db
from reports import reference
from reports import service as reports_service
from reports.models import Channel, Report
from reports.opinion.models import (
    ItemState,
    OpinionItem,
    OpinionKeyword,
    OpinionSource,
    Satisfaction,
    SourceKind,
)
from reports.opinion.parse import ParseError, Post, matcher

log = logging.getLogger(__name__)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
OWNER_KEY = "opinion"  # the idempotency-key owner of cases made from posts
INCLUDE, EXCLUDE = "include", "exclude"


# ---------------------------------------------------------------- finding posts


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalized(title: str, body: str) -> str:
    """The post's words without spacing, punctuation or width and case differences: the same
    post copied to another board (or re-posted with other spacing) has the same content hash."""
    text = unicodedata.normalize("NFKC", f"{title}\n{body}").lower()
    return re.sub(r"[\W_]+", "", text)


def keyword_lists() -> tuple[list[str], list[str]]:
    """(include, exclude) keywords of the relevance filter."""
    rows = db.session.execute(select(OpinionKeyword.kind, OpinionKeyword.word)).all()
    return ([w for k, w in rows if k == INCLUDE], [w for k, w in rows if k == EXCLUDE])


@dataclass
class Verdict:
    relevant: bool
    category: str | None
    confidence: float | None
    keywords: list[str]


def judge_many(texts: Sequence[str]) -> list[Verdict]:
    """Relevance of each text: an exclude keyword makes it irrelevant; else an include keyword
    or the classifier's calibrated confidence at or above OPINION_RELEVANCE_THRESHOLD makes it
    relevant. The classifier's category is kept as the suggestion either way."""
    # scikit-learn and jieba load on the first classification, not when the module is imported
    from reports import classifier

    if not texts:
        return []
    include, exclude = keyword_lists()
    threshold = current_app.config["OPINION_RELEVANCE_THRESHOLD"]
    suggestions = classifier.get_model(current_app).predict_many(list(texts), k=1)
    verdicts = []
    for text, found in zip(texts, suggestions, strict=True):
        best = found[0] if found else None
        code, confidence = (best.code, round(best.confidence, 4)) if best else (None, None)
        hits = [w for w in include if w in text]
        excluded = [w for w in exclude if w in text]
        relevant = not excluded and (bool(hits) or (confidence or 0) >= threshold)
        verdicts.append(Verdict(relevant, code, confidence, excluded or hits))
    return verdicts


def store_posts(source: OpinionSource, posts: Sequence[Post]) -> int:
    """Keep the posts not seen before (same guid or link on this source, or the same content on
    any source); returns how many were new. Relevant ones wait in the queue."""
    fresh: dict[str, tuple[Post, str, str]] = {}
    for post in posts:
        content = digest(normalized(post.title, post.body))
        fresh.setdefault(content, (post, digest(post.guid), content))
    if not fresh:
        return 0
    guids = [g for _, g, _ in fresh.values()]
    seen = set(
        db.session.scalars(
            select(OpinionItem.guid_hash).where(
                OpinionItem.source_id == source.id, OpinionItem.guid_hash.in_(guids)
            )
        )
    )
    seen_content = set(
        db.session.scalars(
            select(OpinionItem.content_hash).where(OpinionItem.content_hash.in_(list(fresh)))
        )
    )
    todo = [(p, g, c) for p, g, c in fresh.values() if g not in seen and c not in seen_content]
    verdicts = judge_many([f"{p.title} {p.body}" for p, _, _ in todo])
    added = 0
    for (post, guid_hash, content_hash), verdict in zip(todo, verdicts, strict=True):
        item = OpinionItem(
            source_id=source.id,
            guid_hash=guid_hash,
            content_hash=content_hash,
            guid=post.guid,
            link=post.link,
            title=post.title,
            body=post.body,
            author=post.author,
            published_at=post.published_at,
            found_at=utcnow(),
            relevant=verdict.relevant,
            suggested_category=verdict.category,
            confidence=verdict.confidence,
            keywords=verdict.keywords or None,
            state=ItemState.PENDING if verdict.relevant else ItemState.IRRELEVANT,
        )
        try:
            with db.session.begin_nested():  # another worker may store the same post meanwhile
                db.session.add(item)
        except IntegrityError:
            continue
        added += 1
    db.session.flush()
    return added


# ---------------------------------------------------------------- the observers' actions


def item_by_id(item_id: int, *, lock: bool = False) -> OpinionItem:
    """The item (read with a row lock for an action), or 404."""
    query = select(OpinionItem).where(OpinionItem.id == item_id)
    if lock:
        query = query.with_for_update()
    item = db.session.scalars(query.execution_options(populate_existing=True)).first()
    if item is None:
        raise NotFound("未找到该舆情信息", code="opinion_item_not_found")
    return item


@dataclass
class CaseRequest:
    """What the observer gives when turning a post into a case."""

    description: str
    address: str | None = None
    lat: float | None = None
    lng: float | None = None
    coord_sys: str = "gcj02"
    category: str | None = None


def case_description(item: OpinionItem, text: str) -> str:
    """The case text: the observer's, then where the post was (the case page links to it)."""
    return f"{text.strip()}\n（来源：网络舆情·{item.source.name}《{item.title[:60]}》）"


def to_case(item_id: int, staff: StaffUser, req: CaseRequest) -> tuple[OpinionItem, bool]:
    """Turn the post into a case (channel 网络舆情) linked to it; (item, created). Done once:
    a repeat (a double click, a parallel request) answers with the case made the first time."""
    item = item_by_id(item_id, lock=True)
    if item.state == ItemState.CASE:
        return item, False
    if not (req.address or "").strip() and (req.lat is None or req.lng is None):
        raise ValidationFailed(fields={"address": ["请填写问题发生的地址，或在地图上选择位置"]})
    sub = reports_service.Submission(
        description=case_description(item, req.description),
        channel=Channel.OPINION,
        lat=req.lat,
        lng=req.lng,
        coord_sys=req.coord_sys,
        address=(req.address or "").strip() or None,
        category_code=req.category or None,
        photos_required=False,
        idempotency_key=f"item-{item.id}",
    )
    report, created = reports_service.submit_report(sub, owner_key=OWNER_KEY, staff=staff)
    item.state = ItemState.CASE
    item.report_id = report.id
    item.case_number = report.number
    item.district_code = report.district_code
    item.decided_by_id, item.decided_at = staff.id, utcnow()
    db.session.flush()
    log.info("opinion item %s -> case %s by staff %s", item.id, report.number, staff.id)
    return item, created


def mark_irrelevant(item_id: int, staff: StaffUser, note: str | None) -> OpinionItem:
    """标记无关 (again: nothing changes); 409 once it is a case."""
    item = item_by_id(item_id, lock=True)
    if item.state == ItemState.CASE:
        raise Conflict(
            f"该信息已转为案件（编号{item.case_number}），不能再标记为无关",
            code="opinion_already_case",
        )
    if item.state == ItemState.IRRELEVANT and item.decided_by_id is not None:
        return item
    item.state = ItemState.IRRELEVANT
    item.note = (note or "").strip() or None
    item.decided_by_id, item.decided_at = staff.id, utcnow()
    db.session.flush()
    return item


def record_reply(item_id: int, staff: StaffUser, text: str, at: datetime | None) -> OpinionItem:
    """答复: what was answered on the board, and when; once (the same again changes nothing)."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(fields={"text": ["请填写答复内容"]})
    item = item_by_id(item_id, lock=True)
    if item.state != ItemState.CASE:
        raise Conflict("请先将该信息转为案件，再记录答复", code="opinion_not_case")
    if item.reply_text is not None:
        if item.reply_text == text:
            return item
        raise Conflict("该信息已记录答复", code="opinion_already_replied")
    at = _past_or_now(at, "replied_at")
    item.reply_text, item.replied_at, item.replied_by_id = text, at, staff.id
    db.session.flush()
    return item


def record_followup(
    item_id: int, staff: StaffUser, result: str, satisfaction: Satisfaction
) -> OpinionItem:
    """回访: the poster's answer after the reply; once (the same again changes nothing)."""
    result = (result or "").strip()
    if not result:
        raise ValidationFailed(fields={"result": ["请填写回访情况"]})
    item = item_by_id(item_id, lock=True)
    if item.reply_text is None:
        raise Conflict("请先记录答复，再记录回访", code="opinion_not_replied")
    if item.followup_result is not None:
        if (item.followup_result, item.satisfaction) == (result, satisfaction):
            return item
        raise Conflict("该信息已记录回访", code="opinion_already_followed_up")
    item.followup_result, item.satisfaction = result[:500], satisfaction
    item.followed_up_at, item.followed_up_by_id = utcnow(), staff.id
    db.session.flush()
    return item


def _past_or_now(at: datetime | None, field: str) -> datetime:
    now = utcnow()
    if at is None:
        return now
    at = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)
    if at > now:
        raise ValidationFailed(fields={field: ["时间不能晚于现在"]})
    return at.astimezone(UTC)


def post_for_report(report_id: int) -> OpinionItem | None:
    """The post a 网络舆情 case was made from (the case page shows it)."""
    return db.session.scalar(select(OpinionItem).where(OpinionItem.report_id == report_id))


def post_for_case(number: str) -> dict[str, Any] | None:
    """What the case page shows of the post a 网络舆情 case was made from (None for others):
    source, title, link, time, reply and follow-up."""
    item = db.session.scalar(
        select(OpinionItem)
        .join(Report, Report.id == OpinionItem.report_id)
        .where(Report.number == number)
    )
    if item is None:
        return None
    return {
        "id": item.id,
        "source": item.source.name,
        "title": item.title,
        "link": item.link,
        "author": item.author,
        "published_at": item.published_at,
        "found_at": item.found_at,
        "replied": item.reply_text is not None,
        "reply_text": item.reply_text,
        "satisfaction_label": item.satisfaction.label if item.satisfaction else None,
    }


# ---------------------------------------------------------------- sources and keywords


def check_source(kind: SourceKind, url: str, rule: dict | None) -> dict | None:
    """422 unless the URL is http(s) and a page source has its item and title selectors."""
    if not re.match(r"^https?://[^\s/]+", url or ""):
        raise ValidationFailed(fields={"url": ["请填写完整的网址（以 HTTP:// 或 HTTPS:// 开头）"]})
    if kind != SourceKind.PAGE:
        return None
    rule = {k: str(v).strip() for k, v in (rule or {}).items() if v and str(v).strip()}
    if not rule.get("item") or not rule.get("title"):
        raise ValidationFailed(fields={"rule": ["网页来源需要填写条目和标题的选择器"]})
    for key, spec in rule.items():
        selector = spec.partition("@")[0]
        if selector:
            try:
                matcher(selector)
            except ParseError as exc:
                raise ValidationFailed(fields={"rule": [str(exc)]}) from None
        if key not in {"item", "title", "link", "date", "body", "author"}:
            raise ValidationFailed(
                fields={"rule": ["提取规则只能包含条目、标题、链接、时间、正文和作者"]}
            )
    return rule


def save_source(source: OpinionSource | None, data: dict[str, Any]) -> OpinionSource:
    """Create a source, or change one (a changed URL or rule forgets the ETag)."""
    kind = SourceKind(data.get("kind", source.kind if source else "rss"))
    url = data.get("url", source.url if source else "")
    rule = check_source(kind, url, data.get("rule") or (source.rule if source else None))
    name = data.get("name", source.name if source else "").strip()
    if not name:
        raise ValidationFailed(fields={"name": ["请填写来源名称"]})
    clash = db.session.scalar(
        select(OpinionSource.id).where(
            OpinionSource.name == name, OpinionSource.id != (source.id if source else 0)
        )
    )
    if clash:
        raise Conflict(
            "已有同名的来源", code="opinion_source_exists", fields={"name": ["已有同名的来源"]}
        )
    if source is None:
        source = OpinionSource(name=name, kind=kind, url=url, rule=rule)
        db.session.add(source)
    elif (kind, url, rule) != (source.kind, source.url, source.rule):
        source.etag = source.last_modified = None
        source.next_fetch_at = None
    source.name, source.kind, source.url, source.rule = name, kind, url, rule
    if "is_active" in data:
        source.is_active = data["is_active"]
    if "interval_minutes" in data:
        source.interval_minutes = data["interval_minutes"]
    db.session.flush()
    return source


def fetch_soon(source: OpinionSource) -> None:
    """立即抓取: due at the worker's next round (and its error count forgiven)."""
    source.next_fetch_at = None
    source.error_count = 0
    db.session.flush()


def set_keywords(include: Sequence[str], exclude: Sequence[str]) -> tuple[list[str], list[str]]:
    """Replace both keyword lists (words trimmed, deduplicated, order kept)."""

    def clean(words: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(w.strip()[:32] for w in words if w and w.strip()))

    include, exclude = clean(include), clean(exclude)
    both = set(include) & set(exclude)
    if both:
        words = "、".join(sorted(both))
        raise Conflict(
            f"同一个词不能同时在两个列表中：{words}",
            code="opinion_keyword_in_both",
            fields={"exclude": [f"同一个词不能同时在两个列表中：{words}"]},
        )
    db.session.execute(delete(OpinionKeyword))
    db.session.add_all(
        [OpinionKeyword(kind=INCLUDE, word=w) for w in include]
        + [OpinionKeyword(kind=EXCLUDE, word=w) for w in exclude]
    )
    db.session.flush()
    return include, exclude


# ---------------------------------------------------------------- counts

COUNTED = ("found", "relevant", "cases", "replied", "followed_up")


def local_year() -> int:
    return utcnow().astimezone(LOCAL_TZ).year


def _local(at: datetime | None) -> datetime | None:
    return at.astimezone(LOCAL_TZ) if at else None


def counts(year: int) -> dict[str, Any]:
    """Items found, relevant, turned into cases, replied and followed up per month of ``year``
    (local time), each counted in the month it happened; and the totals of every year."""
    start = datetime(year, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
    columns = (
        OpinionItem.found_at,
        OpinionItem.decided_at,
        OpinionItem.replied_at,
        OpinionItem.followed_up_at,
    )
    rows = db.session.execute(
        select(
            OpinionItem.found_at,
            OpinionItem.relevant,
            OpinionItem.state,
            OpinionItem.decided_at,
            OpinionItem.replied_at,
            OpinionItem.followed_up_at,
        ).where(or_(*[c.between(start, end) for c in columns]))
    ).all()
    months = [{"month": m, **dict.fromkeys(COUNTED, 0)} for m in range(1, 13)]

    def add(at: datetime | None, key: str) -> None:
        local = _local(at)
        if local is not None and local.year == year:
            months[local.month - 1][key] += 1

    for found, relevant, state, decided, replied, followed in rows:
        add(found, "found")
        if relevant or state == ItemState.CASE:
            add(found, "relevant")
        if state == ItemState.CASE:
            add(decided, "cases")
        add(replied, "replied")
        add(followed, "followed_up")
    total = {key: sum(m[key] for m in months) for key in COUNTED}
    return {"year": year, "months": months, "total": total, "years": yearly()}


def yearly() -> list[dict[str, Any]]:
    """Every year's totals, newest first (the table is small: read once, counted here)."""
    rows = db.session.execute(
        select(
            OpinionItem.found_at,
            OpinionItem.relevant,
            OpinionItem.state,
            OpinionItem.decided_at,
            OpinionItem.replied_at,
            OpinionItem.followed_up_at,
        )
    ).all()
    years: dict[int, dict[str, int]] = {}

    def add(at: datetime | None, key: str) -> None:
        local = _local(at)
        if local is not None:
            years.setdefault(local.year, dict.fromkeys(COUNTED, 0))[key] += 1

    for found, relevant, state, decided, replied, followed in rows:
        add(found, "found")
        if relevant or state == ItemState.CASE:
            add(found, "relevant")
        if state == ItemState.CASE:
            add(decided, "cases")
        add(replied, "replied")
        add(followed, "followed_up")
    return [{"year": y, **years[y]} for y in sorted(years, reverse=True)]


def category_name(code: str | None) -> str | None:
    category = reference.category_by_code(code) if code else None
    return category.name if category else None
